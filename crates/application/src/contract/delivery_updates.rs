//! [`DeliveryStore::update`](crate::ports::DeliveryStore::update): compare-and-set with the
//! outbox row and bulk-job progress it carries.

use chrono::{DateTime, Utc};
use hub_domain::Channel;
use hub_domain::delivery::{DeliveryState, DeliveryStatus, ErrorClass};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::{BulkJob, DeliveryRecord, DeliveryUpdate, DlqCursor, Expectation, JobStep, UpdateOutcome};

fn dispatching(tries: u32) -> Expectation {
    Expectation { status: DeliveryStatus::Dispatching, tries }
}

fn exhausted(tries: u32) -> Expectation {
    Expectation { status: DeliveryStatus::Exhausted, tries }
}

/// The operator's replay of an EXHAUSTED delivery: PENDING now, tries reset, re-enqueued.
fn replay(now: DateTime<Utc>) -> DeliveryUpdate {
    DeliveryUpdate { enqueue: true, ..DeliveryUpdate::state(DeliveryState::pending(now)) }
}

/// An update whose expectation holds is written as asked, with `updated_at = now`, and the
/// written delivery is returned.
pub async fn update_applies_when_status_and_tries_match(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email], at(0)).await;
    let claimed = claim(s, deliveries[0].id, at(1)).await;

    let state = DeliveryState { status: DeliveryStatus::Sent, lease_until: None, ..claimed.state };
    let update = DeliveryUpdate {
        push_try: Some(sent_try(at(1))),
        vendor_message_id: Some("vendor-1".to_owned()),
        ..DeliveryUpdate::state(state)
    };
    let outcome = s.deliveries.update(claimed.id, dispatching(1), update, at(2)).await.expect("update");
    let expected = DeliveryRecord {
        state,
        tries: vec![sent_try(at(1))],
        vendor_message_id: Some("vendor-1".to_owned()),
        updated_at: at(2),
        ..claimed.clone()
    };
    assert_eq!(outcome, UpdateOutcome::Applied(expected.clone()), "the written delivery is returned");
    assert_eq!(stored(s, claimed.id).await, expected, "the update is stored");
}

/// A status or try count that no longer matches is `Conflict`, and nothing of the update is
/// written: not the delivery, not its outbox row, not the job progress.
pub async fn update_with_a_stale_expectation_conflicts_and_changes_nothing(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email], at(0)).await;
    let claimed = claim(s, deliveries[0].id, at(1)).await;
    let job = bulk_job(1, at(0));
    s.jobs.create(&job).await.expect("create job");

    for stale in [Expectation { status: DeliveryStatus::Pending, tries: 1 }, dispatching(0), dispatching(2)] {
        let update = DeliveryUpdate {
            push_try: Some(failed_try(at(2), ErrorClass::Transient)),
            vendor_message_id: Some("vendor-1".to_owned()),
            last_error_class: Some(ErrorClass::Transient),
            enqueue: true,
            job_step: Some(JobStep {
                job_id: job.id,
                from: None,
                to: DlqCursor { exhausted_at: at(0), id: claimed.id },
            }),
            ..DeliveryUpdate::state(DeliveryState::pending(at(60)))
        };
        let outcome = s.deliveries.update(claimed.id, stale, update, at(2)).await.expect("update");
        assert_eq!(outcome, UpdateOutcome::Conflict, "expecting {stale:?} of a DISPATCHING delivery, try 1");
    }
    assert_eq!(stored(s, claimed.id).await, claimed, "the delivery is unchanged");
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (0, None), "no outbox row written");
    let job_now = s.jobs.get(job.id).await.expect("get job");
    assert_eq!(job_now, Some(job), "the job did not advance");
}

/// An update of an unknown delivery is `NotFound`.
pub async fn update_of_an_unknown_delivery_is_not_found(s: &StoreParts) {
    seed(s, 1, &[Channel::Email], at(0)).await;
    let update = DeliveryUpdate::state(DeliveryState::pending(at(1)));
    let outcome = s.deliveries.update(delivery_id(999), dispatching(1), update, at(1)).await.expect("update");
    assert_eq!(outcome, UpdateOutcome::NotFound);
}

/// Entering EXHAUSTED sets `exhausted_at = now`; leaving it (a replay) clears it.
pub async fn update_to_exhausted_sets_exhausted_at_and_leaving_it_clears_it(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email], at(0)).await;
    let dead = exhaust(s, deliveries[0].id, at(5), Some(ErrorClass::Permanent)).await;
    assert_eq!(dead.state.status, DeliveryStatus::Exhausted);
    assert_eq!(dead.exhausted_at, Some(at(5)), "exhausted_at is the instant of the update");
    assert_eq!(dead.last_error_class, Some(ErrorClass::Permanent));
    assert_eq!(stored(s, dead.id).await, dead);

    let replayed = apply(s, dead.id, exhausted(1), replay(at(20)), at(20)).await;
    assert_eq!(replayed.state, DeliveryState::pending(at(20)), "PENDING again, tries reset");
    assert_eq!(replayed.exhausted_at, None, "leaving EXHAUSTED clears exhausted_at");
    assert_eq!(stored(s, dead.id).await, replayed);
}

/// Back to PENDING without `enqueue` (a retry later) clears `queued_at`, so the due scheduler
/// queues it again when it is due.
pub async fn update_back_to_pending_without_enqueue_clears_queued_at(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email], at(0)).await;
    assert_eq!(s.deliveries.enqueue_due(at(1), at(-300), 10).await.expect("enqueue_due"), 1);
    assert_eq!(stored(s, deliveries[0].id).await.queued_at, Some(at(1)), "queued by the scheduler");
    let claimed = claim(s, deliveries[0].id, at(2)).await;

    let update = DeliveryUpdate {
        push_try: Some(failed_try(at(2), ErrorClass::Timeout)),
        last_error_class: Some(ErrorClass::Timeout),
        ..DeliveryUpdate::state(DeliveryState { tries: 1, ..DeliveryState::pending(at(60)) })
    };
    let retry = apply(s, claimed.id, dispatching(1), update, at(3)).await;
    assert_eq!(retry.queued_at, None, "PENDING without enqueue is not queued");
    assert_eq!(retry.state, DeliveryState { tries: 1, ..DeliveryState::pending(at(60)) });
    assert_eq!(stored(s, claimed.id).await, retry);
}

/// `enqueue` writes exactly one outbox row for the delivery (for its next try) and sets
/// `queued_at = now`, in the same write.
pub async fn update_with_enqueue_writes_one_outbox_row_and_marks_it_queued(s: &StoreParts) {
    let (record, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms], at(0)).await;
    let dead = exhaust(s, deliveries[0].id, at(5), Some(ErrorClass::Permanent)).await;
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (0, None), "nothing queued yet");

    let replayed = apply(s, dead.id, exhausted(1), replay(at(20)), at(20)).await;
    assert_eq!(replayed.queued_at, Some(at(20)), "an enqueued delivery is marked queued now");
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (1, Some(at(20))), "one outbox row");

    let events = s.outbox.claim(at(20), at(50), 10).await.expect("claim outbox");
    assert_eq!(events.len(), 1, "one claimable row, got {events:?}");
    let e = &events[0];
    assert_eq!((e.delivery_id, e.notification_id), (dead.id, record.id), "the row points at the delivery");
    assert_eq!((e.channel, e.priority), (Channel::Email, dead.priority), "on its channel and lane");
    assert_eq!(e.attempt, 1, "the replayed delivery's next try is its first");
    assert_eq!((e.created_at, e.publish_attempts), (at(20), 0), "written now, never failed");
}

/// Each update appends its try to the history; `vendor_message_id`, `last_error_class` and
/// `discard_reason` given as `None` keep the stored values.
pub async fn update_appends_tries_and_keeps_optional_fields_given_as_none(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms], at(0)).await;
    let id = deliveries[0].id;
    claim(s, id, at(1)).await;
    let failure = DeliveryUpdate {
        push_try: Some(failed_try(at(1), ErrorClass::Transient)),
        last_error_class: Some(ErrorClass::Transient),
        ..DeliveryUpdate::state(DeliveryState { tries: 1, ..DeliveryState::pending(at(10)) })
    };
    apply(s, id, dispatching(1), failure, at(2)).await;
    let claimed = claim(s, id, at(10)).await;
    let state = DeliveryState { status: DeliveryStatus::Sent, lease_until: None, ..claimed.state };
    let success = DeliveryUpdate {
        push_try: Some(sent_try(at(10))),
        vendor_message_id: Some("vendor-1".to_owned()),
        ..DeliveryUpdate::state(state)
    };
    let sent = apply(s, id, dispatching(2), success, at(11)).await;
    assert_eq!(sent.tries, vec![failed_try(at(1), ErrorClass::Transient), sent_try(at(10))], "oldest first");
    assert_eq!(sent.last_error_class, Some(ErrorClass::Transient), "error class kept when None");

    let delivered = DeliveryState { status: DeliveryStatus::Delivered, ..state };
    let receipt = apply(
        s,
        id,
        Expectation { status: DeliveryStatus::Sent, tries: 2 },
        DeliveryUpdate::state(delivered),
        at(12),
    )
    .await;
    assert_eq!(receipt.vendor_message_id.as_deref(), Some("vendor-1"), "vendor id kept when None");
    assert_eq!(receipt.last_error_class, Some(ErrorClass::Transient), "error class kept when None");
    assert_eq!(receipt.tries.len(), 2, "no try appended when push_try is None");

    let dead = exhaust(s, deliveries[1].id, at(20), Some(ErrorClass::Bounced)).await;
    let discarded = DeliveryState { status: DeliveryStatus::Discarded, ..dead.state };
    let discard =
        DeliveryUpdate { discard_reason: Some("spam trap".to_owned()), ..DeliveryUpdate::state(discarded) };
    let gone = apply(s, dead.id, exhausted(1), discard, at(21)).await;
    assert_eq!(gone.discard_reason.as_deref(), Some("spam trap"), "the discard reason is stored");
    let expected = Expectation { status: DeliveryStatus::Discarded, tries: 1 };
    let touched = apply(s, dead.id, expected, DeliveryUpdate::state(discarded), at(22)).await;
    assert_eq!(touched.discard_reason.as_deref(), Some("spam trap"), "discard reason kept when None");
}

/// A job step whose `from` is not the job's cursor (the item was already processed) is
/// `Conflict`: neither the delivery nor the job changes, and no outbox row is written.
pub async fn a_job_step_from_a_stale_cursor_conflicts_and_changes_nothing(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms], at(0)).await;
    let first = exhaust(s, deliveries[0].id, at(5), Some(ErrorClass::Permanent)).await;
    let second = exhaust(s, deliveries[1].id, at(6), Some(ErrorClass::Permanent)).await;
    let job = bulk_job(1, at(10));
    s.jobs.create(&job).await.expect("create job");

    let step = JobStep { job_id: job.id, from: Some(cursor_of(&first)), to: cursor_of(&second) };
    let update = DeliveryUpdate { job_step: Some(step), ..replay(at(20)) };
    let outcome = s.deliveries.update(second.id, exhausted(1), update, at(20)).await.expect("update");
    assert_eq!(outcome, UpdateOutcome::Conflict, "the job's cursor is still None, not the step's from");
    assert_eq!(stored(s, second.id).await, second, "the delivery is unchanged");
    assert_eq!(s.jobs.get(job.id).await.expect("get job"), Some(job), "the job is unchanged");
    assert_eq!(s.outbox.backlog().await.expect("backlog").0, 0, "no outbox row written");
}

/// A job step from the job's cursor is written with the item: the cursor moves to `to` and
/// `processed_count` and `success_count` grow by one; repeating the step then conflicts.
pub async fn a_matching_job_step_advances_the_job_in_the_same_write(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms], at(0)).await;
    let first = exhaust(s, deliveries[0].id, at(5), Some(ErrorClass::Permanent)).await;
    let second = exhaust(s, deliveries[1].id, at(6), Some(ErrorClass::Permanent)).await;
    let job = bulk_job(1, at(10));
    s.jobs.create(&job).await.expect("create job");

    let step = JobStep { job_id: job.id, from: None, to: cursor_of(&first) };
    let update = DeliveryUpdate { job_step: Some(step.clone()), ..replay(at(20)) };
    let replayed = apply(s, first.id, exhausted(1), update, at(20)).await;
    assert_eq!(replayed.state, DeliveryState::pending(at(20)));
    let after = s.jobs.get(job.id).await.expect("get job").expect("the job");
    let expected = BulkJob {
        cursor: Some(cursor_of(&first)),
        processed_count: 1,
        success_count: 1,
        updated_at: at(20),
        ..job.clone()
    };
    assert_eq!(after, expected, "cursor, processed and success counts advance with the item");

    let repeat = DeliveryUpdate { job_step: Some(step), ..replay(at(21)) };
    let outcome = s.deliveries.update(second.id, exhausted(1), repeat, at(21)).await.expect("update");
    assert_eq!(outcome, UpdateOutcome::Conflict, "the step from None was already taken");
    assert_eq!(stored(s, second.id).await, second, "the conflicting item is unchanged");

    let next = JobStep { job_id: job.id, from: Some(cursor_of(&first)), to: cursor_of(&second) };
    let update = DeliveryUpdate { job_step: Some(next), ..replay(at(22)) };
    apply(s, second.id, exhausted(1), update, at(22)).await;
    let after = s.jobs.get(job.id).await.expect("get job").expect("the job");
    assert_eq!(after.cursor, Some(cursor_of(&second)));
    assert_eq!((after.processed_count, after.success_count, after.failure_count), (2, 2, 0));
    assert_eq!(s.outbox.backlog().await.expect("backlog").0, 2, "one outbox row per replayed item");
}
