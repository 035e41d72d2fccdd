//! Grouped commits (ADR 0014): concurrent writes share transactions, and an operation that fails
//! inside a group rolls back alone.

mod common;

use std::collections::HashSet;

use common::*;
use hub_adapter_out::sqlite::SqliteStore;
use hub_application::PortError;
use hub_application::ports::{AcceptOutcome, DeliveryStore, NotificationFilter, NotificationStore, Outbox};

/// What request `n` of the mixed batch is: most are fresh, every 10th reuses notification 1's
/// id (fails at once), every 13th reuses delivery 1's id (fails after its notification row was
/// written, which must be undone), every 7th reuses an earlier idempotency key (DuplicateKey).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fresh,
    DuplicateId,
    DuplicateDelivery,
    DuplicateKey,
}

fn kind(n: u128) -> Kind {
    match n {
        1 => Kind::Fresh,
        n if n % 10 == 0 => Kind::DuplicateId,
        n if n % 13 == 0 => Kind::DuplicateDelivery,
        n if n % 7 == 0 => Kind::DuplicateKey,
        _ => Kind::Fresh,
    }
}

fn request(n: u128) -> hub_application::ports::NewNotification {
    let created = at("2026-01-15T03:00:00Z");
    let mut new = new_notification(n, created);
    match kind(n) {
        Kind::Fresh => {}
        Kind::DuplicateId => {
            // Same notification id as #1, but its own key, delivery and outbox ids.
            new.notification.id = ntf(1);
            new.deliveries[0].notification_id = ntf(1);
            new.outbox[0].notification_id = ntf(1);
        }
        Kind::DuplicateDelivery => new.deliveries[0].id = dlv(1),
        Kind::DuplicateKey => new.key = Some(key("default", "k1", "first body")),
    }
    new
}

async fn accept_concurrently(
    store: &SqliteStore,
    ids: std::ops::RangeInclusive<u128>,
) -> Vec<(u128, Result<AcceptOutcome, PortError>)> {
    let tasks: Vec<_> = ids
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { (n, store.accept(request(n)).await) })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

// current_thread: every spawned request reaches the writer's queue before the writer runs, so
// they meet in few groups deterministically (one mixed group at most a couple).
#[tokio::test(flavor = "current_thread")]
async fn two_hundred_concurrent_accepts_share_commits_and_failures_stay_alone() {
    let (_dir, store) = temp_store().await;
    // Notification 1 first, so the duplicates have something to collide with.
    assert_eq!(store.accept(request(1)).await.unwrap(), AcceptOutcome::Accepted);
    let before = store.write_stats();
    let results = accept_concurrently(&store, 2..=201).await;
    let after = store.write_stats();
    assert_eq!(after.operations - before.operations, 200);
    let commits = after.commits - before.commits;
    assert!(commits < 20, "200 concurrent accepts took {commits} commits: writes are not grouped");

    let mut fresh = HashSet::new();
    for (n, result) in &results {
        match (kind(*n), result) {
            (Kind::Fresh, Ok(AcceptOutcome::Accepted)) => {
                fresh.insert(*n);
            }
            (Kind::DuplicateKey, Ok(AcceptOutcome::DuplicateKey { existing, .. })) => {
                assert_eq!(*existing, ntf(1))
            }
            (Kind::DuplicateId | Kind::DuplicateDelivery, Err(PortError::Unexpected(_))) => {}
            (k, other) => panic!("request {n} ({k:?}) ended {other:?}"),
        }
    }
    // Every accepted notification is visible with its delivery and outbox row; nothing of the
    // failed or duplicate ones was written.
    let listed = NotificationStore::list(&store, &NotificationFilter::default(), None, 1000).await.unwrap();
    let listed: HashSet<_> = listed.iter().map(|n| n.notification.id).collect();
    let expected: HashSet<_> = fresh.iter().map(|n| ntf(*n)).chain([ntf(1)]).collect();
    assert_eq!(listed, expected);
    for n in 2..=201 {
        let exists = DeliveryStore::get(&store, dlv(n)).await.unwrap().is_some();
        assert_eq!(exists, fresh.contains(&n), "delivery of request {n}");
    }
    let first = NotificationStore::get(&store, ntf(1)).await.unwrap().unwrap();
    assert_eq!(first.deliveries.len(), 1, "no delivery was added to #1 by a duplicate id");
    assert_eq!(store.backlog().await.unwrap().0, fresh.len() as u64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_of_one_delivery_let_exactly_one_worker_win() {
    let (_dir, store) = temp_store().await;
    let t0 = at("2026-01-15T03:00:00Z");
    store.accept(new_notification(1, t0)).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                DeliveryStore::claim(&store, dlv(1), t0, at("2026-01-15T03:01:00Z")).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
    assert_eq!(DeliveryStore::get(&store, dlv(1)).await.unwrap().unwrap().state.tries, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_outbox_claims_never_hand_out_a_row_twice() {
    let (_dir, store) = temp_store().await;
    let t0 = at("2026-01-15T03:00:00Z");
    for n in 1..=50 {
        store.accept(new_notification(n, t0)).await.unwrap();
    }
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(
                async move { Outbox::claim(&store, t0, at("2026-01-15T03:01:00Z"), 7).await.unwrap() },
            )
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        for event in task.await.unwrap() {
            assert!(seen.insert(event.id), "{:?} handed out twice", event.id);
        }
    }
    assert_eq!(seen.len(), 50);
}
