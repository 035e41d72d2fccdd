//! Metrics (SPEC §5.7): the one place where what the hub counts is named.
//!
//! Every measurement is a [`MetricEvent`] variant; its fields are the only labels a sink may
//! attach, and each comes from a closed set (a domain enum, an [`ErrorCode`], a fixed word, an
//! HTTP status code, a route template), never a recipient id, an address, a delivery id or a
//! raw path. A sink that keeps series per label value therefore has a bounded number of them.

use std::time::Duration;

use hub_domain::Channel;
use hub_domain::Kind;
use hub_domain::delivery::{DeliveryStatus, ErrorClass};

use crate::error::ErrorCode;

/// How one send ended (the `outcome` and `code` labels of the notifications counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendVerdict {
    /// 202: deliveries were created.
    Accepted,
    /// 200: every channel was skipped.
    Suppressed,
    /// The stored outcome of an earlier request with the same key was answered again.
    Replayed,
    /// Refused with a 4xx code: a stored rejection (recipient or template missing…), a rate
    /// limit, an idempotency conflict or invalid content.
    Rejected(ErrorCode),
    /// A dependency failed (`DEPENDENCY_UNAVAILABLE`, `INTERNAL`); the caller may retry.
    Failed(ErrorCode),
}

impl SendVerdict {
    /// The `outcome` label.
    pub const fn outcome(self) -> &'static str {
        match self {
            SendVerdict::Accepted => "accepted",
            SendVerdict::Suppressed => "suppressed",
            SendVerdict::Replayed => "replayed",
            SendVerdict::Rejected(_) => "rejected",
            SendVerdict::Failed(_) => "failed",
        }
    }

    /// The `code` label: the error code of a rejection or failure, empty otherwise.
    pub const fn code(self) -> &'static str {
        match self {
            SendVerdict::Rejected(code) | SendVerdict::Failed(code) => code.as_str(),
            _ => "",
        }
    }

    /// The verdict for a send that ended with `code` (5xx codes are failures).
    pub const fn for_code(code: ErrorCode) -> Self {
        if code.http_status() >= 500 { SendVerdict::Failed(code) } else { SendVerdict::Rejected(code) }
    }
}

/// Where an idempotent replay's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplaySource {
    /// The idempotency store (Redis or in process) had the completed key.
    Cache,
    /// The idempotency store had lost the key, but the notification store's unique key caught
    /// the repeat (after a flush or restart of the cache).
    Store,
}

impl ReplaySource {
    /// The `source` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReplaySource::Cache => "cache",
            ReplaySource::Store => "store",
        }
    }
}

/// Why a vendor may have been called twice for one try (SPEC §4: counted in metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DuplicateCause {
    /// The reaper took back a DISPATCHING delivery whose lease expired: its worker died or
    /// stalled, before or after calling the vendor — the next try may repeat the send.
    LeaseReaped,
    /// A worker called the vendor but found its lease taken over when storing the result.
    LeaseLost,
}

impl DuplicateCause {
    /// The `cause` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            DuplicateCause::LeaseReaped => "lease_reaped",
            DuplicateCause::LeaseLost => "lease_lost",
        }
    }
}

/// Which gauge could not be read at a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GaugeSource {
    /// The outbox backlog.
    Outbox,
    /// The DLQ sizes.
    Dlq,
    /// The queue depths.
    Queue,
}

impl GaugeSource {
    /// The `gauge` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            GaugeSource::Outbox => "outbox",
            GaugeSource::Dlq => "dlq",
            GaugeSource::Queue => "queue",
        }
    }
}

/// The `outcome` label of a vendor call: `sent`, or the failure's class in lower case.
pub const fn vendor_outcome(failure: Option<ErrorClass>) -> &'static str {
    match failure {
        None => "sent",
        Some(ErrorClass::Transient) => "transient",
        Some(ErrorClass::Timeout) => "timeout",
        Some(ErrorClass::RateLimited) => "rate_limited",
        Some(ErrorClass::LeaseExpired) => "lease_expired",
        Some(ErrorClass::Permanent) => "permanent",
        Some(ErrorClass::Unregistered) => "unregistered",
        Some(ErrorClass::Bounced) => "bounced",
        Some(ErrorClass::Configuration) => "configuration",
    }
}

/// Something the hub counts or measures.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricEvent {
    /// An HTTP request was answered (the `/metrics` scrape itself is not recorded).
    HttpRequest {
        /// The route template that matched (`/api/v1/notifications/{id}`), or `unmatched`.
        route: String,
        /// The method, one of the standard ones or `OTHER`.
        method: &'static str,
        /// The status code of the answer.
        status: u16,
        /// From the request's arrival to the answer's head.
        elapsed: Duration,
    },
    /// A send (`POST /api/v1/notifications`) reached the use case and ended.
    NotificationSend {
        /// The notification's kind.
        kind: Kind,
        /// How it ended.
        verdict: SendVerdict,
    },
    /// A send was answered with an earlier request's stored outcome.
    IdempotentReplay {
        /// Where the stored outcome came from.
        source: ReplaySource,
    },
    /// A send was refused (429) because `channel`'s bucket for the recipient was empty.
    RateLimitDenied {
        /// The binding channel.
        channel: Channel,
    },
    /// A delivery entered SENT, DELIVERED, EXHAUSTED, DISCARDED or CANCELLED.
    DeliveryFinal {
        /// Its channel.
        channel: Channel,
        /// The state it entered.
        status: DeliveryStatus,
    },
    /// A vendor call returned (real or mock).
    Dispatch {
        /// The channel.
        channel: Channel,
        /// `None` when the vendor accepted, else the failure's class.
        failure: Option<ErrorClass>,
        /// How long the vendor call took.
        elapsed: Duration,
    },
    /// A delivery went back to PENDING for another try (transient failure or reaped lease).
    RetryScheduled {
        /// Its channel.
        channel: Channel,
    },
    /// The vendor may have been called twice for one try (SPEC §4).
    PossibleDuplicateSend {
        /// The delivery's channel.
        channel: Channel,
        /// Why.
        cause: DuplicateCause,
    },
    /// A mock vendor (SPEC §9) answered a send.
    MockVendorSend {
        /// The channel.
        channel: Channel,
        /// `None` when it accepted, else the failure's class (`Transient`, `Permanent`,
        /// `Unregistered`).
        failure: Option<ErrorClass>,
    },
    /// Gauge: the outbox rows not yet published, and the age of the oldest (outbox lag; zero
    /// when the outbox is empty).
    OutboxBacklog {
        /// Unpublished rows.
        rows: u64,
        /// Age of the oldest unpublished row.
        oldest_age: Duration,
    },
    /// Gauge: EXHAUSTED deliveries of a channel (the DLQ).
    DlqSize {
        /// The channel.
        channel: Channel,
        /// EXHAUSTED deliveries.
        size: u64,
    },
    /// Gauge: messages of a channel's queue published and not yet acknowledged, as far as this
    /// process can tell ([`DeliveryQueue::depth`](crate::ports::DeliveryQueue::depth)).
    QueueDepth {
        /// The channel.
        channel: Channel,
        /// Messages waiting or in flight.
        depth: u64,
    },
    /// A gauge could not be read at a scrape (its previous value stays).
    GaugeRefreshFailed {
        /// Which.
        source: GaugeSource,
    },
}

/// The current values in a scraper's format, for `GET /metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposition {
    /// The `Content-Type` of `body`.
    pub content_type: &'static str,
    /// The encoded values.
    pub body: String,
}

/// The content type of the Prometheus text exposition format, version 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Where metric events go.
pub trait Metrics: Send + Sync + std::fmt::Debug {
    /// Records one event. Never fails and never waits on I/O: it is called on every request
    /// and dispatch.
    fn record(&self, event: MetricEvent);

    /// The current values, for a scraper.
    fn expose(&self) -> Exposition;
}

/// Metrics that go nowhere (an empty exposition).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn record(&self, _event: MetricEvent) {}

    fn expose(&self) -> Exposition {
        Exposition { content_type: PROMETHEUS_TEXT, body: String::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_verdict_for_a_server_error_code_is_a_failure() {
        assert_eq!(
            SendVerdict::for_code(ErrorCode::DependencyUnavailable),
            SendVerdict::Failed(ErrorCode::DependencyUnavailable)
        );
        assert_eq!(
            SendVerdict::for_code(ErrorCode::RateLimited),
            SendVerdict::Rejected(ErrorCode::RateLimited)
        );
        assert_eq!(SendVerdict::Failed(ErrorCode::Internal).outcome(), "failed");
        assert_eq!(SendVerdict::Rejected(ErrorCode::RateLimited).code(), "RATE_LIMITED");
        assert_eq!(SendVerdict::Accepted.code(), "");
    }
}
