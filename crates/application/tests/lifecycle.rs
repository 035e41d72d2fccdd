//! Dispatch, retries, leases, relay outages, callbacks, the DLQ, bulk jobs and the audit trail.

mod common;

use std::time::Duration;

use common::*;
use hub_application::ErrorCode;
use hub_application::fakes::{FakeHub, ScriptedOutcome};
use hub_application::ports::{
    AuditAction, AuditFilter, BulkAction, DeliveryStore, DlqFilter, JobState, QueueMessage,
};
use hub_application::use_cases::bulk::{BulkCommand, BulkOutcome};
use hub_application::use_cases::callbacks::{CallbackOutcome, DeliveryRef, VendorCallback};
use hub_application::use_cases::dispatch::DispatchOutcome;
use hub_domain::delivery::{DeliveryStatus, ErrorClass, ReceiptStatus};
use hub_domain::status::NotificationStatus;
use hub_domain::{Channel, DeliveryId, Kind, Platform};

async fn one_delivery(hub: &FakeHub, key: &str, email: &str) -> DeliveryId {
    let name = format!("r-{key}");
    recipient(hub, &name, &[(Channel::Email, Some(email))]).await;
    let r = hub.app.send(send(key, &name, Kind::Transactional, "hello")).await.unwrap();
    accepted(&r.outcome).deliveries[0].delivery_id
}

async fn delivery(hub: &FakeHub, id: DeliveryId) -> hub_application::ports::DeliveryRecord {
    DeliveryStore::get(hub.store.as_ref(), id).await.unwrap().unwrap()
}

/// Drains, then walks the clock through the default schedule until nothing is pending.
async fn run_schedule(hub: &FakeHub) {
    hub.drain().await;
    for step in [1, 5, 30, 120, 600] {
        hub.clock.advance(Duration::from_secs(step));
        hub.drain().await;
    }
}

#[tokio::test]
async fn transient_failures_retry_on_the_schedule_then_land_in_the_dlq() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "fail-transient@example.com").await;
    hub.drain().await;
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.status, DeliveryStatus::Pending);
    assert_eq!(d.state.tries, 1);
    assert_eq!(d.state.not_before, at("2026-01-15T03:00:01Z"), "1 s with the jitter source at its midpoint");

    run_schedule(&hub).await;
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.status, DeliveryStatus::Exhausted);
    assert_eq!(d.tries.len(), 6, "six tries in all with the default schedule");
    assert_eq!(d.last_error_class, Some(ErrorClass::Transient));
    assert_eq!(hub.sender.requests().len(), 6);
    let page = hub.app.list_dlq(DlqFilter::default(), None, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].max_tries, 6);
    assert_eq!(page.items[0].topic, "notification.delivery.email");
    let view = hub.app.get_notification(d.notification_id).await.unwrap();
    assert_eq!(view.status, NotificationStatus::Failed);
}

#[tokio::test]
async fn a_failure_once_then_success_ends_sent_with_two_tries() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "bob@example.com").await;
    hub.sender.script([ScriptedOutcome::Transient(None)]);
    run_schedule(&hub).await;
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.status, DeliveryStatus::Sent);
    assert_eq!(d.tries.len(), 2);
}

#[tokio::test]
async fn a_vendor_retry_after_is_honoured_within_the_clamp() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "bob@example.com").await;
    hub.sender.script([ScriptedOutcome::Transient(Some(Duration::from_secs(60)))]);
    hub.drain().await;
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.not_before, at("2026-01-15T03:00:02Z"), "60 s clamped to 2 × 1 s");
    assert_eq!(d.last_error_class, Some(ErrorClass::RateLimited));
}

#[tokio::test]
async fn a_permanent_failure_goes_straight_to_the_dlq() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "fail-permanent@example.com").await;
    hub.drain().await;
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.status, DeliveryStatus::Exhausted);
    assert_eq!(d.tries.len(), 1);
    assert_eq!(d.last_error_class, Some(ErrorClass::Permanent));
}

#[tokio::test]
async fn an_unregistered_push_token_disables_its_device_at_once() {
    let hub = FakeHub::new();
    recipient(&hub, "alice", &[(Channel::Push, None)]).await;
    let reg = hub
        .app
        .register_device(&rid("alice"), Platform::Android, &format!("unregistered-{}", "t".repeat(30)))
        .await
        .unwrap();
    hub.app.send(send("k1", "alice", Kind::Service, "ping")).await.unwrap();
    hub.drain().await;
    let devices = hub.app.list_devices(&rid("alice")).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, reg.device().id);
    assert!(!devices[0].active);
    // The next push has no active device.
    let r = hub.app.send(send("k2", "alice", Kind::Service, "ping")).await.unwrap();
    assert!(matches!(r.outcome, hub_application::use_cases::send::SendOutcome::Suppressed(_)));
}

#[tokio::test]
async fn a_duplicate_queue_message_is_dropped_by_the_claim() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "bob@example.com").await;
    hub.drain().await;
    assert_eq!(hub.app.dispatch(id).await.unwrap(), DispatchOutcome::Skipped);
    let d = delivery(&hub, id).await;
    hub.queue.inject(QueueMessage {
        event_id: hub_domain::EventId::from_parts(1, 1),
        delivery_id: id,
        notification_id: d.notification_id,
        channel: Channel::Email,
        priority: hub_domain::Priority::Normal,
        attempt: 1,
    });
    hub.drain().await;
    assert_eq!(hub.sender.requests().len(), 1, "the vendor was called once");
}

#[tokio::test]
async fn a_delivery_whose_worker_died_is_reaped_and_sent_again() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "bob@example.com").await;
    // A worker claims and dies before reporting.
    let now = at("2026-01-15T03:00:00Z");
    hub.store.claim(id, now, now + chrono::TimeDelta::seconds(60)).await.unwrap().unwrap();
    assert_eq!(hub.app.reap_expired_leases(100).await.unwrap(), 0, "lease still running");
    hub.clock.advance(Duration::from_secs(61));
    assert_eq!(hub.app.reap_expired_leases(100).await.unwrap(), 1);
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.status, DeliveryStatus::Pending);
    assert_eq!(d.tries.last().map(|t| t.error_class), Some(Some(ErrorClass::LeaseExpired)));
    hub.drain().await;
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.status, DeliveryStatus::Sent);
    assert_eq!(d.state.tries, 2);
}

#[tokio::test]
async fn a_lost_queue_message_is_requeued_by_the_scheduler() {
    let hub = FakeHub::new();
    let id2 = one_delivery(&hub, "k2", "carol@example.com").await;
    hub.app.relay_outbox(100).await.unwrap();
    let received = hub_application::ports::DeliveryQueue::receive(
        hub.queue.as_ref(),
        Channel::Email,
        10,
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(received.len(), 1, "taken but never processed nor acknowledged");
    hub.clock.advance(Duration::from_secs(301));
    assert_eq!(hub.app.enqueue_due(100).await.unwrap(), 1, "stale queued delivery is queued again");
    hub.drain().await;
    assert_eq!(delivery(&hub, id2).await.state.status, DeliveryStatus::Sent);
}

#[tokio::test]
async fn a_queue_outage_keeps_work_in_the_outbox_until_it_returns() {
    let hub = FakeHub::new();
    hub.queue.set_unavailable(true);
    let id = one_delivery(&hub, "k1", "bob@example.com").await;
    let report = hub.app.relay_outbox(100).await.unwrap();
    assert_eq!((report.claimed, report.published, report.failed), (1, 0, 1));
    assert_eq!(hub.store.unpublished().len(), 1);
    assert_eq!(hub.store.unpublished()[0].publish_attempts, 1);
    hub.queue.set_unavailable(false);
    assert_eq!(hub.app.relay_outbox(100).await.unwrap().claimed, 0, "backing off");
    hub.clock.advance(Duration::from_secs(2));
    hub.drain().await;
    assert_eq!(delivery(&hub, id).await.state.status, DeliveryStatus::Sent);
    hub.clock.advance(Duration::from_secs(3601));
    assert_eq!(hub.app.purge_outbox(100).await.unwrap(), 1);
}

fn callback(delivery: DeliveryRef, status: ReceiptStatus) -> VendorCallback {
    VendorCallback { vendor: "ses".into(), channel: Some(Channel::Email), delivery, status, reason: None }
}

#[tokio::test]
async fn callbacks_move_sent_deliveries_and_leave_terminal_ones() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "bob@example.com").await;
    hub.drain().await;
    let vendor_id = delivery(&hub, id).await.vendor_message_id.unwrap();
    let out = hub
        .app
        .apply_callback(callback(DeliveryRef::VendorMessage(vendor_id), ReceiptStatus::Delivered))
        .await
        .unwrap();
    assert_eq!(out, CallbackOutcome::Applied(DeliveryStatus::Delivered));
    let again =
        hub.app.apply_callback(callback(DeliveryRef::Delivery(id), ReceiptStatus::Bounced)).await.unwrap();
    assert_eq!(again, CallbackOutcome::Unchanged(DeliveryStatus::Delivered));
    let unknown = hub
        .app
        .apply_callback(callback(DeliveryRef::VendorMessage("nope".into()), ReceiptStatus::Delivered))
        .await;
    assert_eq!(unknown.unwrap_err().code(), ErrorCode::DeliveryNotFound);
    let audits = hub.store.audit_entries();
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].action, AuditAction::CallbackApplied);
    assert_eq!(audits[0].actor, "vendor:ses");
    assert_eq!(audits[0].outcome, "DELIVERED reported: SENT -> DELIVERED");
}

#[tokio::test]
async fn bounced_is_permanent_and_failed_is_a_retry() {
    let hub = FakeHub::new();
    let a = one_delivery(&hub, "k1", "bob@example.com").await;
    let b = one_delivery(&hub, "k2", "carol@example.com").await;
    hub.drain().await;
    hub.app.apply_callback(callback(DeliveryRef::Delivery(a), ReceiptStatus::Bounced)).await.unwrap();
    let d = delivery(&hub, a).await;
    assert_eq!(d.state.status, DeliveryStatus::Exhausted);
    assert_eq!(d.last_error_class, Some(ErrorClass::Bounced));
    let out =
        hub.app.apply_callback(callback(DeliveryRef::Delivery(b), ReceiptStatus::Failed)).await.unwrap();
    assert_eq!(out, CallbackOutcome::Applied(DeliveryStatus::Pending));
    hub.clock.advance(Duration::from_secs(1));
    hub.drain().await;
    assert_eq!(delivery(&hub, b).await.state.status, DeliveryStatus::Sent);
}

#[tokio::test]
async fn replay_and_discard_work_only_on_exhausted_deliveries_and_are_audited() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "fail-permanent@example.com").await;
    let other = one_delivery(&hub, "k2", "bob@example.com").await;
    hub.drain().await;

    hub.sender.script([ScriptedOutcome::Accept("v-1".into())]);
    let replayed = hub.app.replay_dlq(id, "ops").await.unwrap();
    assert_eq!(replayed.state.status, DeliveryStatus::Pending);
    assert_eq!(replayed.state.tries, 0, "tries reset");
    assert_eq!(hub.store.unpublished().len(), 1, "re-queued through the outbox");
    hub.drain().await;
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.status, DeliveryStatus::Sent);
    assert_eq!(d.tries.len(), 2, "the history keeps the try before the replay");

    let err = hub.app.replay_dlq(other, "ops").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::IllegalDlqOperation);
    assert_eq!(err.code().http_status(), 409);
    let err = hub.app.discard_dlq(other, "spam", "ops").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::IllegalDlqOperation);
    let err = hub.app.replay_dlq(DeliveryId::from_parts(1, 1), "ops").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeliveryNotFound);

    let third = one_delivery(&hub, "k3", "fail-permanent@example.com").await;
    hub.drain().await;
    assert_eq!(
        hub.app.discard_dlq(third, "  ", "ops").await.unwrap_err().code(),
        ErrorCode::ValidationFailed
    );
    let discarded = hub.app.discard_dlq(third, "address gone", "ops").await.unwrap();
    assert_eq!(discarded.state.status, DeliveryStatus::Discarded);
    assert_eq!(discarded.discard_reason.as_deref(), Some("address gone"));
    assert!(hub.app.list_dlq(DlqFilter::default(), None, None).await.unwrap().items.is_empty());

    let actions: Vec<AuditAction> = hub.store.audit_entries().iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::DlqReplay,
            AuditAction::DlqReplay,
            AuditAction::DlqDiscard,
            AuditAction::DlqReplay,
            AuditAction::DlqDiscard,
            AuditAction::DlqDiscard,
        ]
    );
    let audit = hub
        .app
        .list_audit(
            AuditFilter { action: Some(AuditAction::DlqDiscard), ..Default::default() },
            None,
            Some(2),
        )
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 2);
    assert!(audit.items[0].outcome.starts_with("OK"), "newest first: {}", audit.items[0].outcome);
    let rest = hub
        .app
        .list_audit(
            AuditFilter { action: Some(AuditAction::DlqDiscard), ..Default::default() },
            audit.next_cursor.as_deref(),
            Some(2),
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
}

/// Runs bulk steps until the job finishes (bounded, so a bug cannot hang the suite).
async fn run_job_to_end(hub: &FakeHub, batch: usize) {
    for _ in 0..100 {
        if hub.app.run_bulk_step(batch).await.unwrap().finished {
            return;
        }
    }
    panic!("the bulk job did not finish within 100 steps");
}

async fn exhaust(hub: &FakeHub, n: usize) -> Vec<DeliveryId> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(one_delivery(hub, &format!("x{i}"), "fail-permanent@example.com").await);
        hub.drain().await;
        hub.clock.advance(Duration::from_secs(1));
    }
    ids
}

#[tokio::test]
async fn a_bulk_dry_run_changes_nothing_and_a_confirmed_job_replays_everything_paced() {
    let hub = FakeHub::new();
    let ids = exhaust(&hub, 12).await;
    let dry = hub
        .app
        .bulk(BulkCommand {
            action: BulkAction::Replay,
            filter: DlqFilter::default(),
            confirm: false,
            reason: None,
            actor: "ops".into(),
        })
        .await
        .unwrap();
    match dry {
        BulkOutcome::DryRun { estimated_count, sample_delivery_ids } => {
            assert_eq!(estimated_count, 12);
            assert_eq!(sample_delivery_ids, ids[..10].to_vec());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hub.app.list_dlq(DlqFilter::default(), None, Some(200)).await.unwrap().items.len(), 12);

    let job_id = match hub
        .app
        .bulk(BulkCommand {
            action: BulkAction::Replay,
            filter: DlqFilter::default(),
            confirm: true,
            reason: None,
            actor: "ops".into(),
        })
        .await
        .unwrap()
    {
        BulkOutcome::Executing { job_id } => job_id,
        other => panic!("{other:?}"),
    };
    let job = hub.app.bulk_job(job_id).await.unwrap();
    assert_eq!((job.state, job.total_count, job.processed_count), (JobState::Running, 12, 0));

    hub.sender.script((0..12).map(|i| ScriptedOutcome::Accept(format!("v{i}"))));
    let step = hub.app.run_bulk_step(5).await.unwrap();
    assert_eq!(step.processed, 5);
    assert_eq!(step.pause, Duration::from_millis(50), "5 items at 100 replays/s");
    assert!(!step.finished);
    let job = hub.app.bulk_job(job_id).await.unwrap();
    assert_eq!((job.processed_count, job.success_count), (5, 5));
    run_job_to_end(&hub, 5).await;
    let job = hub.app.bulk_job(job_id).await.unwrap();
    assert_eq!(
        (job.state, job.processed_count, job.success_count, job.failure_count),
        (JobState::Succeeded, 12, 12, 0)
    );
    assert!(hub.app.list_dlq(DlqFilter::default(), None, None).await.unwrap().items.is_empty());
    hub.drain().await;
    for id in ids {
        assert_eq!(delivery(&hub, id).await.state.status, DeliveryStatus::Sent);
    }
    let actions: Vec<AuditAction> = hub.store.audit_entries().iter().map(|e| e.action).collect();
    assert_eq!(actions, vec![AuditAction::DlqBulkReplayDryRun, AuditAction::DlqBulkReplay]);
    assert_eq!(hub.app.run_bulk_step(5).await.unwrap().job_id, None);
}

#[tokio::test]
async fn a_bulk_job_resumes_from_its_cursor_and_records_items_it_could_not_change() {
    let hub = FakeHub::new();
    let ids = exhaust(&hub, 4).await;
    let job_id = match hub
        .app
        .bulk(BulkCommand {
            action: BulkAction::Discard,
            filter: DlqFilter { channel: Some(Channel::Email), ..Default::default() },
            confirm: true,
            reason: Some("cleanup".into()),
            actor: "ops".into(),
        })
        .await
        .unwrap()
    {
        BulkOutcome::Executing { job_id } => job_id,
        other => panic!("{other:?}"),
    };
    hub.app.run_bulk_step(2).await.unwrap();
    // Meanwhile an operator replays the third item by hand; the job's lease expires (crash).
    hub.app.replay_dlq(ids[2], "ops").await.unwrap();
    hub.clock.advance(Duration::from_secs(61));
    run_job_to_end(&hub, 2).await;
    let job = hub.app.bulk_job(job_id).await.unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!((job.processed_count, job.success_count), (3, 3), "the replayed item left the DLQ");
    for i in [0, 1, 3] {
        assert_eq!(delivery(&hub, ids[i]).await.state.status, DeliveryStatus::Discarded);
    }
    let missing = hub.app.bulk_job(hub_domain::JobId::from_parts(1, 1)).await.unwrap_err();
    assert_eq!(missing.code(), ErrorCode::JobNotFound);
    let no_reason = hub
        .app
        .bulk(BulkCommand {
            action: BulkAction::Discard,
            filter: DlqFilter::default(),
            confirm: false,
            reason: None,
            actor: "ops".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn dlq_stats_count_by_bucket_channel_and_error_class() {
    let hub = FakeHub::new();
    exhaust(&hub, 3).await;
    let rows = hub.app.dlq_stats(at("2026-01-15T00:00:00Z"), at("2026-01-16T00:00:00Z"), 3600).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].bucket_start, at("2026-01-15T03:00:00Z"));
    assert_eq!(
        (rows[0].channel, rows[0].error_class, rows[0].count),
        (Channel::Email, Some(ErrorClass::Permanent), 3)
    );
    let err =
        hub.app.dlq_stats(at("2026-01-16T00:00:00Z"), at("2026-01-15T00:00:00Z"), 3600).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let err = hub.app.dlq_stats(at("2026-01-15T00:00:00Z"), at("2026-01-16T00:00:00Z"), 1).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn a_callback_racing_the_worker_asks_the_vendor_to_retry() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "bob@example.com").await;
    let now = at("2026-01-15T03:00:00Z");
    hub.store.claim(id, now, now + chrono::TimeDelta::seconds(60)).await.unwrap().unwrap();
    let err = hub
        .app
        .apply_callback(callback(DeliveryRef::Delivery(id), ReceiptStatus::Delivered))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DependencyUnavailable, "a retryable answer, not a lost receipt");
    assert_eq!(delivery(&hub, id).await.state.status, DeliveryStatus::Dispatching);
}

#[tokio::test]
async fn after_a_restart_every_due_delivery_is_queued_again_at_once() {
    let hub = FakeHub::new();
    let a = one_delivery(&hub, "k1", "bob@example.com").await;
    let b = one_delivery(&hub, "k2", "carol@example.com").await;
    hub.app.relay_outbox(100).await.unwrap();
    // The process dies: the in-process queue's content is gone, the deliveries stay queued.
    let fresh = hub_application::fakes::InMemoryQueue::new();
    assert!(
        hub_application::ports::DeliveryQueue::receive(&fresh, Channel::Email, 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    hub.queue.set_unavailable(true);
    hub.queue.set_unavailable(false);
    let _ = hub_application::ports::DeliveryQueue::receive(
        hub.queue.as_ref(),
        Channel::Email,
        10,
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(hub.app.enqueue_due(100).await.unwrap(), 0, "still counted as queued");
    hub.clock.advance(Duration::from_millis(1)); // the new process starts a moment later
    assert_eq!(hub.app.requeue_all_due(1).await.unwrap(), 2);
    assert_eq!(hub.app.requeue_all_due(1).await.unwrap(), 0, "nothing is queued twice by the restart");
    hub.drain().await;
    assert_eq!(delivery(&hub, a).await.state.status, DeliveryStatus::Sent);
    assert_eq!(delivery(&hub, b).await.state.status, DeliveryStatus::Sent);
}

#[tokio::test]
async fn a_fail_once_address_is_sent_on_the_second_try() {
    let hub = FakeHub::new();
    let id = one_delivery(&hub, "k1", "fail-once@example.com").await;
    run_schedule(&hub).await;
    let d = delivery(&hub, id).await;
    assert_eq!(d.state.status, DeliveryStatus::Sent);
    assert_eq!(d.tries.len(), 2);
}
