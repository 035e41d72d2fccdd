//! [`IdempotencyStore`]: reservations, stored outcomes, expiry.
//!
//! Expiry is checked against the `now` arguments, never the wall clock: an adapter whose
//! backend expires keys on its own (Redis `PX`) must also compare the stored deadline with `now`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::fixtures::*;
use crate::ports::{Completion, IdempotencyStore, Reservation, ReservationToken, StoredResponse};

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

/// The token of a `Reserved` answer; panics with `what` otherwise.
fn held(reservation: Reservation, what: &str) -> ReservationToken {
    match reservation {
        Reservation::Reserved { token } => token,
        other => panic!("{what}: expected Reserved, got {other:?}"),
    }
}

async fn complete(
    store: &dyn IdempotencyStore,
    scope: &str,
    key: &str,
    token: ReservationToken,
    body: &str,
    now: DateTime<Utc>,
) -> Completion {
    store
        .complete(scope, &idempotency_key(key), token, response(body), now, RETENTION)
        .await
        .expect("complete")
}

async fn release(store: &dyn IdempotencyStore, scope: &str, key: &str, token: ReservationToken) {
    store.release(scope, &idempotency_key(key), token).await.expect("release");
}

/// A free key is `Reserved`; while held, any request with it gets `InFlight` with the
/// holder's fingerprint.
pub async fn reserve_takes_a_free_key_and_reports_it_in_flight(store: &dyn IdempotencyStore) {
    held(reserve(store, "shop", "k-1", "first", at(0)).await, "a free key");
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
    let token = held(reserve(store, "shop", "k-1", "first", at(0)).await, "a free key");
    assert_eq!(complete(store, "shop", "k-1", token, "first", at(1)).await, Completion::Stored, "the holder");
    let replay = reserve(store, "shop", "k-1", "first", at(2)).await;
    assert_eq!(replay, Reservation::Completed(response("first")), "the stored outcome is replayed");
    let reuse = reserve(store, "shop", "k-1", "other", at(3)).await;
    assert_eq!(reuse, Reservation::Completed(response("first")), "whatever the new request's fingerprint");
}

/// Release frees an in-flight key so the caller can retry; releasing a free key is fine.
pub async fn release_frees_an_in_flight_key(store: &dyn IdempotencyStore) {
    let token = held(reserve(store, "shop", "k-1", "first", at(0)).await, "a free key");
    release(store, "shop", "k-1", token).await;
    held(reserve(store, "shop", "k-1", "retry", at(1)).await, "free again");
    release(store, "shop", "never-reserved", token).await;
}

/// Release does not drop a completed key's stored response.
pub async fn release_keeps_a_completed_key(store: &dyn IdempotencyStore) {
    let token = held(reserve(store, "shop", "k-1", "first", at(0)).await, "a free key");
    complete(store, "shop", "k-1", token, "first", at(1)).await;
    release(store, "shop", "k-1", token).await;
    let replay = reserve(store, "shop", "k-1", "first", at(2)).await;
    assert_eq!(replay, Reservation::Completed(response("first")), "the completed outcome survives release");
}

/// A reservation whose holder died is free again once `in_flight_ttl` has passed.
pub async fn a_reservation_expires_after_its_in_flight_ttl(store: &dyn IdempotencyStore) {
    reserve(store, "shop", "k-1", "first", at(0)).await;
    let in_ttl = reserve(store, "shop", "k-1", "second", at(29)).await;
    assert_eq!(in_ttl, Reservation::InFlight { fingerprint: fingerprint("first") }, "held within the TTL");
    held(reserve(store, "shop", "k-1", "second", at(31)).await, "free after the 30 s TTL");
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
    let token = held(reserve(store, "shop", "k-1", "first", at(0)).await, "a free key");
    complete(store, "shop", "k-1", token, "first", at(10)).await;
    let kept = reserve(store, "shop", "k-1", "first", at(10 + 24 * 3600 - 1)).await;
    assert_eq!(kept, Reservation::Completed(response("first")), "kept for the whole retention");
    held(reserve(store, "shop", "k-1", "first", at(10 + 24 * 3600 + 1)).await, "free after the retention");
}

/// Keys are namespaced by scope, and distinct keys are independent.
pub async fn scopes_and_keys_are_independent(store: &dyn IdempotencyStore) {
    let shop = held(reserve(store, "shop", "k-1", "first", at(0)).await, "a free key");
    let billing = held(reserve(store, "billing", "k-1", "b", at(1)).await, "same key, other scope");
    held(reserve(store, "shop", "k-2", "c", at(1)).await, "other key, same scope");

    complete(store, "shop", "k-1", shop, "first", at(2)).await;
    let other_scope = reserve(store, "billing", "k-1", "x", at(3)).await;
    assert_eq!(other_scope, Reservation::InFlight { fingerprint: fingerprint("b") }, "completing one scope");
    release(store, "billing", "k-1", billing).await;
    let replay = reserve(store, "shop", "k-1", "first", at(4)).await;
    assert_eq!(replay, Reservation::Completed(response("first")), "releasing in one scope leaves the other");
}

/// Each reservation gets its own token, and a release by a holder whose reservation expired
/// (and was taken by a newer request) leaves the newer holder's reservation in place.
pub async fn release_by_an_expired_holder_leaves_the_new_holders_reservation(store: &dyn IdempotencyStore) {
    let stale = held(reserve(store, "shop", "k-1", "first", at(0)).await, "a free key");
    let fresh = held(reserve(store, "shop", "k-1", "second", at(31)).await, "free after the 30 s TTL");
    assert_ne!(stale, fresh, "two reservations of one key get different tokens");

    release(store, "shop", "k-1", stale).await;
    let still = reserve(store, "shop", "k-1", "third", at(32)).await;
    assert_eq!(
        still,
        Reservation::InFlight { fingerprint: fingerprint("second") },
        "the stale holder's release left the new reservation"
    );
    release(store, "shop", "k-1", fresh).await;
    held(reserve(store, "shop", "k-1", "third", at(33)).await, "the new holder's own release frees it");
}

/// A holder whose reservation is no longer held at `now` cannot complete: not after it
/// expired, not over a newer holder's reservation, not over a newer holder's outcome.
pub async fn complete_by_a_stale_holder_does_not_overwrite(store: &dyn IdempotencyStore) {
    let stale = held(reserve(store, "shop", "k-1", "first", at(0)).await, "a free key");
    assert_eq!(
        complete(store, "shop", "k-1", stale, "first", at(30)).await,
        Completion::Lost,
        "a reservation is no longer held once its TTL has passed"
    );
    held(reserve(store, "shop", "k-1", "nobody", at(30)).await, "a lost completion stored nothing");

    let stale = held(reserve(store, "shop", "k-1", "first", at(100)).await, "free after the TTL");
    let fresh = held(reserve(store, "shop", "k-1", "second", at(131)).await, "free after the TTL");
    assert_eq!(
        complete(store, "shop", "k-1", stale, "first", at(132)).await,
        Completion::Lost,
        "stale holder"
    );
    let in_flight = reserve(store, "shop", "k-1", "third", at(133)).await;
    assert_eq!(
        in_flight,
        Reservation::InFlight { fingerprint: fingerprint("second") },
        "the new holder's reservation is untouched"
    );

    assert_eq!(complete(store, "shop", "k-1", fresh, "second", at(134)).await, Completion::Stored);
    assert_eq!(
        complete(store, "shop", "k-1", stale, "first", at(135)).await,
        Completion::Lost,
        "stale holder after the new one completed"
    );
    assert_eq!(
        complete(store, "shop", "k-1", fresh, "second", at(136)).await,
        Completion::Lost,
        "a completed key is no longer held in flight"
    );
    let replay = reserve(store, "shop", "k-1", "first", at(137)).await;
    assert_eq!(replay, Reservation::Completed(response("second")), "the new holder's outcome is kept");
}
