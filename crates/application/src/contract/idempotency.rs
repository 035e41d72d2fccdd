//! [`IdempotencyStore`]: reservations, stored outcomes, expiry.
//!
//! Expiry is checked against the `now` arguments, never the wall clock: an adapter whose
//! backend expires keys on its own (Redis `PX`) must also compare the stored deadline with `now`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::fixtures::*;
use crate::ports::{IdempotencyStore, Reservation, StoredResponse};

const TTL: Duration = Duration::from_secs(30);
const RETENTION: Duration = Duration::from_secs(24 * 3600);

async fn reserve(
    store: &dyn IdempotencyStore,
    scope: &str,
    key: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Reservation {
    store.reserve(scope, &idempotency_key(key), &fingerprint(body), now, TTL).await.expect("reserve")
}

fn response(body: &str) -> StoredResponse {
    StoredResponse { fingerprint: fingerprint(body), body: format!("{{\"status\":202,\"for\":\"{body}\"}}") }
}

async fn complete(store: &dyn IdempotencyStore, scope: &str, key: &str, body: &str, now: DateTime<Utc>) {
    store.complete(scope, &idempotency_key(key), response(body), now, RETENTION).await.expect("complete");
}

/// A free key is `Reserved`; while held, any request with it gets `InFlight` with the
/// holder's fingerprint.
pub async fn reserve_takes_a_free_key_and_reports_it_in_flight(store: &dyn IdempotencyStore) {
    assert_eq!(reserve(store, "shop", "k-1", "first", at(0)).await, Reservation::Reserved, "a free key");
    let again = reserve(store, "shop", "k-1", "first", at(1)).await;
    assert_eq!(again, Reservation::InFlight { fingerprint: fingerprint("first") }, "the same request again");
    let other = reserve(store, "shop", "k-1", "second", at(2)).await;
    assert_eq!(
        other,
        Reservation::InFlight { fingerprint: fingerprint("first") },
        "the holder's fingerprint"
    );
}

/// After complete, reserving the key returns the stored response (for any fingerprint).
pub async fn a_completed_key_returns_its_stored_response(store: &dyn IdempotencyStore) {
    reserve(store, "shop", "k-1", "first", at(0)).await;
    complete(store, "shop", "k-1", "first", at(1)).await;
    let replay = reserve(store, "shop", "k-1", "first", at(2)).await;
    assert_eq!(replay, Reservation::Completed(response("first")), "the stored outcome is replayed");
    let reuse = reserve(store, "shop", "k-1", "other", at(3)).await;
    assert_eq!(reuse, Reservation::Completed(response("first")), "whatever the new request's fingerprint");
}

/// Release frees an in-flight key so the caller can retry.
pub async fn release_frees_an_in_flight_key(store: &dyn IdempotencyStore) {
    reserve(store, "shop", "k-1", "first", at(0)).await;
    store.release("shop", &idempotency_key("k-1")).await.expect("release");
    assert_eq!(reserve(store, "shop", "k-1", "retry", at(1)).await, Reservation::Reserved, "free again");
    store.release("shop", &idempotency_key("never-reserved")).await.expect("releasing a free key is fine");
}

/// Release does not drop a completed key's stored response.
pub async fn release_keeps_a_completed_key(store: &dyn IdempotencyStore) {
    reserve(store, "shop", "k-1", "first", at(0)).await;
    complete(store, "shop", "k-1", "first", at(1)).await;
    store.release("shop", &idempotency_key("k-1")).await.expect("release");
    let replay = reserve(store, "shop", "k-1", "first", at(2)).await;
    assert_eq!(replay, Reservation::Completed(response("first")), "the completed outcome survives release");
}

/// A reservation whose holder died is free again once `in_flight_ttl` has passed.
pub async fn a_reservation_expires_after_its_in_flight_ttl(store: &dyn IdempotencyStore) {
    reserve(store, "shop", "k-1", "first", at(0)).await;
    let held = reserve(store, "shop", "k-1", "second", at(29)).await;
    assert_eq!(held, Reservation::InFlight { fingerprint: fingerprint("first") }, "held within the TTL");
    let expired = reserve(store, "shop", "k-1", "second", at(31)).await;
    assert_eq!(expired, Reservation::Reserved, "free after the 30 s TTL");
    let new_holder = reserve(store, "shop", "k-1", "third", at(32)).await;
    assert_eq!(
        new_holder,
        Reservation::InFlight { fingerprint: fingerprint("second") },
        "held by the new request"
    );
}

/// A completed outcome is kept for `retention` (not for the shorter in-flight TTL), then the
/// key is free.
pub async fn a_completed_key_expires_after_its_retention(store: &dyn IdempotencyStore) {
    reserve(store, "shop", "k-1", "first", at(0)).await;
    complete(store, "shop", "k-1", "first", at(10)).await;
    let kept = reserve(store, "shop", "k-1", "first", at(10 + 24 * 3600 - 1)).await;
    assert_eq!(kept, Reservation::Completed(response("first")), "kept for the whole retention");
    let expired = reserve(store, "shop", "k-1", "first", at(10 + 24 * 3600 + 1)).await;
    assert_eq!(expired, Reservation::Reserved, "free after the retention");
}

/// Keys are namespaced by scope, and distinct keys are independent.
pub async fn scopes_and_keys_are_independent(store: &dyn IdempotencyStore) {
    reserve(store, "shop", "k-1", "first", at(0)).await;
    assert_eq!(
        reserve(store, "billing", "k-1", "b", at(1)).await,
        Reservation::Reserved,
        "same key, other scope"
    );
    assert_eq!(
        reserve(store, "shop", "k-2", "c", at(1)).await,
        Reservation::Reserved,
        "other key, same scope"
    );

    complete(store, "shop", "k-1", "first", at(2)).await;
    let billing = reserve(store, "billing", "k-1", "x", at(3)).await;
    assert_eq!(billing, Reservation::InFlight { fingerprint: fingerprint("b") }, "completing one scope");
    store.release("billing", &idempotency_key("k-1")).await.expect("release");
    let shop = reserve(store, "shop", "k-1", "first", at(4)).await;
    assert_eq!(shop, Reservation::Completed(response("first")), "releasing in one scope leaves the other");
}
