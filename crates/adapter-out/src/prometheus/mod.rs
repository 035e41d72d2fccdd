//! [`PrometheusMetrics`]: the [`Metrics`] port on a `prometheus-client` registry, exposed in the
//! Prometheus text format 0.0.4 (ADR 0023).
//!
//! Each [`MetricEvent`] variant feeds one series family whose labels are typed structs filled
//! from the event's closed-set fields (domain enums by their wire names, fixed words, status
//! codes, route templates), so no label can carry an id or an address.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hub_application::ports::{
    DuplicateCause, Exposition, GaugeSource, MetricEvent, Metrics, PROMETHEUS_TEXT, ReplaySource,
    SendVerdict, vendor_outcome,
};
use hub_domain::{Channel, Kind};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::prometheus::labels::*;

mod labels;

/// Upper bounds (seconds) of the HTTP latency buckets: 5 ms to 10 s.
const HTTP_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds (seconds) of the vendor-call latency buckets: 5 ms to 30 s (vendor timeouts).
const DISPATCH_BUCKETS: [f64; 13] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0];

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

fn dispatch_histogram() -> Histogram {
    Histogram::new(DISPATCH_BUCKETS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The hub's metrics in one registry, every name prefixed `nh_` (see `docs/operations.md`).
///
/// Counters of closed label sets (deliveries by channel × state, sends by kind × outcome…)
/// start at zero for every combination, so a scrape lists them before the first event and
/// `rate()` sees the first increment.
#[derive(Debug)]
pub struct PrometheusMetrics {
    registry: Registry,
    http_requests: Histograms<HttpLabels>,
    notifications: Family<SendLabels, Counter>,
    replays: Family<ReplayLabels, Counter>,
    rate_limit_denials: Family<ChannelLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    dispatches: Histograms<OutcomeLabels>,
    retries: Family<ChannelLabels, Counter>,
    duplicates: Family<DuplicateLabels, Counter>,
    mock_sends: Family<OutcomeLabels, Counter>,
    outbox_backlog: Gauge,
    outbox_lag: Gauge<f64, AtomicU64>,
    dlq_size: Family<ChannelLabels, Gauge>,
    queue_depth: Family<ChannelLabels, Gauge>,
    gauge_failures: Family<GaugeLabels, Counter>,
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusMetrics {
    /// A registry with every series registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("nh");
        let metrics = PrometheusMetrics {
            http_requests: Family::new_with_constructor(http_histogram),
            notifications: Family::default(),
            replays: Family::default(),
            rate_limit_denials: Family::default(),
            deliveries: Family::default(),
            dispatches: Family::new_with_constructor(dispatch_histogram),
            retries: Family::default(),
            duplicates: Family::default(),
            mock_sends: Family::default(),
            outbox_backlog: Gauge::default(),
            outbox_lag: Gauge::default(),
            dlq_size: Family::default(),
            queue_depth: Family::default(),
            gauge_failures: Family::default(),
            registry: Registry::default(),
        };
        registry.register_with_unit(
            "http_request_duration",
            "HTTP requests by route template, method and status code, from arrival to the answer's head",
            Unit::Seconds,
            metrics.http_requests.clone(),
        );
        registry.register(
            "notifications",
            "Sends that reached the send use case, by kind, outcome (accepted, suppressed, replayed, \
             rejected, failed) and error code",
            metrics.notifications.clone(),
        );
        registry.register(
            "idempotent_replays",
            "Sends answered with an earlier request's stored outcome, by where it came from (cache, store)",
            metrics.replays.clone(),
        );
        registry.register(
            "rate_limit_denials",
            "Sends refused with 429 RATE_LIMITED, by binding channel",
            metrics.rate_limit_denials.clone(),
        );
        registry.register(
            "deliveries",
            "Deliveries entering SENT, DELIVERED, EXHAUSTED, DISCARDED or CANCELLED, by channel and state",
            metrics.deliveries.clone(),
        );
        registry.register_with_unit(
            "dispatch_duration",
            "Vendor calls by channel and outcome (sent or the failure class)",
            Unit::Seconds,
            metrics.dispatches.clone(),
        );
        registry.register(
            "retries_scheduled",
            "Deliveries sent back to PENDING for another try (transient failure or reaped lease), by channel",
            metrics.retries.clone(),
        );
        registry.register(
            "possible_duplicate_sends",
            "Tries whose vendor call may have happened twice (SPEC 4), by channel and cause \
             (lease_reaped, lease_lost)",
            metrics.duplicates.clone(),
        );
        registry.register(
            "mock_vendor_sends",
            "Sends answered by the mock vendors (SPEC 9), by channel and outcome",
            metrics.mock_sends.clone(),
        );
        registry.register(
            "outbox_backlog",
            "Outbox rows not yet published to the queue (read at scrape time; the same on every replica)",
            metrics.outbox_backlog.clone(),
        );
        registry.register_with_unit(
            "outbox_lag",
            "Age of the oldest outbox row not yet published, 0 when none (read at scrape time)",
            Unit::Seconds,
            metrics.outbox_lag.clone(),
        );
        registry.register(
            "dlq_size",
            "EXHAUSTED deliveries by channel (read at scrape time; the same on every replica)",
            metrics.dlq_size.clone(),
        );
        registry.register(
            "queue_depth",
            "Queue messages published and not yet acknowledged, by channel, as this process sees them \
             (in-process queue: all; Kafka: lag of the partitions this process consumes — sum over replicas)",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "gauge_refresh_failures",
            "Scrapes at which a gauge could not be read (it kept its previous value), by gauge",
            metrics.gauge_failures.clone(),
        );
        metrics.zero_closed_sets();
        PrometheusMetrics { registry, ..metrics }
    }

    /// Creates the series of the counters whose label sets are small and closed.
    fn zero_closed_sets(&self) {
        for &kind in Kind::ALL {
            for verdict in [SendVerdict::Accepted, SendVerdict::Suppressed, SendVerdict::Replayed] {
                let _ = self.notifications.get_or_create(&SendLabels::new(kind, verdict));
            }
        }
        for source in [ReplaySource::Cache, ReplaySource::Store] {
            let _ = self.replays.get_or_create(&ReplayLabels { source: source.as_str() });
        }
        for source in [GaugeSource::Outbox, GaugeSource::Dlq, GaugeSource::Queue] {
            let _ = self.gauge_failures.get_or_create(&GaugeLabels { gauge: source.as_str() });
        }
        for channel in Channel::CANONICAL {
            let labels = ChannelLabels::new(channel);
            let _ = self.rate_limit_denials.get_or_create(&labels);
            let _ = self.retries.get_or_create(&labels);
            for status in hub_application::use_cases::metrics::COUNTED_STATES {
                let _ = self
                    .deliveries
                    .get_or_create(&DeliveryLabels { channel: channel.as_str(), state: status.as_str() });
            }
            for cause in [DuplicateCause::LeaseReaped, DuplicateCause::LeaseLost] {
                let _ = self
                    .duplicates
                    .get_or_create(&DuplicateLabels { channel: channel.as_str(), cause: cause.as_str() });
            }
        }
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics for PrometheusMetrics {
    fn record(&self, event: MetricEvent) {
        match event {
            MetricEvent::HttpRequest { route, method, status, elapsed } => {
                self.http_requests
                    .get_or_create(&HttpLabels { route, method, status })
                    .observe(seconds(elapsed));
            }
            MetricEvent::NotificationSend { kind, verdict } => {
                self.notifications.get_or_create(&SendLabels::new(kind, verdict)).inc();
            }
            MetricEvent::IdempotentReplay { source } => {
                self.replays.get_or_create(&ReplayLabels { source: source.as_str() }).inc();
            }
            MetricEvent::RateLimitDenied { channel } => {
                self.rate_limit_denials.get_or_create(&ChannelLabels::new(channel)).inc();
            }
            MetricEvent::DeliveryFinal { channel, status } => {
                let labels = DeliveryLabels { channel: channel.as_str(), state: status.as_str() };
                self.deliveries.get_or_create(&labels).inc();
            }
            MetricEvent::Dispatch { channel, failure, elapsed } => {
                let labels = OutcomeLabels { channel: channel.as_str(), outcome: vendor_outcome(failure) };
                self.dispatches.get_or_create(&labels).observe(seconds(elapsed));
            }
            MetricEvent::RetryScheduled { channel } => {
                self.retries.get_or_create(&ChannelLabels::new(channel)).inc();
            }
            MetricEvent::PossibleDuplicateSend { channel, cause } => {
                let labels = DuplicateLabels { channel: channel.as_str(), cause: cause.as_str() };
                self.duplicates.get_or_create(&labels).inc();
            }
            MetricEvent::MockVendorSend { channel, failure } => {
                let labels = OutcomeLabels { channel: channel.as_str(), outcome: vendor_outcome(failure) };
                self.mock_sends.get_or_create(&labels).inc();
            }
            MetricEvent::OutboxBacklog { rows, oldest_age } => {
                self.outbox_backlog.set(gauge_value(rows));
                self.outbox_lag.set(seconds(oldest_age));
            }
            MetricEvent::DlqSize { channel, size } => {
                self.dlq_size.get_or_create(&ChannelLabels::new(channel)).set(gauge_value(size));
            }
            MetricEvent::QueueDepth { channel, depth } => {
                self.queue_depth.get_or_create(&ChannelLabels::new(channel)).set(gauge_value(depth));
            }
            MetricEvent::GaugeRefreshFailed { source } => {
                self.gauge_failures.get_or_create(&GaugeLabels { gauge: source.as_str() }).inc();
            }
        }
    }

    fn expose(&self) -> Exposition {
        let mut body = String::new();
        if let Err(error) = prometheus_text::encode(&mut body, &self.registry) {
            // Writing to a String does not fail; a failing metric encoder would be a bug.
            tracing::error!(%error, "encoding the metrics failed");
        }
        Exposition { content_type: PROMETHEUS_TEXT, body }
    }
}

#[cfg(test)]
mod tests;
