use std::sync::Arc;

use chrono::TimeZone;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 3, 0, 0).single().expect("valid instant")
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(seconds)
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).expect("valid key")
}

fn fp(n: u8) -> Fingerprint {
    Fingerprint::from_hex(&format!("{n:064x}")).expect("64 hex digits")
}

fn response(n: u8, body: &str) -> StoredResponse {
    StoredResponse { fingerprint: fp(n), body: body.to_owned() }
}

/// The token of a `Reserved` answer.
fn token(reservation: Reservation) -> ReservationToken {
    reservation.token().unwrap_or_else(|| panic!("expected Reserved, got {reservation:?}"))
}

const TTL: Duration = Duration::from_secs(60);
const RETENTION: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn a_free_key_is_reserved_and_then_reported_in_flight_with_the_holders_fingerprint() {
    let store = MemoryIdempotencyStore::new();
    token(store.reserve("caller", &key("k1"), &fp(1), t0(), TTL).await.unwrap());
    assert_eq!(
        store.reserve("caller", &key("k1"), &fp(2), at(1), TTL).await.unwrap(),
        Reservation::InFlight { fingerprint: fp(1) }
    );
}

#[tokio::test]
async fn a_completed_key_replays_the_stored_response() {
    let store = MemoryIdempotencyStore::new();
    let t = token(store.reserve("caller", &key("k1"), &fp(1), t0(), TTL).await.unwrap());
    store.complete("caller", &key("k1"), t, response(1, "{\"id\":1}"), at(1), RETENTION).await.unwrap();
    assert_eq!(
        store.reserve("caller", &key("k1"), &fp(1), at(2), TTL).await.unwrap(),
        Reservation::Completed(response(1, "{\"id\":1}"))
    );
}

#[tokio::test]
async fn an_in_flight_reservation_expires_exactly_after_its_ttl() {
    let store = MemoryIdempotencyStore::new();
    store.reserve("caller", &key("k1"), &fp(1), t0(), TTL).await.unwrap();
    let just_before = t0() + TimeDelta::milliseconds(59_999);
    assert!(matches!(
        store.reserve("caller", &key("k1"), &fp(2), just_before, TTL).await.unwrap(),
        Reservation::InFlight { .. }
    ));
    token(store.reserve("caller", &key("k1"), &fp(2), at(60), TTL).await.unwrap());
    assert_eq!(
        store.reserve("caller", &key("k1"), &fp(3), at(61), TTL).await.unwrap(),
        Reservation::InFlight { fingerprint: fp(2) }
    );
}

#[tokio::test]
async fn a_completed_key_is_forgotten_after_its_retention() {
    let store = MemoryIdempotencyStore::new();
    let t = token(store.reserve("caller", &key("k1"), &fp(1), t0(), TTL).await.unwrap());
    store
        .complete("caller", &key("k1"), t, response(1, "first"), t0(), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(matches!(
        store.reserve("caller", &key("k1"), &fp(1), at(9), TTL).await.unwrap(),
        Reservation::Completed(_)
    ));
    token(store.reserve("caller", &key("k1"), &fp(1), at(10), TTL).await.unwrap());
}

#[tokio::test]
async fn release_frees_an_in_flight_key_for_a_retry() {
    let store = MemoryIdempotencyStore::new();
    let t = token(store.reserve("caller", &key("k1"), &fp(1), t0(), TTL).await.unwrap());
    store.release("caller", &key("k1"), t).await.unwrap();
    token(store.reserve("caller", &key("k1"), &fp(1), at(1), TTL).await.unwrap());
}

#[tokio::test]
async fn release_leaves_a_completed_key_in_place() {
    let store = MemoryIdempotencyStore::new();
    let t = token(store.reserve("caller", &key("k1"), &fp(1), t0(), TTL).await.unwrap());
    store.complete("caller", &key("k1"), t, response(1, "done"), t0(), RETENTION).await.unwrap();
    store.release("caller", &key("k1"), t).await.unwrap();
    assert_eq!(
        store.reserve("caller", &key("k1"), &fp(1), at(1), TTL).await.unwrap(),
        Reservation::Completed(response(1, "done"))
    );
}

#[tokio::test]
async fn releasing_an_unknown_key_is_harmless() {
    let store = MemoryIdempotencyStore::new();
    store.release("caller", &key("never-seen"), ReservationToken::from_u128(1)).await.unwrap();
    assert!(store.is_empty());
}

#[tokio::test]
async fn the_same_key_in_two_scopes_is_two_keys() {
    let store = MemoryIdempotencyStore::new();
    let t = token(store.reserve("orders", &key("k1"), &fp(1), t0(), TTL).await.unwrap());
    store.complete("orders", &key("k1"), t, response(1, "orders"), t0(), RETENTION).await.unwrap();
    let p = token(store.reserve("payments", &key("k1"), &fp(2), t0(), TTL).await.unwrap());
    store.release("payments", &key("k1"), p).await.unwrap();
    assert_eq!(
        store.reserve("orders", &key("k1"), &fp(1), at(1), TTL).await.unwrap(),
        Reservation::Completed(response(1, "orders"))
    );
}

#[tokio::test]
async fn scope_and_key_do_not_run_together() {
    // ("ab", "c") and ("a", "bc") must not collide, whatever the internal key format.
    let store = MemoryIdempotencyStore::new();
    store.reserve("ab", &key("c"), &fp(1), t0(), TTL).await.unwrap();
    token(store.reserve("a", &key("bc"), &fp(2), t0(), TTL).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_reserves_of_one_key_give_exactly_one_reservation() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let start = Arc::new(tokio::sync::Barrier::new(40));
    let tasks: Vec<_> = (0..40u8)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.reserve("caller", &key("same"), &fp(i), t0(), TTL).await.expect("reserve")
            })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        match task.await.expect("task") {
            Reservation::Reserved { .. } => reserved += 1,
            Reservation::InFlight { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reserved, 1);
    assert_eq!(store.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reserves_of_different_keys_all_succeed() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let tasks: Vec<_> = (0..200u32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store.reserve("caller", &key(&format!("k{i}")), &fp(1), t0(), TTL).await.expect("reserve")
            })
        })
        .collect();
    for task in tasks {
        token(task.await.expect("task"));
    }
    assert_eq!(store.len(), 200);
}

#[tokio::test]
async fn later_traffic_sweeps_expired_keys_a_bounded_batch_per_call() {
    let store = MemoryIdempotencyStore::with_shards(1);
    for i in 0..100 {
        store
            .reserve("caller", &key(&format!("old{i}")), &fp(1), t0(), Duration::from_secs(1))
            .await
            .unwrap();
    }
    assert_eq!(store.len(), 100);
    store.reserve("caller", &key("new0"), &fp(1), at(2), TTL).await.unwrap();
    assert_eq!(store.len(), 100 - 32 + 1, "one call removes at most 32 expired keys");
    for i in 1..4 {
        store.reserve("caller", &key(&format!("new{i}")), &fp(1), at(2), TTL).await.unwrap();
    }
    assert_eq!(store.len(), 4, "only the live keys are left");
}

#[tokio::test]
async fn completing_sweeps_too() {
    let store = MemoryIdempotencyStore::with_shards(1);
    token(store.reserve("caller", &key("old"), &fp(1), t0(), Duration::from_secs(1)).await.unwrap());
    let t = token(store.reserve("caller", &key("k"), &fp(1), t0(), TTL).await.unwrap());
    store.complete("caller", &key("k"), t, response(1, "done"), at(5), RETENTION).await.unwrap();
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn purging_removes_every_expired_key_and_keeps_live_ones() {
    let store = MemoryIdempotencyStore::new();
    for i in 0..500 {
        store
            .reserve("caller", &key(&format!("short{i}")), &fp(1), t0(), Duration::from_secs(1))
            .await
            .unwrap();
    }
    for i in 0..50 {
        store.reserve("caller", &key(&format!("long{i}")), &fp(1), t0(), TTL).await.unwrap();
    }
    assert_eq!(store.purge_expired(at(30)), 500);
    assert_eq!(store.len(), 50);
    assert!(matches!(
        store.reserve("caller", &key("long7"), &fp(2), at(30), TTL).await.unwrap(),
        Reservation::InFlight { .. }
    ));
}

#[tokio::test]
async fn memory_stays_bounded_under_a_steady_stream_of_new_keys() {
    // 10 000 keys, one every 10 ms, each kept 1 s: about 100 are live at any moment.
    let store = MemoryIdempotencyStore::new();
    for i in 0..10_000i64 {
        let now = t0() + TimeDelta::milliseconds(i * 10);
        store.reserve("caller", &key(&format!("k{i}")), &fp(1), now, Duration::from_secs(1)).await.unwrap();
    }
    let held = store.len();
    assert!((100..300).contains(&held), "{held} keys held; expired keys are not being swept");
}

#[tokio::test]
async fn a_stale_expiry_does_not_remove_a_newer_reservation_of_the_same_key() {
    let store = MemoryIdempotencyStore::with_shards(1);
    let t = token(store.reserve("caller", &key("k"), &fp(1), t0(), Duration::from_secs(10)).await.unwrap());
    store.release("caller", &key("k"), t).await.unwrap();
    store.reserve("caller", &key("k"), &fp(2), at(5), Duration::from_secs(10)).await.unwrap();
    // At 11 s the first reservation's expiry comes up; the second one lives until 15 s.
    assert_eq!(store.purge_expired(at(11)), 0);
    assert_eq!(
        store.reserve("caller", &key("k"), &fp(3), at(11), TTL).await.unwrap(),
        Reservation::InFlight { fingerprint: fp(2) }
    );
    assert_eq!(store.purge_expired(at(15)), 1);
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_completion_outlives_the_reservations_shorter_ttl() {
    let store = MemoryIdempotencyStore::with_shards(1);
    let t = token(store.reserve("caller", &key("k"), &fp(1), t0(), Duration::from_secs(1)).await.unwrap());
    store.complete("caller", &key("k"), t, response(1, "done"), t0(), RETENTION).await.unwrap();
    assert_eq!(store.purge_expired(at(2)), 0);
    assert_eq!(
        store.reserve("caller", &key("k"), &fp(1), at(2), TTL).await.unwrap(),
        Reservation::Completed(response(1, "done"))
    );
}

#[tokio::test]
async fn a_huge_ttl_saturates_instead_of_overflowing() {
    let store = MemoryIdempotencyStore::new();
    store.reserve("caller", &key("k"), &fp(1), t0(), Duration::MAX).await.unwrap();
    assert!(matches!(
        store.reserve("caller", &key("k"), &fp(1), at(1_000_000_000), TTL).await.unwrap(),
        Reservation::InFlight { .. }
    ));
}
