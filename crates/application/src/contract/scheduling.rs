//! [`DeliveryStore`](crate::ports::DeliveryStore): due scheduling, lease reaping, cancellation.

use std::collections::BTreeSet;

use hub_domain::delivery::{DeliveryState, DeliveryStatus, ErrorClass};
use hub_domain::{Channel, DeliveryId, Kind};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::{DeliveryRecord, DeliveryUpdate, Expectation, OutboxEvent};

/// Every claimable outbox row at `now`, keyed by delivery.
async fn outbox_rows(s: &StoreParts, now: chrono::DateTime<chrono::Utc>) -> Vec<OutboxEvent> {
    s.outbox.claim(now, now + chrono::TimeDelta::seconds(30), 100).await.expect("claim outbox")
}

/// Due PENDING deliveries that are not queued get one outbox row each (for their next try)
/// and `queued_at = now`; future, claimed and already queued deliveries are left alone.
pub async fn enqueue_due_queues_each_due_pending_delivery_once(s: &StoreParts) {
    let (record, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms, Channel::Push], at(0)).await;
    let (_, future) = seed(s, 2, &[Channel::Email], at(100)).await;
    claim(s, deliveries[2].id, at(1)).await;
    claim(s, deliveries[1].id, at(1)).await;
    let retry = DeliveryUpdate {
        push_try: Some(failed_try(at(1), ErrorClass::Transient)),
        ..DeliveryUpdate::state(DeliveryState { tries: 1, ..DeliveryState::pending(at(5)) })
    };
    let expected = Expectation { status: DeliveryStatus::Dispatching, tries: 1 };
    apply(s, deliveries[1].id, expected, retry, at(2)).await;

    let queued = s.deliveries.enqueue_due(at(10), at(-290), 100).await.expect("enqueue_due");
    assert_eq!(queued, 2, "the due EMAIL and the due SMS retry are queued");
    for d in &deliveries[..2] {
        assert_eq!(stored(s, d.id).await.queued_at, Some(at(10)), "{} is marked queued now", d.id);
    }
    assert_eq!(stored(s, deliveries[2].id).await.queued_at, None, "a DISPATCHING delivery is not queued");
    assert_eq!(stored(s, future[0].id).await.queued_at, None, "a delivery not yet due is not queued");

    let mut rows = outbox_rows(s, at(10)).await;
    rows.sort_by_key(|e| e.delivery_id);
    let summary: Vec<(DeliveryId, Channel, u32)> =
        rows.iter().map(|e| (e.delivery_id, e.channel, e.attempt)).collect();
    let expected = vec![(deliveries[0].id, Channel::Email, 1), (deliveries[1].id, Channel::Sms, 2)];
    assert_eq!(summary, expected, "one row per queued delivery, for the try it leads to");
    for e in &rows {
        assert_eq!((e.notification_id, e.priority), (record.id, record.priority));
        assert_eq!((e.created_at, e.publish_attempts), (at(10), 0), "written now, never failed");
    }

    let again = s.deliveries.enqueue_due(at(11), at(-289), 100).await.expect("enqueue_due");
    assert_eq!(again, 0, "queued deliveries are not queued twice");
    assert_eq!(s.outbox.backlog().await.expect("backlog").0, 2, "still two outbox rows");
}

/// A delivery queued strictly before `stale_before` (a lost queue message) is queued again,
/// one queued at or after it is not.
pub async fn enqueue_due_requeues_deliveries_queued_before_stale_before(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email], at(0)).await;
    assert_eq!(s.deliveries.enqueue_due(at(10), at(-290), 10).await.expect("enqueue_due"), 1);

    let fresh = s.deliveries.enqueue_due(at(400), at(10), 10).await.expect("enqueue_due");
    assert_eq!(fresh, 0, "queued at exactly stale_before is not stale");
    assert_eq!(stored(s, deliveries[0].id).await.queued_at, Some(at(10)), "queued_at unchanged");

    let stale = s.deliveries.enqueue_due(at(400), at(11), 10).await.expect("enqueue_due");
    assert_eq!(stale, 1, "queued before stale_before is queued again");
    assert_eq!(stored(s, deliveries[0].id).await.queued_at, Some(at(400)), "queued_at moves to now");
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (2, Some(at(10))), "a second outbox row");
}

/// At most `limit` deliveries are queued per call; the rest on the next calls, each once.
pub async fn enqueue_due_honours_the_limit(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms, Channel::InApp], at(0)).await;
    let mut counts = Vec::new();
    for now in [1, 2, 3] {
        counts.push(s.deliveries.enqueue_due(at(now), at(-300), 2).await.expect("enqueue_due"));
    }
    assert_eq!(counts, vec![2, 1, 0], "limit 2 over three due deliveries");
    let queued: BTreeSet<DeliveryId> = outbox_rows(s, at(3)).await.iter().map(|e| e.delivery_id).collect();
    let all: BTreeSet<DeliveryId> = deliveries.iter().map(|d| d.id).collect();
    assert_eq!(queued, all, "each delivery got exactly one row");
    assert_eq!(s.outbox.backlog().await.expect("backlog").0, 3);
}

/// DISPATCHING deliveries whose lease ended are listed (as stored), others are not; at most
/// `limit` of them.
pub async fn expired_leases_lists_dispatching_deliveries_whose_lease_ended(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms, Channel::Push], at(0)).await;
    let short = s.deliveries.claim(deliveries[0].id, at(0), at(30)).await.expect("claim").expect("due");
    let long = s.deliveries.claim(deliveries[1].id, at(0), at(90)).await.expect("claim").expect("due");

    let none = s.deliveries.expired_leases(at(10), 10).await.expect("expired_leases");
    assert!(none.is_empty(), "no lease has ended at t0+10s, got {none:?}");
    let one = s.deliveries.expired_leases(at(60), 10).await.expect("expired_leases");
    assert_eq!(one, vec![short.clone()], "only the lease that ended at t0+30s");

    let mut both = s.deliveries.expired_leases(at(100), 10).await.expect("expired_leases");
    both.sort_by_key(|d| d.id);
    assert_eq!(both, vec![short, long], "both leases ended; the PENDING delivery is not listed");
    let limited = s.deliveries.expired_leases(at(100), 1).await.expect("expired_leases");
    assert_eq!(limited.len(), 1, "limit 1");
}

/// Cancel moves every PENDING delivery of the notification (due or not) to CANCELLED and
/// returns how many; others stay. `None` only for an unknown notification.
pub async fn cancel_pending_cancels_only_pending_deliveries(s: &StoreParts) {
    let record = notification(1, "alice", Kind::Marketing, t0());
    let email = delivery(&record, 10, Channel::Email);
    let mut later = delivery(&record, 11, Channel::Sms);
    later.state.not_before = at(600);
    let push = delivery(&record, 12, Channel::Push);
    accept(s, new_notification(record.clone(), vec![email.clone(), later.clone(), push.clone()])).await;
    let (_, other) = seed(s, 2, &[Channel::Email], at(0)).await;
    let claimed = claim(s, push.id, at(1)).await;

    let cancelled = s.deliveries.cancel_pending(record.id, at(5)).await.expect("cancel_pending");
    assert_eq!(cancelled, Some(2), "the due and the deferred PENDING deliveries");
    for d in [&email, &later] {
        let state = DeliveryState { status: DeliveryStatus::Cancelled, ..d.state };
        let expected = DeliveryRecord { state, updated_at: at(5), ..d.clone() };
        assert_eq!(stored(s, d.id).await, expected, "{} is CANCELLED, nothing else changed", d.id);
    }
    assert_eq!(stored(s, push.id).await, claimed, "a DISPATCHING delivery is not cancelled");
    assert_eq!(stored(s, other[0].id).await, other[0], "another notification's delivery is untouched");

    let again = s.deliveries.cancel_pending(record.id, at(6)).await.expect("cancel_pending");
    assert_eq!(again, Some(0), "nothing left to cancel");
    let unknown = s.deliveries.cancel_pending(notification_id(999), at(6)).await.expect("cancel_pending");
    assert_eq!(unknown, None, "an unknown notification");
    let empty = notification(3, "alice", Kind::Marketing, t0());
    accept(s, new_notification(empty.clone(), Vec::new())).await;
    let none = s.deliveries.cancel_pending(empty.id, at(6)).await.expect("cancel_pending");
    assert_eq!(none, Some(0), "a known notification without deliveries");
}
