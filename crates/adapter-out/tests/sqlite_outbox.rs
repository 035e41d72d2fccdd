//! The outbox on SQLite: leases instead of SKIP LOCKED, publication marks, purge, backlog, and
//! the commit signal that wakes the relay.

mod common;

use common::*;
use hub_application::ports::{BulkAction, BulkJob, DlqFilter, JobState, JobStore, NotificationStore, Outbox};
use hub_domain::JobId;

#[tokio::test]
async fn outbox_claims_lease_rows_oldest_first_and_marks_purge_and_count_them() {
    let (_dir, store) = temp_store().await;
    for n in 1..=3u128 {
        store.accept(new_notification(n, t0() + secs(n as i64))).await.unwrap();
    }
    let now = t0() + secs(10);
    let lease = now + secs(30);
    let first = Outbox::claim(&store, now, lease, 2).await.unwrap();
    assert_eq!(first.iter().map(|e| e.id).collect::<Vec<_>>(), vec![evt(1), evt(2)]);
    let second = Outbox::claim(&store, now, lease, 2).await.unwrap();
    assert_eq!(second.iter().map(|e| e.id).collect::<Vec<_>>(), vec![evt(3)], "leased rows are hidden");
    assert!(Outbox::claim(&store, now, lease, 2).await.unwrap().is_empty());

    store.mark_published(&[evt(1), evt(42)], now).await.unwrap();
    store.mark_failed(&[evt(2)], now + secs(5)).await.unwrap();
    assert_eq!(store.backlog().await.unwrap(), (2, Some(t0() + secs(2))));
    let retried = Outbox::claim(&store, now + secs(5), now + secs(35), 10).await.unwrap();
    assert_eq!(retried.len(), 1, "failed row is claimable again at retry_at; row 3 is still leased");
    assert_eq!((retried[0].id, retried[0].publish_attempts), (evt(2), 1));
    assert_eq!(retried[0].next_attempt_at, now + secs(5));
    let after_lease = Outbox::claim(&store, lease, lease + secs(30), 10).await.unwrap();
    assert_eq!(after_lease.iter().map(|e| e.id).collect::<Vec<_>>(), vec![evt(3)], "a lost lease ends");

    store.mark_published(&[evt(2), evt(3)], now + secs(20)).await.unwrap();
    assert_eq!(store.backlog().await.unwrap(), (0, None));
    assert_eq!(store.purge_published(now + secs(1), 10).await.unwrap(), 1, "only row 1 is old enough");
    assert_eq!(store.purge_published(now + secs(60), 1).await.unwrap(), 1, "limit");
    assert_eq!(store.purge_published(now + secs(60), 10).await.unwrap(), 1);
    assert_eq!(store.purge_published(now + secs(60), 10).await.unwrap(), 0);
    store.mark_published(&[], now).await.unwrap();
    store.mark_failed(&[], now).await.unwrap();
}

/// Whether a `notified()` completes at once (a permit is stored), without waiting.
fn has_permit(signal: &tokio::sync::Notify) -> bool {
    let notified = signal.notified();
    tokio::pin!(notified);
    notified.as_mut().enable()
}

#[tokio::test]
async fn the_relay_is_woken_by_a_commit_that_wrote_outbox_rows() {
    let (_dir, store) = temp_store().await;
    let signal = store.commit_signal();
    store
        .create(&BulkJob {
            id: JobId::from_parts(1, 1),
            action: BulkAction::Replay,
            filter: DlqFilter::default(),
            reason: None,
            actor: "ops".into(),
            state: JobState::Running,
            total_count: 0,
            processed_count: 0,
            success_count: 0,
            failure_count: 0,
            first_error: None,
            cursor: None,
            created_at: t0(),
            updated_at: t0(),
            lease_until: None,
        })
        .await
        .unwrap();
    assert!(!has_permit(&signal), "a commit without outbox rows does not wake the relay");
    store.accept(new_notification(1, t0())).await.unwrap();
    assert!(has_permit(&signal), "set before the accept returned, whether or not the relay waited");
    assert!(!has_permit(&signal), "one permit per wake-up");
}
