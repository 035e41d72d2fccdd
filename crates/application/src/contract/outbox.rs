//! [`Outbox`](crate::ports::Outbox): the relay's claims, publication marks, purge and lag.

use hub_domain::{Channel, EventId, Kind};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::OutboxEvent;

/// Accepts one notification with an EMAIL delivery per row `(n, created_at, next_attempt_at)`
/// (seconds after `t0`) and the rows as its outbox; returns the rows in the order given.
async fn rows(s: &StoreParts, specs: &[(u128, i64, i64)]) -> Vec<OutboxEvent> {
    let record = notification(1, "alice", Kind::Transactional, t0());
    let deliveries: Vec<_> = specs.iter().map(|(n, _, _)| delivery(&record, *n, Channel::Email)).collect();
    let events: Vec<OutboxEvent> = deliveries
        .iter()
        .zip(specs)
        .map(|(d, (n, created, next))| OutboxEvent {
            next_attempt_at: at(*next),
            ..outbox_event(d, *n, at(*created))
        })
        .collect();
    let mut new = new_notification(record, deliveries);
    new.outbox = events.clone();
    accept(s, new).await;
    events
}

fn ids(events: &[OutboxEvent]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

/// Claims return unpublished rows with `next_attempt_at <= now`, oldest `created_at` first,
/// at most `limit`, exactly as stored.
pub async fn outbox_claim_returns_due_unpublished_rows_oldest_first(s: &StoreParts) {
    let e = rows(s, &[(1, 2, 2), (2, 0, 0), (3, 1, 1), (4, 3, 100)]).await;

    let first = s.outbox.claim(at(10), at(40), 2).await.expect("claim");
    assert_eq!(first, vec![e[1].clone(), e[2].clone()], "the two oldest due rows, as stored");
    let rest = s.outbox.claim(at(10), at(40), 10).await.expect("claim");
    assert_eq!(rest, vec![e[0].clone()], "the remaining due row; the row due at t0+100s is not claimed");

    let later = s.outbox.claim(at(100), at(130), 10).await.expect("claim");
    assert_eq!(
        ids(&later),
        vec![e[1].id, e[2].id, e[0].id, e[3].id],
        "after the lease, all due rows, oldest first"
    );
}

/// Claimed rows are hidden from other claims until `lease_until`; a row neither published
/// nor failed is claimable again after it.
pub async fn outbox_claim_hides_rows_until_the_lease_ends(s: &StoreParts) {
    let e = rows(s, &[(1, 0, 0), (2, 1, 1)]).await;
    assert_eq!(s.outbox.claim(at(2), at(30), 10).await.expect("claim"), e, "both rows claimed");
    let during = s.outbox.claim(at(10), at(40), 10).await.expect("claim");
    assert!(during.is_empty(), "leased rows must be hidden until t0+30s, got {during:?}");
    let after = s.outbox.claim(at(31), at(61), 10).await.expect("claim");
    assert_eq!(after, e, "after the lease the rows are claimable again, unchanged");
}

/// Published rows are never claimed again and leave the backlog; unknown ids are ignored.
pub async fn mark_published_removes_rows_from_claims_and_backlog(s: &StoreParts) {
    let e = rows(s, &[(1, 0, 0), (2, 1, 1), (3, 2, 2)]).await;
    assert_eq!(s.outbox.claim(at(5), at(35), 10).await.expect("claim").len(), 3);
    s.outbox.mark_published(&[e[0].id, e[2].id, event_id(999)], at(6)).await.expect("mark_published");

    assert_eq!(s.outbox.backlog().await.expect("backlog"), (1, Some(at(1))), "one unpublished row left");
    let again = s.outbox.claim(at(40), at(70), 10).await.expect("claim");
    assert_eq!(again, vec![e[1].clone()], "only the unpublished row is claimed after the lease");
}

/// A failed publication counts one more attempt and hides the row until `retry_at` (whatever
/// the lease said); it is then claimable with the new count.
pub async fn mark_failed_counts_the_attempt_and_delays_the_row(s: &StoreParts) {
    let e = rows(s, &[(1, 0, 0)]).await;
    assert_eq!(s.outbox.claim(at(0), at(300), 10).await.expect("claim").len(), 1);
    s.outbox.mark_failed(&[e[0].id], at(60)).await.expect("mark_failed");
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (1, Some(at(0))), "a failed row is unpublished");

    let early = s.outbox.claim(at(59), at(89), 10).await.expect("claim");
    assert!(early.is_empty(), "not retried before retry_at, got {early:?}");
    let retry = s.outbox.claim(at(60), at(90), 10).await.expect("claim");
    let expected = OutboxEvent { publish_attempts: 1, next_attempt_at: at(60), ..e[0].clone() };
    assert_eq!(retry, vec![expected], "claimable at retry_at, with one failed attempt counted");

    s.outbox.mark_failed(&[e[0].id], at(120)).await.expect("mark_failed");
    let second = s.outbox.claim(at(120), at(150), 10).await.expect("claim");
    assert_eq!(second.iter().map(|r| r.publish_attempts).collect::<Vec<_>>(), vec![2], "two failed attempts");
}

/// Purge deletes at most `limit` rows published strictly before `older_than`, never an
/// unpublished row, and returns how many it deleted.
pub async fn purge_published_deletes_only_rows_published_before_the_cutoff(s: &StoreParts) {
    let e = rows(s, &[(1, 0, 0), (2, 1, 1), (3, 2, 2), (4, 3, 3)]).await;
    assert_eq!(s.outbox.claim(at(5), at(35), 10).await.expect("claim").len(), 4);
    s.outbox.mark_published(&[e[0].id, e[1].id], at(10)).await.expect("mark_published");
    s.outbox.mark_published(&[e[2].id], at(20)).await.expect("mark_published");

    let purge = |older_than, limit| s.outbox.purge_published(older_than, limit);
    assert_eq!(purge(at(10), 10).await.expect("purge"), 0, "published at exactly the cutoff is kept");
    assert_eq!(purge(at(20), 1).await.expect("purge"), 1, "limit 1");
    assert_eq!(purge(at(20), 10).await.expect("purge"), 1, "the other row published at t0+10s");
    assert_eq!(purge(at(21), 10).await.expect("purge"), 1, "the row published at t0+20s");
    assert_eq!(purge(at(1000), 10).await.expect("purge"), 0, "an unpublished row is never purged");
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (1, Some(at(3))), "the unpublished row stays");
}

/// The backlog counts unpublished rows (leased or failed ones too) and reports the oldest
/// one's `created_at`; `(0, None)` when everything is published.
pub async fn backlog_counts_unpublished_rows_and_the_oldest_creation(s: &StoreParts) {
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (0, None), "an empty outbox");
    let e = rows(s, &[(1, 5, 5), (2, 3, 3), (3, 8, 8)]).await;
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (3, Some(at(3))), "three rows, oldest at t0+3s");

    assert_eq!(s.outbox.claim(at(10), at(40), 10).await.expect("claim").len(), 3);
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (3, Some(at(3))), "leased rows are unpublished");
    s.outbox.mark_failed(&[e[1].id], at(100)).await.expect("mark_failed");
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (3, Some(at(3))), "failed rows are unpublished");

    s.outbox.mark_published(&[e[1].id], at(11)).await.expect("mark_published");
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (2, Some(at(5))), "the oldest was published");
    s.outbox.mark_published(&[e[0].id, e[2].id], at(12)).await.expect("mark_published");
    assert_eq!(s.outbox.backlog().await.expect("backlog"), (0, None), "everything published");
}
