//! [`AuditLog`](crate::ports::AuditLog) and [`JobStore`](crate::ports::JobStore).

use chrono::{DateTime, Utc};
use hub_domain::{AuditId, JobId};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::{AuditAction, AuditFilter, BulkJob, DlqCursor, JobState};

/// Ids of the whole audit listing for `filter`, `page` entries at a time.
async fn audit_ids(s: &StoreParts, filter: &AuditFilter, page: usize) -> Vec<AuditId> {
    let mut ids = Vec::new();
    let mut after: Option<(DateTime<Utc>, AuditId)> = None;
    loop {
        let entries = s.audit.list(filter, after, page).await.expect("audit list");
        assert!(entries.len() <= page, "audit list returned {} entries for a limit of {page}", entries.len());
        let Some(last) = entries.last() else { return ids };
        after = Some((last.at, last.id));
        ids.extend(entries.iter().map(|e| e.id));
        assert!(ids.len() <= 100, "audit listing does not end (a cursor that does not advance?)");
    }
}

async fn job(s: &StoreParts, id: JobId) -> BulkJob {
    s.jobs.get(id).await.expect("get job").unwrap_or_else(|| panic!("job {id} is stored"))
}

/// Entries come back exactly as recorded, newest first over `(at, id)`, and paging with the
/// cursor returns each entry once.
pub async fn audit_lists_newest_first_with_a_cursor(s: &StoreParts) {
    let specs = [(1, 10), (2, 20), (3, 20), (4, 30), (5, 20), (6, 0)];
    let entries: Vec<_> =
        specs.iter().map(|(n, when)| audit_entry(*n, at(*when), AuditAction::DlqReplay)).collect();
    for e in &entries {
        s.audit.record(e.clone()).await.expect("record");
    }
    let first = s.audit.list(&AuditFilter::default(), None, 2).await.expect("audit list");
    assert_eq!(
        first,
        vec![entries[3].clone(), entries[4].clone()],
        "entries read back exactly, newest first"
    );

    let expected: Vec<AuditId> = [4, 5, 3, 2, 1, 6].into_iter().map(audit_id).collect();
    for page in [1, 2, 4] {
        assert_eq!(audit_ids(s, &AuditFilter::default(), page).await, expected, "pages of {page}");
    }
}

/// The action filter matches exactly; `from` is inclusive and `to` exclusive.
pub async fn audit_filters_by_action_and_time(s: &StoreParts) {
    let specs = [
        (1, 0, AuditAction::DlqReplay),
        (2, 10, AuditAction::DlqDiscard),
        (3, 20, AuditAction::DlqReplay),
        (4, 30, AuditAction::CallbackApplied),
        (5, 40, AuditAction::DlqReplay),
    ];
    for (n, when, action) in specs {
        s.audit.record(audit_entry(n, at(when), action)).await.expect("record");
    }
    let ids = |v: &[u128]| v.iter().map(|n| audit_id(*n)).collect::<Vec<_>>();
    let replays = AuditFilter { action: Some(AuditAction::DlqReplay), ..Default::default() };
    assert_eq!(audit_ids(s, &replays, 10).await, ids(&[5, 3, 1]), "action filter");
    let window = AuditFilter { from: Some(at(10)), to: Some(at(30)), ..Default::default() };
    assert_eq!(audit_ids(s, &window, 10).await, ids(&[3, 2]), "[from, to)");
    let both = AuditFilter { action: Some(AuditAction::DlqReplay), from: Some(at(20)), to: None };
    assert_eq!(audit_ids(s, &both, 10).await, ids(&[5, 3]), "action and from");
    let none = AuditFilter { action: Some(AuditAction::DlqBulkDiscard), ..Default::default() };
    assert_eq!(audit_ids(s, &none, 10).await, ids(&[]), "no match");
}

/// A created job reads back exactly; an unknown id is `None`.
pub async fn job_create_then_get(s: &StoreParts) {
    let mut j = bulk_job(1, at(0));
    j.reason = Some("cleanup".to_owned());
    s.jobs.create(&j).await.expect("create job");
    assert_eq!(s.jobs.get(j.id).await.expect("get job"), Some(j), "the job reads back as created");
    assert_eq!(s.jobs.get(job_id(9)).await.expect("get job"), None, "an unknown job");
}

/// Claim leases one RUNNING job whose lease is free or over, until `lease_until`; it is not
/// claimed again before the lease ends or is released; finished jobs are never claimed.
pub async fn claim_runnable_leases_one_running_job_until_the_lease_ends_or_release(s: &StoreParts) {
    let running = bulk_job(1, at(0));
    let done = BulkJob { state: JobState::Succeeded, ..bulk_job(2, at(0)) };
    s.jobs.create(&running).await.expect("create job");
    s.jobs.create(&done).await.expect("create job");

    let claimed = s.jobs.claim_runnable(at(0), at(30)).await.expect("claim").expect("a RUNNING job");
    assert_eq!(claimed, BulkJob { lease_until: Some(at(30)), ..running.clone() }, "leased until lease_until");
    assert_eq!(job(s, running.id).await, claimed, "the lease is stored");
    let leased = s.jobs.claim_runnable(at(10), at(40)).await.expect("claim");
    assert!(leased.is_none(), "a leased job is not claimed again, got {leased:?}");

    s.jobs.release(running.id).await.expect("release");
    let released = s.jobs.claim_runnable(at(10), at(40)).await.expect("claim").expect("the released job");
    assert_eq!((released.id, released.lease_until), (running.id, Some(at(40))), "claimable after release");
    let expired =
        s.jobs.claim_runnable(at(41), at(71)).await.expect("claim").expect("the job whose lease ended");
    assert_eq!(
        (expired.id, expired.lease_until),
        (running.id, Some(at(71))),
        "claimable after the lease ended"
    );

    let second = bulk_job(3, at(0));
    s.jobs.create(&second).await.expect("create job");
    let a = s.jobs.claim_runnable(at(80), at(110)).await.expect("claim").expect("one job");
    let b = s.jobs.claim_runnable(at(80), at(110)).await.expect("claim").expect("the other job");
    let mut ids = vec![a.id, b.id];
    ids.sort();
    assert_eq!(ids, vec![running.id, second.id], "each claim leases one job");
    let none = s.jobs.claim_runnable(at(80), at(110)).await.expect("claim");
    assert!(none.is_none(), "both RUNNING jobs are leased, the finished one never runs, got {none:?}");
}

/// A failure is recorded only from the job's current cursor: processed and failed + 1, cursor
/// moved, first error kept; from a stale cursor (or for an unknown job) it is `false`.
pub async fn record_failure_is_guarded_by_the_cursor_and_keeps_the_first_error(s: &StoreParts) {
    let j = bulk_job(1, at(0));
    s.jobs.create(&j).await.expect("create job");
    let c1 = DlqCursor { exhausted_at: at(5), id: delivery_id(1) };
    let c2 = DlqCursor { exhausted_at: at(6), id: delivery_id(2) };

    assert!(s.jobs.record_failure(j.id, None, c1, "boom 1", at(10)).await.expect("record_failure"));
    let after = job(s, j.id).await;
    let expected = BulkJob {
        processed_count: 1,
        failure_count: 1,
        first_error: Some("boom 1".to_owned()),
        cursor: Some(c1),
        updated_at: at(10),
        ..j.clone()
    };
    assert_eq!(after, expected, "counted as processed and failed, cursor advanced");

    let stale = s.jobs.record_failure(j.id, None, c2, "boom x", at(11)).await.expect("record_failure");
    assert!(!stale, "the cursor is no longer None");
    assert_eq!(job(s, j.id).await, expected, "a stale failure changes nothing");

    assert!(s.jobs.record_failure(j.id, Some(c1), c2, "boom 2", at(12)).await.expect("record_failure"));
    let after = job(s, j.id).await;
    assert_eq!((after.processed_count, after.success_count, after.failure_count), (2, 0, 2));
    assert_eq!(after.first_error.as_deref(), Some("boom 1"), "the first error is kept");
    assert_eq!(after.cursor, Some(c2));
    assert!(
        !s.jobs.record_failure(job_id(9), None, c1, "x", at(13)).await.expect("record_failure"),
        "unknown job"
    );
}

/// Finish sets the final state and releases the lease; a finished job is never claimed.
pub async fn finish_sets_the_final_state_and_releases_the_lease(s: &StoreParts) {
    let j = bulk_job(1, at(0));
    s.jobs.create(&j).await.expect("create job");
    s.jobs.claim_runnable(at(0), at(300)).await.expect("claim").expect("the job");

    s.jobs.finish(j.id, JobState::PartialFailure, at(20)).await.expect("finish");
    let after = job(s, j.id).await;
    assert_eq!(after.state, JobState::PartialFailure, "the final state is stored");
    assert_eq!(after.lease_until, None, "the lease is released");
    let none = s.jobs.claim_runnable(at(400), at(430)).await.expect("claim");
    assert!(none.is_none(), "a finished job is never claimed, got {none:?}");
}
