//! The delivery state machine (SPEC §3, §4, §5.5, §5.6).
//!
//! ```text
//! PENDING ─Claim─▶ DISPATCHING ─VendorAccepted─▶ SENT ─Receipt(DELIVERED)─▶ DELIVERED
//!
//! DISPATCHING ─VendorFailed(transient) / LeaseExpired─▶ PENDING, or EXHAUSTED when out of tries
//! DISPATCHING ─VendorFailed(permanent)─▶ EXHAUSTED
//! SENT ─Receipt(FAILED)─▶ PENDING, or EXHAUSTED when out of tries
//! SENT ─Receipt(BOUNCED | UNREGISTERED)─▶ EXHAUSTED
//! EXHAUSTED ─Replay─▶ PENDING (tries = 0)      EXHAUSTED ─Discard─▶ DISCARDED
//! PENDING ─Cancel─▶ CANCELLED
//! ```
//!
//! [`DeliveryState::apply`] holds the whole transition table in one `match`; guards (a claim
//! before `not_before`, a lease reaped before it ran out) are part of legality and refused with
//! an [`IllegalReason`].
//!
//! EXHAUSTED is the DLQ. It is *parked*, not terminal: an operator may still replay or discard
//! it, so [`DeliveryStatus::is_terminal`] is false for it. Nothing happens to it without an
//! operator, though, so for the notification's derived status it counts as a final failure
//! ([`DeliveryStatus::is_final_for_notification`]).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::kind::named_enum;
use crate::retry::{RandomSource, RetryPolicy};

named_enum!(
    /// Where a delivery stands (SPEC §3).
    DeliveryStatus {
        /// Waiting to be claimed once `not_before` has come.
        Pending => "PENDING",
        /// Claimed by a worker until its lease runs out.
        Dispatching => "DISPATCHING",
        /// Accepted by the vendor; a receipt may follow.
        Sent => "SENT",
        /// The vendor confirmed delivery.
        Delivered => "DELIVERED",
        /// Failed for good or out of tries: parked in the DLQ for an operator.
        Exhausted => "EXHAUSTED",
        /// Removed from the DLQ by an operator.
        Discarded => "DISCARDED",
        /// Cancelled before it was dispatched.
        Cancelled => "CANCELLED",
    }
);

impl DeliveryStatus {
    /// No event moves it any more: DELIVERED, DISCARDED, CANCELLED. EXHAUSTED is not terminal,
    /// since an operator can replay or discard it.
    pub const fn is_terminal(self) -> bool {
        matches!(self, DeliveryStatus::Delivered | DeliveryStatus::Discarded | DeliveryStatus::Cancelled)
    }

    /// Nothing more happens to it without a vendor receipt or an operator: everything but
    /// PENDING and DISPATCHING. The notification's derived status treats these as settled.
    pub const fn is_final_for_notification(self) -> bool {
        !matches!(self, DeliveryStatus::Pending | DeliveryStatus::Dispatching)
    }

    /// The vendor took it: SENT or DELIVERED.
    pub const fn is_success(self) -> bool {
        matches!(self, DeliveryStatus::Sent | DeliveryStatus::Delivered)
    }

    /// It failed: EXHAUSTED or DISCARDED.
    pub const fn is_failure(self) -> bool {
        matches!(self, DeliveryStatus::Exhausted | DeliveryStatus::Discarded)
    }
}

named_enum!(
    /// Whether retrying a failed try can help; workers branch on this only.
    FailureClass {
        /// May succeed later: retry on the schedule.
        Transient => "TRANSIENT",
        /// Will not succeed: straight to the DLQ.
        Permanent => "PERMANENT",
    }
);

named_enum!(
    /// Why a try failed, in the words operators filter the DLQ by (`?errorClass=`).
    ErrorClass {
        /// A vendor or network error that may pass (5xx, connection reset).
        Transient => "TRANSIENT",
        /// The vendor did not answer within the timeout.
        Timeout => "TIMEOUT",
        /// The vendor throttled us (429), possibly with `Retry-After`.
        RateLimited => "RATE_LIMITED",
        /// The worker's lease ran out mid-dispatch (the worker died or stalled).
        LeaseExpired => "LEASE_EXPIRED",
        /// The vendor refused the message for good (invalid address, rejected content).
        Permanent => "PERMANENT",
        /// The push token or number no longer exists (FCM `UNREGISTERED`, APNs 410).
        Unregistered => "UNREGISTERED",
        /// The vendor reported a bounce after accepting the message.
        Bounced => "BOUNCED",
        /// Our side is misconfigured (missing credentials, unknown Slack alias); replay after fixing.
        Configuration => "CONFIGURATION",
    }
);

impl ErrorClass {
    /// Whether a failure of this class is retried.
    pub const fn failure_class(self) -> FailureClass {
        match self {
            ErrorClass::Transient
            | ErrorClass::Timeout
            | ErrorClass::RateLimited
            | ErrorClass::LeaseExpired => FailureClass::Transient,
            ErrorClass::Permanent
            | ErrorClass::Unregistered
            | ErrorClass::Bounced
            | ErrorClass::Configuration => FailureClass::Permanent,
        }
    }
}

named_enum!(
    /// How one dispatch try ended.
    TryOutcome {
        /// The vendor accepted the message.
        Sent => "SENT",
        /// The vendor call failed (see the try's error class).
        Failed => "FAILED",
        /// The worker never reported back; the reaper ended the try.
        LeaseExpired => "LEASE_EXPIRED",
    }
);

/// One dispatch try, kept for the operator (SPEC §3): time, outcome, error class, vendor code,
/// latency, detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Try {
    /// When the try started.
    pub at: DateTime<Utc>,
    /// How it ended.
    pub outcome: TryOutcome,
    /// Why it failed; `None` when it was sent.
    pub error_class: Option<ErrorClass>,
    /// The vendor's own error code (`UNREGISTERED`, `21211`, `550`…), if any.
    pub vendor_code: Option<String>,
    /// A short human-readable explanation, free of personal data.
    pub detail: Option<String>,
    /// How long the vendor call took; `None` when it never returned.
    pub latency_ms: Option<u64>,
}

named_enum!(
    /// A status a vendor reports in a delivery callback (SPEC §5.5).
    ReceiptStatus {
        /// Delivered to the device, inbox or handset.
        Delivered => "DELIVERED",
        /// Not delivered this time; retried as a transient failure.
        Failed => "FAILED",
        /// Bounced; permanent.
        Bounced => "BOUNCED",
        /// The token or address no longer exists; permanent.
        Unregistered => "UNREGISTERED",
    }
);

impl ReceiptStatus {
    /// The error class to record for a failure receipt; `None` for DELIVERED.
    pub const fn error_class(self) -> Option<ErrorClass> {
        match self {
            ReceiptStatus::Delivered => None,
            ReceiptStatus::Failed => Some(ErrorClass::Transient),
            ReceiptStatus::Bounced => Some(ErrorClass::Bounced),
            ReceiptStatus::Unregistered => Some(ErrorClass::Unregistered),
        }
    }
}

/// The mutable part of a delivery the state machine rules over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryState {
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Dispatch tries since creation or the last replay.
    pub tries: u32,
    /// Not to be claimed before this instant (schedule, quiet hours, backoff).
    pub not_before: DateTime<Utc>,
    /// Until when the claiming worker owns it; `Some` exactly while DISPATCHING.
    pub lease_until: Option<DateTime<Utc>>,
}

/// Something that happens to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryEvent {
    /// A worker takes a due PENDING delivery until `lease_until` (a new try begins).
    Claim {
        /// When the worker's ownership runs out; must be after `now`.
        lease_until: DateTime<Utc>,
    },
    /// The vendor accepted the dispatch.
    VendorAccepted,
    /// The vendor call failed.
    VendorFailed {
        /// Whether a retry can help.
        class: FailureClass,
        /// The vendor's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The reaper found the lease run out.
    LeaseExpired,
    /// A vendor callback arrived.
    Receipt(ReceiptStatus),
    /// An operator re-drives a DLQ entry.
    Replay,
    /// An operator drops a DLQ entry.
    Discard,
    /// The caller cancels before dispatch.
    Cancel,
}

impl DeliveryEvent {
    /// The event's name in errors and logs (`CLAIM`, `VENDOR_FAILED`, …).
    pub const fn name(&self) -> &'static str {
        match self {
            DeliveryEvent::Claim { .. } => "CLAIM",
            DeliveryEvent::VendorAccepted => "VENDOR_ACCEPTED",
            DeliveryEvent::VendorFailed { .. } => "VENDOR_FAILED",
            DeliveryEvent::LeaseExpired => "LEASE_EXPIRED",
            DeliveryEvent::Receipt(_) => "RECEIPT",
            DeliveryEvent::Replay => "REPLAY",
            DeliveryEvent::Discard => "DISCARD",
            DeliveryEvent::Cancel => "CANCEL",
        }
    }
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IllegalReason {
    /// The status does not accept the event at all.
    #[error("the status does not accept it")]
    WrongStatus,
    /// CLAIM before the delivery is due.
    #[error("not due until {not_before}")]
    NotDue {
        /// When it becomes due.
        not_before: DateTime<Utc>,
    },
    /// CLAIM with a lease that has already run out.
    #[error("the lease must end after now, not at {lease_until}")]
    LeaseNotInFuture {
        /// The lease end asked for.
        lease_until: DateTime<Utc>,
    },
    /// LEASE_EXPIRED while the worker still holds the lease.
    #[error("the lease runs until {lease_until}")]
    LeaseNotExpired {
        /// When the lease runs out.
        lease_until: DateTime<Utc>,
    },
}

/// An event that a delivery's state does not allow; the delivery stays as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed on a {from} delivery: {reason}")]
pub struct IllegalTransition {
    /// The status the event was applied to.
    pub from: DeliveryStatus,
    /// The event's name ([`DeliveryEvent::name`]).
    pub event: &'static str,
    /// Why it was refused.
    pub reason: IllegalReason,
}

impl DeliveryState {
    /// A new delivery waiting until `not_before`, never tried.
    pub const fn pending(not_before: DateTime<Utc>) -> Self {
        Self { status: DeliveryStatus::Pending, tries: 0, not_before, lease_until: None }
    }

    /// The state after `event` at `now`, or why the event is illegal here.
    ///
    /// | from | event | to |
    /// | --- | --- | --- |
    /// | PENDING, `not_before <= now` | Claim (lease after now) | DISPATCHING, tries + 1 |
    /// | PENDING | Cancel | CANCELLED |
    /// | DISPATCHING | VendorAccepted | SENT |
    /// | DISPATCHING | VendorFailed transient | PENDING(now + backoff), or EXHAUSTED when the schedule is used up |
    /// | DISPATCHING | VendorFailed permanent | EXHAUSTED |
    /// | DISPATCHING, `lease_until <= now` | LeaseExpired | PENDING(now), or EXHAUSTED when tries >= max tries |
    /// | SENT | Receipt DELIVERED | DELIVERED |
    /// | SENT | Receipt FAILED | as VendorFailed transient |
    /// | SENT | Receipt BOUNCED / UNREGISTERED | EXHAUSTED |
    /// | EXHAUSTED | Replay | PENDING(now), tries = 0 |
    /// | EXHAUSTED | Discard | DISCARDED |
    ///
    /// Every other pair is refused with [`IllegalReason::WrongStatus`]. `random` is drawn from
    /// only for a transient failure without `Retry-After`. With a fixed policy `tries` never
    /// exceeds `policy.max_tries()`; if the policy shrinks while deliveries wait, a claimed
    /// delivery may go one try over and is exhausted on its next failure.
    pub fn apply(
        &self,
        event: &DeliveryEvent,
        now: DateTime<Utc>,
        policy: &RetryPolicy,
        random: &mut dyn RandomSource,
    ) -> Result<DeliveryState, IllegalTransition> {
        use DeliveryEvent as E;
        use DeliveryStatus as S;
        let refuse = |reason| Err(IllegalTransition { from: self.status, event: event.name(), reason });

        match (self.status, *event) {
            (S::Pending, E::Claim { .. }) if self.not_before > now => {
                refuse(IllegalReason::NotDue { not_before: self.not_before })
            }
            (S::Pending, E::Claim { lease_until }) if lease_until <= now => {
                refuse(IllegalReason::LeaseNotInFuture { lease_until })
            }
            (S::Pending, E::Claim { lease_until }) => Ok(DeliveryState {
                status: S::Dispatching,
                tries: self.tries.saturating_add(1),
                not_before: self.not_before,
                lease_until: Some(lease_until),
            }),
            (S::Pending, E::Cancel) => Ok(self.settle(S::Cancelled)),

            (S::Dispatching, E::VendorAccepted) => Ok(self.settle(S::Sent)),
            (S::Dispatching, E::VendorFailed { class: FailureClass::Permanent, .. }) => {
                Ok(self.settle(S::Exhausted))
            }
            (S::Dispatching, E::VendorFailed { class: FailureClass::Transient, retry_after }) => {
                Ok(self.retry_or_exhaust(now, retry_after, policy, random))
            }
            (S::Dispatching, E::LeaseExpired) => match self.lease_until {
                Some(lease_until) if lease_until > now => {
                    refuse(IllegalReason::LeaseNotExpired { lease_until })
                }
                // No backoff: the vendor may never have been called.
                _ if self.tries < policy.max_tries() => Ok(self.requeue(now)),
                _ => Ok(self.settle(S::Exhausted)),
            },

            (S::Sent, E::Receipt(ReceiptStatus::Delivered)) => Ok(self.settle(S::Delivered)),
            (S::Sent, E::Receipt(ReceiptStatus::Failed)) => {
                Ok(self.retry_or_exhaust(now, None, policy, random))
            }
            (S::Sent, E::Receipt(ReceiptStatus::Bounced | ReceiptStatus::Unregistered)) => {
                Ok(self.settle(S::Exhausted))
            }

            (S::Exhausted, E::Replay) => Ok(DeliveryState::pending(now)),
            (S::Exhausted, E::Discard) => Ok(self.settle(S::Discarded)),

            // Listing every event (no `_`) makes a new event a compile error until it is placed.
            (
                _,
                E::Claim { .. }
                | E::VendorAccepted
                | E::VendorFailed { .. }
                | E::LeaseExpired
                | E::Receipt(_)
                | E::Replay
                | E::Discard
                | E::Cancel,
            ) => refuse(IllegalReason::WrongStatus),
        }
    }

    /// Same tries and `not_before`, new status, no lease.
    fn settle(&self, status: DeliveryStatus) -> DeliveryState {
        DeliveryState { status, lease_until: None, ..*self }
    }

    /// Back to PENDING, due at `not_before`, keeping the try count.
    fn requeue(&self, not_before: DateTime<Utc>) -> DeliveryState {
        DeliveryState { status: DeliveryStatus::Pending, not_before, lease_until: None, tries: self.tries }
    }

    /// A transient failure: wait per the policy, or EXHAUSTED when the schedule is used up.
    fn retry_or_exhaust(
        &self,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
        policy: &RetryPolicy,
        random: &mut dyn RandomSource,
    ) -> DeliveryState {
        match policy.next_delay(self.tries, retry_after, random) {
            Some(delay) => self.requeue(add_saturating(now, delay)),
            None => self.settle(DeliveryStatus::Exhausted),
        }
    }
}

/// `at + d`, or the latest representable instant instead of panicking on absurd delays.
fn add_saturating(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d).ok().and_then(|d| at.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests;
