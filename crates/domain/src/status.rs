//! A notification's status, derived from its deliveries and never stored (SPEC §3, §5.1).

use chrono::{DateTime, Utc};

use crate::delivery::{DeliveryState, DeliveryStatus};
use crate::kind::named_enum;

named_enum!(
    /// The status of a notification as a whole, as shown by `GET /api/v1/notifications/{id}`.
    NotificationStatus {
        /// Every channel was skipped; nothing was created to send.
        Suppressed => "SUPPRESSED",
        /// Nothing dispatched yet; every open delivery waits for a later time.
        Scheduled => "SCHEDULED",
        /// Deliveries are due, being dispatched, retrying, or some already went out.
        InProgress => "IN_PROGRESS",
        /// Every delivery was sent or delivered.
        Completed => "COMPLETED",
        /// Some deliveries went out and some failed.
        PartiallyFailed => "PARTIALLY_FAILED",
        /// Every delivery that was not cancelled failed.
        Failed => "FAILED",
        /// The caller cancelled it, wholly or the part that had not gone out.
        Cancelled => "CANCELLED",
    }
);

/// What the status derivation needs to know about one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySummary {
    /// The delivery's status.
    pub status: DeliveryStatus,
    /// Dispatch tries since creation or the last replay.
    pub tries: u32,
    /// Not to be dispatched before this instant.
    pub not_before: DateTime<Utc>,
}

impl From<DeliveryState> for DeliverySummary {
    fn from(state: DeliveryState) -> Self {
        Self { status: state.status, tries: state.tries, not_before: state.not_before }
    }
}

/// Derives a notification's status from its deliveries at `now`; the order of `deliveries`
/// does not matter. The first rule that applies wins:
///
/// 1. no deliveries → SUPPRESSED;
/// 2. every delivery CANCELLED → CANCELLED;
/// 3. some delivery PENDING or DISPATCHING (still open) → SCHEDULED when nothing has been
///    dispatched yet (no delivery has a try, none is SENT, DELIVERED, EXHAUSTED or DISCARDED)
///    and every open delivery is PENDING with `not_before > now` (deferred: `sendAt`, quiet
///    hours, Kakao night); otherwise IN_PROGRESS;
/// 4. all are settled; leaving the CANCELLED ones out: all SENT/DELIVERED → COMPLETED, or
///    CANCELLED when some were cancelled (the caller stopped part of it); all
///    EXHAUSTED/DISCARDED → FAILED, cancelled ones or not; a mix → PARTIALLY_FAILED.
///
/// SENT counts as success although a later receipt may still fail it, so COMPLETED can turn
/// into IN_PROGRESS or PARTIALLY_FAILED; EXHAUSTED counts as failure although a replay may
/// reopen it.
pub fn derive_status(deliveries: &[DeliverySummary], now: DateTime<Utc>) -> NotificationStatus {
    use DeliveryStatus as S;

    if deliveries.is_empty() {
        return NotificationStatus::Suppressed;
    }
    if deliveries.iter().all(|d| d.status == S::Cancelled) {
        return NotificationStatus::Cancelled;
    }
    if deliveries.iter().any(|d| !d.status.is_final_for_notification()) {
        let never_dispatched =
            deliveries.iter().all(|d| d.tries == 0 && matches!(d.status, S::Pending | S::Cancelled));
        let all_deferred = deliveries.iter().filter(|d| d.status == S::Pending).all(|d| d.not_before > now);
        return if never_dispatched && all_deferred {
            NotificationStatus::Scheduled
        } else {
            NotificationStatus::InProgress
        };
    }
    let cancelled = deliveries.iter().any(|d| d.status == S::Cancelled);
    let settled = deliveries.iter().filter(|d| d.status != S::Cancelled);
    let (successes, failures) = settled.fold((0usize, 0usize), |(ok, failed), d| {
        (ok + usize::from(d.status.is_success()), failed + usize::from(d.status.is_failure()))
    });
    match (successes, failures) {
        (_, 0) if cancelled => NotificationStatus::Cancelled,
        (_, 0) => NotificationStatus::Completed,
        (0, _) => NotificationStatus::Failed,
        _ => NotificationStatus::PartiallyFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use proptest::prelude::*;

    use DeliveryStatus as S;
    use NotificationStatus as N;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 22, 30, 0).unwrap()
    }

    /// A delivery with `tries` tries, due `due_in_secs` from now (negative: overdue).
    fn d(status: DeliveryStatus, tries: u32, due_in_secs: i64) -> DeliverySummary {
        DeliverySummary { status, tries, not_before: now() + TimeDelta::seconds(due_in_secs) }
    }

    /// Deferred until tomorrow morning (quiet hours), never tried.
    fn deferred() -> DeliverySummary {
        d(S::Pending, 0, 9 * 3600)
    }

    fn cases() -> Vec<(&'static str, Vec<DeliverySummary>, NotificationStatus)> {
        vec![
            ("nothing to send", vec![], N::Suppressed),
            ("one cancelled", vec![d(S::Cancelled, 0, 0)], N::Cancelled),
            (
                "all cancelled, one during backoff",
                vec![d(S::Cancelled, 0, 0), d(S::Cancelled, 2, 30)],
                N::Cancelled,
            ),
            ("deferred by quiet hours", vec![deferred()], N::Scheduled),
            ("two deferred", vec![deferred(), d(S::Pending, 0, 60)], N::Scheduled),
            ("deferred, other channel cancelled", vec![deferred(), d(S::Cancelled, 0, 0)], N::Scheduled),
            ("due exactly now", vec![d(S::Pending, 0, 0)], N::InProgress),
            ("overdue, waiting for a worker", vec![d(S::Pending, 0, -5)], N::InProgress),
            ("deferred and one due now", vec![deferred(), d(S::Pending, 0, 0)], N::InProgress),
            ("waiting out a retry backoff", vec![d(S::Pending, 1, 30)], N::InProgress),
            ("being dispatched", vec![d(S::Dispatching, 1, -1)], N::InProgress),
            (
                "deferred while another is dispatching",
                vec![deferred(), d(S::Dispatching, 1, -1)],
                N::InProgress,
            ),
            ("email sent, kakao deferred to morning", vec![deferred(), d(S::Sent, 1, -60)], N::InProgress),
            ("one exhausted, one deferred", vec![deferred(), d(S::Exhausted, 1, -60)], N::InProgress),
            ("deferred, other cancelled mid-retry", vec![deferred(), d(S::Cancelled, 1, 30)], N::InProgress),
            ("replayed from the DLQ", vec![d(S::Pending, 0, 0), d(S::Delivered, 1, -60)], N::InProgress),
            ("one sent", vec![d(S::Sent, 1, -60)], N::Completed),
            ("sent and delivered", vec![d(S::Sent, 1, -60), d(S::Delivered, 2, -60)], N::Completed),
            (
                "delivered, rest cancelled",
                vec![d(S::Delivered, 1, -60), d(S::Cancelled, 0, 600)],
                N::Cancelled,
            ),
            ("exhausted", vec![d(S::Exhausted, 6, -60)], N::Failed),
            ("exhausted and discarded", vec![d(S::Exhausted, 1, -60), d(S::Discarded, 6, -60)], N::Failed),
            ("exhausted, rest cancelled", vec![d(S::Exhausted, 1, -60), d(S::Cancelled, 0, 600)], N::Failed),
            (
                "delivered and exhausted",
                vec![d(S::Delivered, 1, -60), d(S::Exhausted, 1, -60)],
                N::PartiallyFailed,
            ),
            (
                "sent, discarded and cancelled",
                vec![d(S::Sent, 1, -60), d(S::Discarded, 6, -60), d(S::Cancelled, 0, 600)],
                N::PartiallyFailed,
            ),
        ]
    }

    #[test]
    fn status_is_derived_from_the_deliveries() {
        for (name, deliveries, want) in cases() {
            assert_eq!(derive_status(&deliveries, now()), want, "{name}");
        }
    }

    #[test]
    fn every_notification_status_is_covered_by_the_table() {
        let seen: Vec<NotificationStatus> = cases().into_iter().map(|(_, _, s)| s).collect();
        for status in NotificationStatus::ALL {
            assert!(seen.contains(status), "{status} has no case");
        }
    }

    #[test]
    fn a_scheduled_notification_turns_in_progress_when_due() {
        let deliveries = [deferred()];
        assert_eq!(derive_status(&deliveries, now()), N::Scheduled);
        let morning = deliveries[0].not_before;
        assert_eq!(derive_status(&deliveries, morning), N::InProgress);
    }

    #[test]
    fn summaries_are_taken_from_delivery_states() {
        let state = DeliveryState::pending(now());
        assert_eq!(DeliverySummary::from(state), d(S::Pending, 0, 0));
        assert_eq!(serde_json::to_string(&N::PartiallyFailed).unwrap(), "\"PARTIALLY_FAILED\"");
    }

    fn any_summary() -> impl Strategy<Value = DeliverySummary> {
        (prop::sample::select(DeliveryStatus::ALL), 0u32..=6, -3600i64..=3600)
            .prop_map(|(status, tries, due)| d(status, tries, due))
    }

    proptest! {
        #[test]
        fn the_order_of_deliveries_does_not_matter(
            deliveries in prop::collection::vec(any_summary(), 0..8),
            rotate in 0usize..8,
        ) {
            let mut shuffled = deliveries.clone();
            shuffled.reverse();
            if !shuffled.is_empty() {
                let by = rotate % shuffled.len();
                shuffled.rotate_left(by);
            }
            prop_assert_eq!(derive_status(&deliveries, now()), derive_status(&shuffled, now()));
        }

        #[test]
        fn open_deliveries_always_mean_scheduled_or_in_progress(
            deliveries in prop::collection::vec(any_summary(), 1..8),
        ) {
            let open = deliveries.iter().any(|d| !d.status.is_final_for_notification());
            let status = derive_status(&deliveries, now());
            prop_assert_eq!(open, matches!(status, N::Scheduled | N::InProgress), "{:?} → {}", deliveries, status);
        }
    }
}
