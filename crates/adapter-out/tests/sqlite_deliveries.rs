//! The atomic accept, claims, compare-and-set updates (with try, outbox row and job step), due
//! scheduling, lease reaping, cancellation and bulk jobs on SQLite.

mod common;

use common::*;
use hub_application::PortError;
use hub_application::ports::{
    AcceptOutcome, BulkAction, BulkJob, DeliveryStore, DeliveryUpdate, DlqCursor, DlqFilter, Expectation,
    JobState, JobStep, JobStore, NotificationStore, Outbox, UpdateOutcome,
};
use hub_domain::delivery::{DeliveryState, DeliveryStatus, ErrorClass, Try, TryOutcome};
use hub_domain::{Channel, JobId};

#[tokio::test]
async fn a_duplicate_key_returns_the_first_notification_and_writes_nothing() {
    let (_dir, store) = temp_store().await;
    let first = new_notification(1, t0());
    let fingerprint = first.key.as_ref().unwrap().fingerprint;
    assert_eq!(store.accept(first).await.unwrap(), AcceptOutcome::Accepted);

    let mut again = new_notification(2, t0());
    again.key = Some(key("default", "k1", "another body"));
    assert_eq!(
        store.accept(again).await.unwrap(),
        AcceptOutcome::DuplicateKey { existing: ntf(1), fingerprint }
    );
    assert!(NotificationStore::get(&store, ntf(2)).await.unwrap().is_none());
    assert!(DeliveryStore::get(&store, dlv(2)).await.unwrap().is_none());
    assert_eq!(store.backlog().await.unwrap().0, 1, "no outbox row of the duplicate");

    // The same key in another scope is another key; no key at all never collides.
    let mut other_scope = new_notification(3, t0());
    other_scope.key = Some(key("billing", "k1", "body"));
    assert_eq!(store.accept(other_scope).await.unwrap(), AcceptOutcome::Accepted);
    for n in [4, 5] {
        let mut keyless = new_notification(n, t0());
        keyless.key = None;
        assert_eq!(store.accept(keyless).await.unwrap(), AcceptOutcome::Accepted);
    }
}

#[tokio::test]
async fn a_duplicate_notification_id_is_unexpected_and_rolls_the_whole_accept_back() {
    let (_dir, store) = temp_store().await;
    store.accept(new_notification(1, t0())).await.unwrap();
    let mut clash = new_notification(1, t0());
    clash.key = Some(key("default", "fresh", "x"));
    clash.deliveries[0].id = dlv(9);
    clash.outbox[0] = outbox_event(evt(9), &clash.deliveries[0]);
    assert!(matches!(store.accept(clash).await, Err(PortError::Unexpected(_))));
    assert!(DeliveryStore::get(&store, dlv(9)).await.unwrap().is_none());

    // A delivery id that clashes makes the notification itself roll back too.
    let mut clash = new_notification(2, t0());
    clash.deliveries[0].id = dlv(1);
    assert!(matches!(store.accept(clash).await, Err(PortError::Unexpected(_))));
    assert!(NotificationStore::get(&store, ntf(2)).await.unwrap().is_none());
    assert_eq!(store.backlog().await.unwrap().0, 1);
}

#[tokio::test]
async fn a_notification_reads_back_exactly_with_metadata_skips_and_every_target_kind() {
    let (_dir, store) = temp_store().await;
    let mut new = new_notification(1, t0());
    let mut metadata = serde_json::Map::new();
    metadata.insert("orderId".into(), serde_json::json!(42));
    metadata.insert("nested".into(), serde_json::json!({"a": [1, "b", null]}));
    new.notification.metadata = Some(metadata);
    new.notification.expires_at = Some(t0() + secs(3600));
    new.notification.skipped = vec![hub_application::ports::SkippedChannel {
        channel: Channel::Sms,
        reason: hub_domain::Reason::NoAddress,
    }];
    let base = new.deliveries[0].clone();
    let mut push = base.clone();
    push.id = dlv(2);
    push.channel = Channel::Push;
    push.target =
        hub_domain::Target::Device { id: hub_domain::DeviceId::from_parts(5, 5), token: "t".repeat(40) };
    let mut inbox = base.clone();
    inbox.id = dlv(3);
    inbox.channel = Channel::InApp;
    inbox.target = hub_domain::Target::Inbox;
    let mut slack = base.clone();
    slack.id = dlv(4);
    slack.channel = Channel::Slack;
    slack.target = hub_domain::Target::Address(hub_domain::Address::parse(Channel::Slack, "ops").unwrap());
    let mut sms = base.clone();
    sms.id = dlv(5);
    sms.channel = Channel::Sms;
    sms.fallback_for = Some(Channel::KakaoAlimtalk);
    sms.lms = true;
    sms.defer_reason = Some(hub_domain::Reason::KakaoNight);
    sms.state = DeliveryState::pending(t0() + secs(30));
    sms.target =
        hub_domain::Target::Address(hub_domain::Address::parse(Channel::Sms, "+821012345678").unwrap());
    sms.tries = vec![failed_try(t0(), ErrorClass::Timeout)];
    let mut erased = base.clone();
    erased.id = dlv(6);
    erased.target = hub_domain::Target::Erased { masked: "al***om".into() };
    new.deliveries.extend([push, inbox, slack, sms, erased]);
    store.accept(new.clone()).await.unwrap();
    let stored = NotificationStore::get(&store, ntf(1)).await.unwrap().unwrap();
    assert_eq!(stored.notification, new.notification);
    assert_eq!(stored.deliveries, new.deliveries, "every field and target kind survives, in id order");
}

#[tokio::test]
async fn a_claim_takes_a_due_pending_delivery_once() {
    let (_dir, store) = temp_store().await;
    let mut new = new_notification(1, t0());
    new.deliveries[0].state = DeliveryState::pending(t0() + secs(10));
    store.accept(new).await.unwrap();
    let lease = t0() + secs(70);
    assert_eq!(DeliveryStore::claim(&store, dlv(1), t0(), lease).await.unwrap(), None, "not due yet");
    assert_eq!(DeliveryStore::claim(&store, dlv(99), t0() + secs(10), lease).await.unwrap(), None, "unknown");
    let claimed =
        DeliveryStore::claim(&store, dlv(1), t0() + secs(10), lease).await.unwrap().expect("due now");
    assert_eq!(claimed.state.status, DeliveryStatus::Dispatching);
    assert_eq!(claimed.state.tries, 1);
    assert_eq!(claimed.state.lease_until, Some(lease));
    assert_eq!(claimed.updated_at, t0() + secs(10));
    assert_eq!(
        DeliveryStore::claim(&store, dlv(1), t0() + secs(11), lease).await.unwrap(),
        None,
        "a duplicate is dropped"
    );
    assert_eq!(DeliveryStore::get(&store, dlv(1)).await.unwrap(), Some(claimed));
}

#[tokio::test]
async fn updates_apply_only_while_status_and_tries_still_match() {
    let (_dir, store) = temp_store().await;
    store.accept(new_notification(1, t0())).await.unwrap();
    let claimed = DeliveryStore::claim(&store, dlv(1), t0(), t0() + secs(60)).await.unwrap().unwrap();
    let sent = DeliveryUpdate {
        vendor_message_id: Some("ses-1".into()),
        push_try: Some(Try {
            at: t0(),
            outcome: TryOutcome::Sent,
            error_class: None,
            vendor_code: None,
            detail: None,
            latency_ms: Some(12),
        }),
        ..DeliveryUpdate::state(DeliveryState {
            status: DeliveryStatus::Sent,
            lease_until: None,
            ..claimed.state
        })
    };
    let stale_status = Expectation { status: DeliveryStatus::Pending, tries: 1 };
    let stale_tries = Expectation { status: DeliveryStatus::Dispatching, tries: 0 };
    let right = Expectation { status: DeliveryStatus::Dispatching, tries: 1 };
    let later = t0() + secs(1);
    assert_eq!(
        store.update(dlv(1), stale_status, sent.clone(), later).await.unwrap(),
        UpdateOutcome::Conflict
    );
    assert_eq!(
        store.update(dlv(1), stale_tries, sent.clone(), later).await.unwrap(),
        UpdateOutcome::Conflict
    );
    assert_eq!(store.update(dlv(7), right, sent.clone(), later).await.unwrap(), UpdateOutcome::NotFound);
    assert_eq!(
        DeliveryStore::get(&store, dlv(1)).await.unwrap(),
        Some(claimed.clone()),
        "conflicts change nothing"
    );

    let UpdateOutcome::Applied(d) = store.update(dlv(1), right, sent.clone(), later).await.unwrap() else {
        panic!("expected Applied")
    };
    assert_eq!(d.state.status, DeliveryStatus::Sent);
    assert_eq!(d.vendor_message_id.as_deref(), Some("ses-1"));
    assert_eq!(d.tries.len(), 1);
    assert_eq!(d.updated_at, later);
    assert_eq!(d.queued_at, claimed.queued_at, "kept when the new status is not PENDING");
    assert_eq!(
        store.update(dlv(1), right, sent, later).await.unwrap(),
        UpdateOutcome::Conflict,
        "applied once"
    );

    // A receipt without a vendor id keeps the stored one.
    let delivered = DeliveryUpdate::state(DeliveryState { status: DeliveryStatus::Delivered, ..d.state });
    let expected = Expectation { status: DeliveryStatus::Sent, tries: 1 };
    let UpdateOutcome::Applied(d) = store.update(dlv(1), expected, delivered, later).await.unwrap() else {
        panic!("expected Applied")
    };
    assert_eq!(d.vendor_message_id.as_deref(), Some("ses-1"));
    let found = store.find_by_vendor_message_id(Some(Channel::Email), "ses-1").await.unwrap();
    assert_eq!(found, Some(d));
    assert_eq!(store.find_by_vendor_message_id(Some(Channel::Sms), "ses-1").await.unwrap(), None);
    assert!(store.find_by_vendor_message_id(None, "ses-1").await.unwrap().is_some());
}

#[tokio::test]
async fn exhaustion_sets_exhausted_at_and_a_replay_clears_it_and_queues_an_outbox_row() {
    let (_dir, store) = temp_store().await;
    store.accept(new_notification(1, t0())).await.unwrap();
    store.mark_published(&[evt(1)], t0()).await.unwrap();
    let failed_at = t0() + secs(5);
    exhaust(&store, 1, failed_at, ErrorClass::Permanent).await;
    let d = DeliveryStore::get(&store, dlv(1)).await.unwrap().unwrap();
    assert_eq!(d.exhausted_at, Some(failed_at));
    assert_eq!(d.last_error_class, Some(ErrorClass::Permanent));
    assert_eq!(d.tries, vec![failed_try(failed_at, ErrorClass::Permanent)]);

    let replay_at = t0() + secs(100);
    let replay = DeliveryUpdate { enqueue: true, ..DeliveryUpdate::state(DeliveryState::pending(replay_at)) };
    let expected = Expectation { status: DeliveryStatus::Exhausted, tries: 1 };
    let UpdateOutcome::Applied(d) = store.update(dlv(1), expected, replay, replay_at).await.unwrap() else {
        panic!("expected Applied")
    };
    assert_eq!((d.state.status, d.state.tries, d.exhausted_at), (DeliveryStatus::Pending, 0, None));
    assert_eq!(d.queued_at, Some(replay_at));
    assert_eq!(d.last_error_class, Some(ErrorClass::Permanent), "kept for the history");
    assert_eq!(d.tries.len(), 1, "the history stays");
    let events = Outbox::claim(&store, replay_at, replay_at + secs(30), 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].delivery_id, events[0].attempt, events[0].created_at), (dlv(1), 1, replay_at));
    assert_ne!(events[0].id, evt(1));
}

#[tokio::test]
async fn pending_without_enqueue_clears_queued_at_so_the_scheduler_takes_it() {
    let (_dir, store) = temp_store().await;
    store.accept(new_notification(1, t0())).await.unwrap();
    let claimed = DeliveryStore::claim(&store, dlv(1), t0(), t0() + secs(60)).await.unwrap().unwrap();
    let retry = DeliveryUpdate {
        push_try: Some(failed_try(t0(), ErrorClass::Transient)),
        last_error_class: Some(ErrorClass::Transient),
        ..DeliveryUpdate::state(DeliveryState {
            status: DeliveryStatus::Pending,
            not_before: t0() + secs(5),
            lease_until: None,
            tries: 1,
        })
    };
    let expected = Expectation { status: DeliveryStatus::Dispatching, tries: claimed.state.tries };
    let UpdateOutcome::Applied(d) = store.update(dlv(1), expected, retry, t0()).await.unwrap() else {
        panic!()
    };
    assert_eq!(d.queued_at, None);
    assert_eq!(store.enqueue_due(t0() + secs(4), t0(), 10).await.unwrap(), 0, "not due yet");
    assert_eq!(store.enqueue_due(t0() + secs(5), t0(), 10).await.unwrap(), 1);
    assert_eq!(store.enqueue_due(t0() + secs(6), t0(), 10).await.unwrap(), 0, "queued, not stale");
    // Queued at t0+5 s and never claimed: stale once `stale_before` passes it.
    assert_eq!(store.enqueue_due(t0() + secs(400), t0() + secs(6), 10).await.unwrap(), 1);
    let d = DeliveryStore::get(&store, dlv(1)).await.unwrap().unwrap();
    assert_eq!(d.queued_at, Some(t0() + secs(400)));
    let (count, _) = store.backlog().await.unwrap();
    assert_eq!(count, 3, "the accept's row plus two re-queues");
    let events = Outbox::claim(&store, t0() + secs(400), t0() + secs(430), 10).await.unwrap();
    assert!(events.iter().skip(1).all(|e| e.attempt == 2), "the next try is the second: {events:?}");
}

#[tokio::test]
async fn enqueue_due_respects_its_limit_and_takes_the_longest_due_first() {
    let (_dir, store) = temp_store().await;
    for n in 1..=5 {
        let mut new = new_notification(n, t0());
        new.deliveries[0].queued_at = None;
        new.deliveries[0].state = DeliveryState::pending(t0() + secs(10 - n as i64));
        new.outbox.clear();
        store.accept(new).await.unwrap();
    }
    assert_eq!(store.enqueue_due(t0() + secs(10), t0(), 2).await.unwrap(), 2);
    let events = Outbox::claim(&store, t0() + secs(10), t0() + secs(40), 10).await.unwrap();
    let mut queued: Vec<_> = events.iter().map(|e| e.delivery_id).collect();
    queued.sort();
    assert_eq!(queued, vec![dlv(4), dlv(5)]);
    assert_eq!(store.enqueue_due(t0() + secs(10), t0(), 10).await.unwrap(), 3);
    assert_eq!(store.enqueue_due(t0() + secs(10), t0(), 10).await.unwrap(), 0);
}

#[tokio::test]
async fn expired_leases_and_cancellation() {
    let (_dir, store) = temp_store().await;
    let mut new = new_notification(1, t0());
    let mut second = new.deliveries[0].clone();
    second.id = dlv(2);
    let mut third = second.clone();
    third.id = dlv(3);
    third.state = DeliveryState { status: DeliveryStatus::Sent, ..third.state };
    new.deliveries.extend([second, third]);
    store.accept(new).await.unwrap();
    DeliveryStore::claim(&store, dlv(1), t0(), t0() + secs(60)).await.unwrap().unwrap();
    assert!(store.expired_leases(t0() + secs(59), 10).await.unwrap().is_empty());
    let expired = store.expired_leases(t0() + secs(60), 10).await.unwrap();
    assert_eq!(expired.iter().map(|d| d.id).collect::<Vec<_>>(), vec![dlv(1)]);

    assert_eq!(store.cancel_pending(ntf(9), t0()).await.unwrap(), None);
    assert_eq!(store.cancel_pending(ntf(1), t0() + secs(1)).await.unwrap(), Some(1), "only dlv 2 is PENDING");
    let d = DeliveryStore::get(&store, dlv(2)).await.unwrap().unwrap();
    assert_eq!((d.state.status, d.updated_at), (DeliveryStatus::Cancelled, t0() + secs(1)));
    assert_eq!(store.cancel_pending(ntf(1), t0() + secs(2)).await.unwrap(), Some(0));
}

#[tokio::test]
async fn a_job_step_that_was_already_taken_undoes_the_item_change() {
    let (_dir, store) = temp_store().await;
    for n in 1..=2 {
        store.accept(new_notification(n, t0())).await.unwrap();
        exhaust(&store, n, t0() + secs(n as i64), ErrorClass::Permanent).await;
    }
    let job = BulkJob {
        id: JobId::from_parts(1, 1),
        action: BulkAction::Discard,
        filter: DlqFilter { channel: Some(Channel::Email), to: Some(t0() + secs(10)), ..Default::default() },
        reason: Some("cleanup".into()),
        actor: "ops".into(),
        state: JobState::Running,
        total_count: 2,
        processed_count: 0,
        success_count: 0,
        failure_count: 0,
        first_error: None,
        cursor: None,
        created_at: t0(),
        updated_at: t0(),
        lease_until: None,
    };
    store.create(&job).await.unwrap();
    assert_eq!(JobStore::get(&store, job.id).await.unwrap(), Some(job.clone()));
    let first = DlqCursor { exhausted_at: t0() + secs(1), id: dlv(1) };
    let discard = |from: Option<DlqCursor>, to: DlqCursor| DeliveryUpdate {
        discard_reason: Some("cleanup".into()),
        job_step: Some(JobStep { job_id: job.id, from, to }),
        ..DeliveryUpdate::state(DeliveryState {
            status: DeliveryStatus::Discarded,
            tries: 1,
            not_before: t0(),
            lease_until: None,
        })
    };
    let exhausted = Expectation { status: DeliveryStatus::Exhausted, tries: 1 };
    let now = t0() + secs(20);
    assert!(matches!(
        store.update(dlv(1), exhausted, discard(None, first), now).await.unwrap(),
        UpdateOutcome::Applied(_)
    ));
    // A second runner with the old cursor: the job moved on, so dlv 2 must not change either.
    let second = DlqCursor { exhausted_at: t0() + secs(2), id: dlv(2) };
    assert_eq!(
        store.update(dlv(2), exhausted, discard(None, second), now).await.unwrap(),
        UpdateOutcome::Conflict
    );
    assert_eq!(
        DeliveryStore::get(&store, dlv(2)).await.unwrap().unwrap().state.status,
        DeliveryStatus::Exhausted
    );
    // An unknown job is a conflict as well.
    let mut unknown_job = discard(Some(first), second);
    unknown_job.job_step.as_mut().unwrap().job_id = JobId::from_parts(9, 9);
    assert_eq!(store.update(dlv(2), exhausted, unknown_job, now).await.unwrap(), UpdateOutcome::Conflict);

    assert!(!store.record_failure(job.id, None, second, "stale", now).await.unwrap());
    assert!(store.record_failure(job.id, Some(first), second, "boom", now).await.unwrap());
    assert!(store.record_failure(job.id, Some(second), second, "later", now).await.unwrap());
    let stored = JobStore::get(&store, job.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.processed_count, stored.success_count, stored.failure_count, stored.first_error.as_deref()),
        (3, 1, 2, Some("boom"))
    );
    assert_eq!(stored.cursor, Some(second));
    assert_eq!(stored.filter, job.filter);

    let lease = now + secs(60);
    let claimed = store.claim_runnable(now, lease).await.unwrap().expect("running and free");
    assert_eq!(claimed.lease_until, Some(lease));
    assert_eq!(store.claim_runnable(now, lease).await.unwrap(), None, "leased");
    assert!(store.claim_runnable(lease, lease + secs(60)).await.unwrap().is_some(), "lease over");
    store.release(job.id).await.unwrap();
    assert!(store.claim_runnable(now, lease).await.unwrap().is_some(), "released");
    store.finish(job.id, JobState::PartialFailure, now).await.unwrap();
    let done = JobStore::get(&store, job.id).await.unwrap().unwrap();
    assert_eq!((done.state, done.lease_until), (JobState::PartialFailure, None));
    assert_eq!(store.claim_runnable(lease, lease).await.unwrap(), None, "finished jobs are not runnable");
    assert_eq!(JobStore::get(&store, JobId::from_parts(2, 2)).await.unwrap(), None);
}
