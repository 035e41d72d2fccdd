//! The metric events the use cases record (SPEC §5.7), read back from the recording fake.

mod common;

use std::time::Duration;

use common::*;
use hub_application::ErrorCode;
use hub_application::fakes::{FakeHub, ScriptedOutcome};
use hub_application::ports::{
    DeliveryStore, DuplicateCause, GaugeSource, MetricEvent, ReplaySource, SendVerdict,
};
use hub_domain::delivery::{DeliveryStatus, ErrorClass};
use hub_domain::{Channel, Kind};

const EMAIL: (Channel, Option<&str>) = (Channel::Email, Some("alice@example.com"));
const SMS: (Channel, Option<&str>) = (Channel::Sms, Some("+821012345678"));

fn sends(hub: &FakeHub) -> Vec<(Kind, SendVerdict)> {
    hub.metrics
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MetricEvent::NotificationSend { kind, verdict } => Some((kind, verdict)),
            _ => None,
        })
        .collect()
}

fn finals(hub: &FakeHub) -> Vec<(Channel, DeliveryStatus)> {
    hub.metrics
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MetricEvent::DeliveryFinal { channel, status } => Some((channel, status)),
            _ => None,
        })
        .collect()
}

fn count(hub: &FakeHub, wanted: &MetricEvent) -> usize {
    hub.metrics.matching(|e| e == wanted).len()
}

#[tokio::test]
async fn every_send_is_counted_once_by_kind_and_verdict_with_its_replays() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL]).await;
    hub.app.send(send("k1", "alice", Kind::Transactional, "hi")).await.unwrap();
    hub.app.send(send("k1", "alice", Kind::Transactional, "hi")).await.unwrap();
    hub.idempotency.flush();
    hub.app.send(send("k1", "alice", Kind::Transactional, "hi")).await.unwrap();
    hub.app.send(send("k1", "alice", Kind::Transactional, "changed")).await.unwrap_err();
    hub.app.send(send("k2", "nobody", Kind::Marketing, "hi")).await.unwrap();
    hub.store.set_unavailable(true);
    hub.app.send(send("k3", "alice", Kind::Security, "hi")).await.unwrap_err();

    assert_eq!(
        sends(&hub),
        [
            (Kind::Transactional, SendVerdict::Accepted),
            (Kind::Transactional, SendVerdict::Replayed),
            (Kind::Transactional, SendVerdict::Replayed),
            (Kind::Transactional, SendVerdict::Rejected(ErrorCode::IdempotencyKeyReused)),
            (Kind::Marketing, SendVerdict::Rejected(ErrorCode::RecipientNotFound)),
            (Kind::Security, SendVerdict::Failed(ErrorCode::DependencyUnavailable)),
        ]
    );
    assert_eq!(count(&hub, &MetricEvent::IdempotentReplay { source: ReplaySource::Cache }), 1);
    assert_eq!(
        count(&hub, &MetricEvent::IdempotentReplay { source: ReplaySource::Store }),
        1,
        "the cache had lost the key; the store's unique key answered"
    );
}

#[tokio::test]
async fn a_rate_limited_send_counts_a_denial_on_the_binding_channel() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL, SMS]).await;
    for i in 0..5 {
        hub.app
            .send(only(send(&format!("s{i}"), "alice", Kind::Service, "hi"), &[Channel::Sms]))
            .await
            .unwrap();
    }
    hub.app.send(send("both", "alice", Kind::Service, "hi")).await.unwrap_err();
    assert_eq!(count(&hub, &MetricEvent::RateLimitDenied { channel: Channel::Sms }), 1);
    assert_eq!(sends(&hub).last(), Some(&(Kind::Service, SendVerdict::Rejected(ErrorCode::RateLimited))));
}

#[tokio::test]
async fn dispatches_are_timed_and_the_states_deliveries_enter_are_counted() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[EMAIL, SMS]).await;
    hub.sender.script([ScriptedOutcome::Accept("v1".into()), ScriptedOutcome::Transient(None)]);
    hub.app.send(send("k1", "alice", Kind::Transactional, "hi")).await.unwrap();
    hub.drain().await;

    let dispatches: Vec<(Channel, Option<ErrorClass>)> = hub
        .metrics
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MetricEvent::Dispatch { channel, failure, .. } => Some((channel, failure)),
            _ => None,
        })
        .collect();
    assert_eq!(dispatches.len(), 2, "{dispatches:?}");
    assert!(dispatches.contains(&(Channel::Email, None)) || dispatches.contains(&(Channel::Sms, None)));
    let retried = dispatches.iter().find(|(_, f)| f.is_some()).expect("one transient failure").0;
    assert_eq!(count(&hub, &MetricEvent::RetryScheduled { channel: retried }), 1);
    let sent = dispatches.iter().find(|(_, f)| f.is_none()).expect("one accepted").0;
    assert_eq!(finals(&hub), [(sent, DeliveryStatus::Sent)], "PENDING again is not a counted state");

    hub.clock.advance(Duration::from_secs(1));
    hub.drain().await;
    assert_eq!(finals(&hub), [(sent, DeliveryStatus::Sent), (retried, DeliveryStatus::Sent)]);
}

#[tokio::test]
async fn exhaustion_discard_and_cancel_are_counted_once_each() {
    let hub = FakeHub::new();
    recipient(&hub, "bob", &[(Channel::Email, Some("fail-permanent@example.com"))]).await;
    let r = hub.app.send(send("k1", "bob", Kind::Transactional, "hi")).await.unwrap();
    let id = accepted(&r.outcome).deliveries[0].delivery_id;
    hub.drain().await;
    hub.app.discard_dlq(id, "bad address", "ops").await.unwrap();
    assert_eq!(
        finals(&hub),
        [(Channel::Email, DeliveryStatus::Exhausted), (Channel::Email, DeliveryStatus::Discarded)]
    );

    hub.metrics.clear();
    recipient(&hub, "carol", &[(Channel::Email, Some("carol@example.com")), SMS]).await;
    let mut later = send("k2", "carol", Kind::Marketing, "sale");
    later.send_at = Some(at("2026-01-16T03:00:00Z"));
    let r = hub.app.send(later).await.unwrap();
    let notification = accepted(&r.outcome).notification_id;
    let cancelled = hub.app.cancel_notification(notification).await.unwrap();
    assert_eq!(cancelled.cancelled, 2);
    let again = hub.app.cancel_notification(notification).await.unwrap();
    assert_eq!(again.cancelled, 0);
    assert_eq!(
        finals(&hub),
        [(Channel::Email, DeliveryStatus::Cancelled), (Channel::Sms, DeliveryStatus::Cancelled)],
        "counted by the call that cancelled them only"
    );
}

#[tokio::test]
async fn a_reaped_lease_counts_a_possible_duplicate_and_a_retry() {
    let hub = FakeHub::new();
    recipient(&hub, "bob", &[(Channel::Email, Some("bob@example.com"))]).await;
    let r = hub.app.send(send("k1", "bob", Kind::Transactional, "hi")).await.unwrap();
    let id = accepted(&r.outcome).deliveries[0].delivery_id;
    let now = at("2026-01-15T03:00:00Z");
    hub.store.claim(id, now, now + chrono::TimeDelta::seconds(60)).await.unwrap().unwrap();
    hub.clock.advance(Duration::from_secs(61));
    assert_eq!(hub.app.reap_expired_leases(100).await.unwrap(), 1);
    let channel = Channel::Email;
    assert_eq!(
        count(&hub, &MetricEvent::PossibleDuplicateSend { channel, cause: DuplicateCause::LeaseReaped }),
        1
    );
    assert_eq!(count(&hub, &MetricEvent::RetryScheduled { channel }), 1);
}

#[tokio::test]
async fn gauges_report_the_outbox_lag_the_dlq_and_the_queue_per_channel() {
    let hub = FakeHub::new();
    recipient(&hub, "bob", &[(Channel::Email, Some("fail-permanent@example.com"))]).await;
    hub.app.send(send("k1", "bob", Kind::Transactional, "hi")).await.unwrap();
    hub.drain().await;
    recipient(&hub, "carol", &[(Channel::Email, Some("carol@example.com"))]).await;
    hub.app.send(send("k2", "carol", Kind::Transactional, "hi")).await.unwrap();
    hub.clock.advance(Duration::from_secs(7));
    hub.metrics.clear();

    hub.app.refresh_gauges().await;
    let events = hub.metrics.events();
    assert!(
        events.contains(&MetricEvent::OutboxBacklog { rows: 1, oldest_age: Duration::from_secs(7) }),
        "{events:?}"
    );
    assert!(events.contains(&MetricEvent::DlqSize { channel: Channel::Email, size: 1 }));
    assert!(events.contains(&MetricEvent::DlqSize { channel: Channel::Sms, size: 0 }));
    assert!(events.contains(&MetricEvent::QueueDepth { channel: Channel::Email, depth: 0 }));
    let per_channel = |f: fn(&MetricEvent) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(per_channel(|e| matches!(e, MetricEvent::DlqSize { .. })), Channel::CANONICAL.len());
    assert_eq!(per_channel(|e| matches!(e, MetricEvent::QueueDepth { .. })), Channel::CANONICAL.len());

    hub.metrics.clear();
    hub.queue.set_unavailable(true);
    hub.app.refresh_gauges().await;
    let events = hub.metrics.events();
    assert!(events.contains(&MetricEvent::GaugeRefreshFailed { source: GaugeSource::Queue }), "{events:?}");
    assert!(
        events.iter().any(|e| matches!(e, MetricEvent::OutboxBacklog { .. })),
        "the others are still read"
    );
}
