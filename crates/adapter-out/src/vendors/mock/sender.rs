//! The mock vendor as a [`ChannelSender`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hub_application::ports::{
    ChannelSender, DispatchRequest, MetricEvent, Metrics, SendError, SendErrorKind, VendorReceipt,
};
use hub_domain::Channel;
use hub_domain::delivery::ErrorClass;
use ulid::Ulid;

use super::outcome::MockOutcome;

const OUTCOMES: usize = 4;

fn slot(outcome: MockOutcome) -> usize {
    match outcome {
        MockOutcome::Accept => 0,
        MockOutcome::Transient => 1,
        MockOutcome::Permanent => 2,
        MockOutcome::Unregistered => 3,
    }
}

/// How many mock sends ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockSendStats {
    /// Accepted.
    pub sent: u64,
    /// Failed transiently.
    pub transient: u64,
    /// Failed permanently.
    pub permanent: u64,
    /// Answered as an unregistered device.
    pub unregistered: u64,
}

impl MockSendStats {
    /// Every failure, whatever its kind.
    pub const fn failed(&self) -> u64 {
        self.transient + self.permanent + self.unregistered
    }

    fn from_counts(counts: [u64; OUTCOMES]) -> Self {
        let [sent, transient, permanent, unregistered] = counts;
        Self { sent, transient, permanent, unregistered }
    }
}

/// The mock vendor of SPEC §9 for every channel (the channel comes from each request).
///
/// Answers by [`MockOutcome::for_request`] after a fixed `latency` (`NH_MOCK_VENDOR_LATENCY`,
/// awaited with tokio time, so a cancelled send answers nothing and counts nothing). Each send
/// is logged at debug level with the masked target and never the title or body, and counted
/// per channel and outcome ([`MockSender::stats`]), and recorded as
/// [`MetricEvent::MockVendorSend`] when given [`Metrics`].
#[derive(Debug, Default)]
pub struct MockSender {
    latency: Duration,
    counts: [[AtomicU64; OUTCOMES]; Channel::CANONICAL.len()],
    metrics: Option<Arc<dyn Metrics>>,
}

impl MockSender {
    /// A mock vendor that answers after `latency` (zero: at once).
    pub fn new(latency: Duration) -> Self {
        Self { latency, counts: Default::default(), metrics: None }
    }

    /// Also records every answer in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The fixed delay before each answer.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Sends answered so far on `channel`, by outcome.
    pub fn stats(&self, channel: Channel) -> MockSendStats {
        let counts = &self.counts[channel.index()];
        MockSendStats::from_counts(std::array::from_fn(|i| counts[i].load(Ordering::Relaxed)))
    }

    /// Sends answered so far on every channel, by outcome.
    pub fn totals(&self) -> MockSendStats {
        MockSendStats::from_counts(std::array::from_fn(|i| {
            self.counts.iter().map(|c| c[i].load(Ordering::Relaxed)).sum()
        }))
    }
}

#[async_trait]
impl ChannelSender for MockSender {
    async fn send(&self, request: &DispatchRequest) -> Result<VendorReceipt, SendError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let outcome = MockOutcome::for_request(request);
        self.counts[request.channel.index()][slot(outcome)].fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            channel = %request.channel,
            delivery_id = %request.delivery_id,
            attempt = request.attempt,
            target = %request.target.masked(),
            outcome = outcome.label(),
            "mock vendor send"
        );
        let error = outcome.error();
        if let Some(metrics) = &self.metrics {
            let failure = error.as_ref().map(|e| match e.kind {
                SendErrorKind::Transient { .. } => ErrorClass::Transient,
                SendErrorKind::Permanent => ErrorClass::Permanent,
                SendErrorKind::Unregistered => ErrorClass::Unregistered,
            });
            metrics.record(MetricEvent::MockVendorSend { channel: request.channel, failure });
        }
        match error {
            Some(error) => Err(error),
            None => Ok(VendorReceipt {
                vendor_message_id: Some(format!("mock-{}-{}", request.channel.topic_suffix(), Ulid::new())),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
