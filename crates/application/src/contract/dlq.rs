//! [`DlqStore`](crate::ports::DlqStore): the EXHAUSTED deliveries, listed, counted and
//! grouped.

use hub_domain::delivery::{DeliveryState, DeliveryStatus, ErrorClass};
use hub_domain::{Channel, DeliveryId};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::{DeliveryUpdate, DlqCursor, DlqFilter, DlqStatRow, Expectation};

/// Ids of the whole DLQ listing for `filter`, `page` items at a time.
async fn dlq_ids(s: &StoreParts, filter: &DlqFilter, page: usize) -> Vec<DeliveryId> {
    let mut ids = Vec::new();
    let mut after: Option<DlqCursor> = None;
    loop {
        let items = s.dlq.list(filter, after, page).await.expect("dlq list");
        assert!(items.len() <= page, "dlq list returned {} items for a limit of {page}", items.len());
        let Some(last) = items.last() else { return ids };
        after = Some(cursor_of(last));
        ids.extend(items.iter().map(|d| d.id));
        assert!(ids.len() <= 100, "dlq listing does not end (a cursor that does not advance?)");
    }
}

/// The listing holds EXHAUSTED deliveries only, oldest `exhausted_at` first, as stored;
/// a replayed delivery leaves it. `count` agrees.
pub async fn dlq_lists_only_exhausted_deliveries_oldest_first(s: &StoreParts) {
    let channels = [Channel::Email, Channel::Sms, Channel::Push, Channel::InApp, Channel::Slack];
    let (_, deliveries) = seed(s, 1, &channels, at(0)).await;
    let sms = exhaust(s, deliveries[1].id, at(30), Some(ErrorClass::Permanent)).await;
    let email = exhaust(s, deliveries[0].id, at(10), Some(ErrorClass::Transient)).await;
    let push = exhaust(s, deliveries[2].id, at(20), Some(ErrorClass::Unregistered)).await;
    let slack = claim(s, deliveries[4].id, at(1)).await;
    let state = DeliveryState { status: DeliveryStatus::Sent, lease_until: None, ..slack.state };
    let expected = Expectation { status: DeliveryStatus::Dispatching, tries: 1 };
    apply(s, slack.id, expected, DeliveryUpdate::state(state), at(2)).await;

    let all = DlqFilter::default();
    let listed = s.dlq.list(&all, None, 10).await.expect("dlq list");
    assert_eq!(listed, vec![email, push.clone(), sms.clone()], "EXHAUSTED only, oldest exhausted_at first");
    assert_eq!(s.dlq.count(&all).await.expect("dlq count"), 3, "count of EXHAUSTED deliveries");
    assert_eq!(s.dlq.list(&all, None, 2).await.expect("dlq list").len(), 2, "limit 2");

    let replay = DeliveryUpdate { enqueue: true, ..DeliveryUpdate::state(DeliveryState::pending(at(40))) };
    let expected = Expectation { status: DeliveryStatus::Exhausted, tries: 1 };
    apply(s, push.id, expected, replay, at(40)).await;
    assert_eq!(
        dlq_ids(s, &all, 10).await,
        vec![deliveries[0].id, sms.id],
        "a replayed delivery left the DLQ"
    );
    assert_eq!(s.dlq.count(&all).await.expect("dlq count"), 2);
}

/// Paging with the cursor over `(exhausted_at, id)` returns every item once, equal instants
/// ordered by id.
pub async fn dlq_list_pages_with_a_cursor_over_equal_instants(s: &StoreParts) {
    let channels = [Channel::Email; 5];
    let (_, d) = seed(s, 1, &channels, at(0)).await;
    for (i, when) in [(3, 20), (0, 10), (4, 30), (1, 20), (2, 20)] {
        exhaust(s, d[i].id, at(when), Some(ErrorClass::Timeout)).await;
    }
    let expected: Vec<DeliveryId> = d.iter().map(|x| x.id).collect();
    for page in [1, 2, 3] {
        assert_eq!(dlq_ids(s, &DlqFilter::default(), page).await, expected, "pages of {page}");
    }
}

/// Channel, error class and `[from, to)` filters apply to both list and count.
pub async fn dlq_filters_by_channel_error_class_and_time(s: &StoreParts) {
    let channels = [Channel::Email, Channel::Email, Channel::Sms, Channel::Sms];
    let (_, d) = seed(s, 1, &channels, at(0)).await;
    exhaust(s, d[0].id, at(10), Some(ErrorClass::Transient)).await;
    exhaust(s, d[1].id, at(20), Some(ErrorClass::Permanent)).await;
    exhaust(s, d[2].id, at(30), Some(ErrorClass::Transient)).await;
    exhaust(s, d[3].id, at(40), Some(ErrorClass::Transient)).await;
    let cases = [
        (DlqFilter { channel: Some(Channel::Email), ..Default::default() }, vec![0, 1], "channel EMAIL"),
        (
            DlqFilter { error_class: Some(ErrorClass::Transient), ..Default::default() },
            vec![0, 2, 3],
            "TRANSIENT",
        ),
        (DlqFilter { from: Some(at(20)), to: Some(at(40)), ..Default::default() }, vec![1, 2], "[from, to)"),
        (
            DlqFilter {
                channel: Some(Channel::Sms),
                error_class: Some(ErrorClass::Transient),
                from: Some(at(35)),
                to: None,
            },
            vec![3],
            "all filters together",
        ),
        (DlqFilter { error_class: Some(ErrorClass::Bounced), ..Default::default() }, vec![], "no match"),
    ];
    for (filter, indexes, what) in cases {
        let expected: Vec<DeliveryId> = indexes.iter().map(|i: &usize| d[*i].id).collect();
        assert_eq!(dlq_ids(s, &filter, 10).await, expected, "dlq list with {what}");
        let count = s.dlq.count(&filter).await.expect("dlq count");
        assert_eq!(count, expected.len() as u64, "dlq count with {what}");
    }
}

/// Stats count EXHAUSTED deliveries with `exhausted_at` in `[from, to)`, grouped by
/// epoch-aligned bucket, channel and error class, ordered by bucket, channel (canonical
/// order) and error class (unknown first, then declaration order).
pub async fn dlq_stats_count_by_epoch_aligned_bucket_channel_and_error_class(s: &StoreParts) {
    let channels = [
        Channel::Email,
        Channel::Email,
        Channel::Email,
        Channel::Email,
        Channel::Push,
        Channel::Email,
        Channel::Sms,
        Channel::Sms,
        Channel::InApp,
    ];
    // The last (IN_APP) delivery stays PENDING and must not be counted.
    let (_, d) = seed(s, 1, &channels, at(0)).await;
    let items: [(i64, Option<ErrorClass>); 8] = [
        (1799, Some(ErrorClass::Transient)),
        (1800, Some(ErrorClass::Transient)),
        (2400, Some(ErrorClass::Transient)),
        (3000, Some(ErrorClass::Permanent)),
        (3300, Some(ErrorClass::Transient)),
        (3400, None),
        (3700, Some(ErrorClass::Timeout)),
        (7200, Some(ErrorClass::Timeout)),
    ];
    for (x, (when, class)) in d.iter().zip(items) {
        exhaust(s, x.id, at(when), class).await;
    }
    let row =
        |bucket_start, channel, error_class, count| DlqStatRow { bucket_start, channel, error_class, count };

    let hourly = s.dlq.stats(at(1800), at(7200), 3600).await.expect("dlq stats");
    let expected = vec![
        row(at(0), Channel::Push, Some(ErrorClass::Transient), 1),
        row(at(0), Channel::Email, None, 1),
        row(at(0), Channel::Email, Some(ErrorClass::Transient), 2),
        row(at(0), Channel::Email, Some(ErrorClass::Permanent), 1),
        row(at(3600), Channel::Sms, Some(ErrorClass::Timeout), 1),
    ];
    assert_eq!(hourly, expected, "hourly buckets start on the hour (epoch-aligned), not at `from`");

    let daily = s.dlq.stats(at(1800), at(7200), 86_400).await.expect("dlq stats");
    let midnight = at(-3 * 3600);
    let expected: Vec<DlqStatRow> =
        expected.into_iter().map(|r| DlqStatRow { bucket_start: midnight, ..r }).collect();
    assert_eq!(daily, expected, "a daily bucket starts at midnight UTC");

    let empty = s.dlq.stats(at(8000), at(9000), 3600).await.expect("dlq stats");
    assert!(empty.is_empty(), "no EXHAUSTED delivery in the range, got {empty:?}");
}
