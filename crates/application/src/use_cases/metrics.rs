//! Metrics that are not a by-product of one use case (SPEC §5.7): the gauges read at scrape
//! time, and the count of states deliveries enter, taken where every delivery update passes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::delivery::DeliveryStatus;
use hub_domain::{Channel, DeliveryId, NotificationId};

use crate::App;
use crate::error::PortError;
use crate::ports::{
    ClaimedDelivery, DeliveryRecord, DeliveryStore, DeliveryUpdate, DispatchResult, DlqFilter, Expectation,
    GaugeSource, MetricEvent, Metrics, UpdateOutcome,
};

/// The states counted by [`MetricEvent::DeliveryFinal`]: where a delivery's journey ends, or
/// SENT, where the vendor took over.
pub const COUNTED_STATES: [DeliveryStatus; 5] = [
    DeliveryStatus::Sent,
    DeliveryStatus::Delivered,
    DeliveryStatus::Exhausted,
    DeliveryStatus::Discarded,
    DeliveryStatus::Cancelled,
];

impl App {
    /// Reads the gauges — outbox backlog and lag, DLQ size per channel, queue depth per channel
    /// — and records them. A gauge that cannot be read is logged and counted
    /// ([`MetricEvent::GaugeRefreshFailed`]); the others are still read.
    ///
    /// Run at scrape time: the values are as fresh as the scrape, and nothing runs when nobody
    /// scrapes. The outbox and DLQ gauges are the same on every replica (one store).
    pub async fn refresh_gauges(&self) {
        match self.deps.outbox.backlog().await {
            Ok((rows, oldest)) => {
                let oldest_age =
                    oldest.and_then(|at| (self.now() - at).to_std().ok()).unwrap_or(Duration::ZERO);
                self.record(MetricEvent::OutboxBacklog { rows, oldest_age });
            }
            Err(error) => self.gauge_failed(GaugeSource::Outbox, &error),
        }
        for channel in Channel::CANONICAL {
            let filter = DlqFilter { channel: Some(channel), ..DlqFilter::default() };
            match self.deps.dlq.count(&filter).await {
                Ok(size) => self.record(MetricEvent::DlqSize { channel, size }),
                Err(error) => {
                    self.gauge_failed(GaugeSource::Dlq, &error);
                    break;
                }
            }
        }
        for channel in Channel::CANONICAL {
            match self.deps.queue.depth(channel).await {
                Ok(Some(depth)) => self.record(MetricEvent::QueueDepth { channel, depth }),
                Ok(None) => {}
                Err(error) => {
                    self.gauge_failed(GaugeSource::Queue, &error);
                    break;
                }
            }
        }
    }

    fn gauge_failed(&self, source: GaugeSource, error: &dyn std::fmt::Display) {
        tracing::warn!(gauge = source.as_str(), error = %error, "could not read a gauge for /metrics");
        self.record(MetricEvent::GaugeRefreshFailed { source });
    }
}

/// `deliveries`, with every update that moves a delivery into one of [`COUNTED_STATES`]
/// recorded as a [`MetricEvent::DeliveryFinal`]. Counting here rather than in each use case
/// covers every writer — dispatch, reaper, vendor callbacks, DLQ operations, bulk jobs — once
/// per change that was actually stored. Cancellations (`cancel_pending`) report only a count,
/// so the cancel use case records them itself.
pub(crate) fn metered(
    deliveries: Arc<dyn DeliveryStore>,
    metrics: Arc<dyn Metrics>,
) -> Arc<dyn DeliveryStore> {
    Arc::new(MeteredDeliveries { inner: deliveries, metrics })
}

#[derive(Debug)]
struct MeteredDeliveries {
    inner: Arc<dyn DeliveryStore>,
    metrics: Arc<dyn Metrics>,
}

#[async_trait]
impl DeliveryStore for MeteredDeliveries {
    async fn get(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, PortError> {
        self.inner.get(id).await
    }

    async fn find_by_vendor_message_id(
        &self,
        channel: Option<Channel>,
        vendor_message_id: &str,
    ) -> Result<Option<DeliveryRecord>, PortError> {
        self.inner.find_by_vendor_message_id(channel, vendor_message_id).await
    }

    async fn claim(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, PortError> {
        self.inner.claim(id, now, lease_until).await
    }

    async fn update(
        &self,
        id: DeliveryId,
        expected: Expectation,
        update: DeliveryUpdate,
        now: DateTime<Utc>,
    ) -> Result<UpdateOutcome, PortError> {
        let outcome = self.inner.update(id, expected, update, now).await?;
        if let UpdateOutcome::Applied(record) = &outcome {
            let status = record.state.status;
            if status != expected.status && COUNTED_STATES.contains(&status) {
                self.metrics.record(MetricEvent::DeliveryFinal { channel: record.channel, status });
            }
        }
        Ok(outcome)
    }

    async fn claim_many(
        &self,
        ids: &[DeliveryId],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, PortError> {
        self.inner.claim_many(ids, now, lease_until).await
    }

    async fn record_results(
        &self,
        results: &[DispatchResult],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, PortError> {
        let applied = self.inner.record_results(results, now).await?;
        for (r, _) in results.iter().zip(&applied).filter(|(_, applied)| **applied) {
            let status = r.state.status;
            if status != r.expected.status && COUNTED_STATES.contains(&status) {
                self.metrics.record(MetricEvent::DeliveryFinal { channel: r.channel, status });
            }
        }
        Ok(applied)
    }

    async fn enqueue_due(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, PortError> {
        self.inner.enqueue_due(now, stale_before, limit).await
    }

    async fn expired_leases(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PortError> {
        self.inner.expired_leases(now, limit).await
    }

    async fn cancel_pending(
        &self,
        id: NotificationId,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, PortError> {
        self.inner.cancel_pending(id, now).await
    }
}
