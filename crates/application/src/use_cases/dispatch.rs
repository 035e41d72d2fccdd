//! Workers: dispatch deliveries taken from a channel's queue (SPEC §3, §4).
//!
//! A dispatcher takes up to a batch of queue messages at once, claims their deliveries with
//! one store call, calls the vendor for each claimed one concurrently (outside any
//! transaction), and stores every result with one more store call before acknowledging the
//! messages. Per delivery this is the same claim → call → compare-and-set as one at a time
//! (each result applies or not on its own), with two store round trips per batch instead of
//! two per delivery (ADR 0027).

use std::time::{Duration, Instant};

use futures::future::join_all;
use hub_domain::delivery::{DeliveryEvent, DeliveryStatus, ErrorClass, FailureClass, Try, TryOutcome};
use hub_domain::{Channel, DeliveryId, Target};
use tracing::Instrument;

use crate::App;
use crate::app::EntropySource;
use crate::app::chrono_duration;
use crate::error::PortError;
use crate::ports::{
    ClaimedDelivery, DispatchRequest, DispatchResult, DuplicateCause, Expectation, MetricEvent, SendError,
    SendErrorKind, VendorReceipt,
};

/// What a dispatch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchOutcome {
    /// Not claimable (unknown, not PENDING, not yet due): a duplicate or early message, dropped.
    Skipped,
    /// The vendor accepted it (SENT).
    Sent,
    /// A transient failure; PENDING again until the next try.
    RetryScheduled,
    /// Permanent failure or schedule used up: EXHAUSTED (in the DLQ).
    Exhausted,
    /// The lease was lost before the result could be stored (the reaper or another worker took
    /// over): the vendor may have been called twice.
    LeaseLost,
}

/// One vendor call's result, as the state machine and the store need it.
struct Called {
    result: DispatchResult,
    event: DeliveryEvent,
    unregistered: bool,
}

impl App {
    /// Dispatches one delivery: [`dispatch_batch`](Self::dispatch_batch) of one.
    pub async fn dispatch(&self, id: DeliveryId) -> Result<DispatchOutcome, PortError> {
        let outcomes = self.dispatch_batch(&[id]).await?;
        Ok(outcomes.into_iter().next().map_or(DispatchOutcome::Skipped, |(_, outcome)| outcome))
    }

    /// Dispatches deliveries: claims the claimable ones (`PENDING → DISPATCHING` with a lease),
    /// calls their vendors concurrently outside any transaction, applies the state machine and
    /// stores every try and new state. Returns the outcome of each claimed delivery; ids not
    /// claimed (duplicates, not due, unknown) are [`DispatchOutcome::Skipped`] and not listed.
    /// A port error fails the whole batch: results not stored are retried when the leases of
    /// their deliveries expire.
    pub async fn dispatch_batch(
        &self,
        ids: &[DeliveryId],
    ) -> Result<Vec<(DeliveryId, DispatchOutcome)>, PortError> {
        let now = self.now();
        let lease_until = now + chrono_duration(self.settings.dispatch_lease);
        let claimed = self.deps.deliveries.claim_many(ids, now, lease_until).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut senders = Vec::with_capacity(claimed.len());
        for delivery in &claimed {
            let Some(sender) = self.deps.senders.get(delivery.channel).cloned() else {
                return Err(PortError::Unexpected(anyhow::anyhow!(
                    "no sender configured for channel {}",
                    delivery.channel
                )));
            };
            senders.push(sender);
        }
        let calls = claimed.iter().zip(senders).map(|(delivery, sender)| {
            let span = tracing::info_span!("dispatch", delivery_id = %delivery.id);
            async move {
                let request = DispatchRequest {
                    delivery_id: delivery.id,
                    notification_id: delivery.notification_id,
                    channel: delivery.channel,
                    target: delivery.target.clone(),
                    title: delivery.title.clone(),
                    body: delivery.body.clone(),
                    lms: delivery.lms,
                    attempt: delivery.state.tries,
                };
                let started = Instant::now();
                let result = sender.send(&request).await;
                (result, started.elapsed(), self.now())
            }
            .instrument(span)
        });
        let called = join_all(calls).await;

        let mut results = Vec::with_capacity(claimed.len());
        let mut events = Vec::with_capacity(claimed.len());
        for (delivery, (result, elapsed, at)) in claimed.iter().zip(called) {
            let call = self.outcome_of(delivery, result, elapsed, at)?;
            events.push((call.unregistered, call.event));
            results.push(call.result);
        }
        let stored_at = self.now();
        let applied = self.deps.deliveries.record_results(&results, stored_at).await?;

        let mut outcomes = Vec::with_capacity(claimed.len());
        for ((delivery, result), (applied, (unregistered, _))) in
            claimed.iter().zip(&results).zip(applied.into_iter().zip(&events))
        {
            if *unregistered {
                self.disable_unregistered_device(&delivery.target).await?;
            }
            outcomes.push((delivery.id, self.outcome_recorded(result, applied)));
        }
        Ok(outcomes)
    }

    /// The try, new state and metrics of one vendor call.
    fn outcome_of(
        &self,
        delivery: &ClaimedDelivery,
        result: Result<VendorReceipt, SendError>,
        elapsed: Duration,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Called, PortError> {
        let latency_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        let (event, attempt, error_class, vendor_message_id, unregistered) = match result {
            Ok(receipt) => (
                DeliveryEvent::VendorAccepted,
                Try {
                    at,
                    outcome: TryOutcome::Sent,
                    error_class: None,
                    vendor_code: None,
                    detail: None,
                    latency_ms,
                },
                None,
                receipt.vendor_message_id,
                false,
            ),
            Err(error) => {
                let (class, retry_after, error_class) = match error.kind {
                    SendErrorKind::Transient { retry_after } => (
                        FailureClass::Transient,
                        retry_after,
                        if retry_after.is_some() { ErrorClass::RateLimited } else { ErrorClass::Transient },
                    ),
                    SendErrorKind::Permanent => (FailureClass::Permanent, None, ErrorClass::Permanent),
                    SendErrorKind::Unregistered => (FailureClass::Permanent, None, ErrorClass::Unregistered),
                };
                (
                    DeliveryEvent::VendorFailed { class, retry_after },
                    Try {
                        at,
                        outcome: TryOutcome::Failed,
                        error_class: Some(error_class),
                        vendor_code: error.code.clone(),
                        detail: Some(error.detail.clone()),
                        latency_ms,
                    },
                    Some(error_class),
                    None,
                    error.kind == SendErrorKind::Unregistered,
                )
            }
        };
        self.record(MetricEvent::Dispatch { channel: delivery.channel, failure: error_class, elapsed });
        let mut random = EntropySource(self.deps.entropy.as_ref());
        let state = delivery
            .state
            .apply(&event, at, &self.settings.retry, &mut random)
            .map_err(|e| PortError::Unexpected(anyhow::anyhow!("state machine: {e}")))?;
        let result = DispatchResult {
            id: delivery.id,
            channel: delivery.channel,
            expected: Expectation { status: DeliveryStatus::Dispatching, tries: delivery.state.tries },
            state,
            attempt,
            vendor_message_id,
            last_error_class: error_class,
        };
        Ok(Called { result, event, unregistered })
    }

    /// The outcome of a stored (or refused) result, with its metrics.
    fn outcome_recorded(&self, result: &DispatchResult, applied: bool) -> DispatchOutcome {
        let channel = result.channel;
        if !applied {
            tracing::warn!(
                delivery_id = %result.id,
                "lease lost before the dispatch result was stored; the vendor may have been called twice"
            );
            self.record(MetricEvent::PossibleDuplicateSend { channel, cause: DuplicateCause::LeaseLost });
            return DispatchOutcome::LeaseLost;
        }
        match result.state.status {
            DeliveryStatus::Sent => DispatchOutcome::Sent,
            DeliveryStatus::Pending => {
                self.record(MetricEvent::RetryScheduled { channel });
                DispatchOutcome::RetryScheduled
            }
            _ => DispatchOutcome::Exhausted,
        }
    }

    /// Disables the device a push target names (the vendor said it is unregistered).
    pub(crate) async fn disable_unregistered_device(&self, target: &Target) -> Result<(), PortError> {
        if let Target::Device { id, .. } = target {
            self.deps.devices.disable_by_id(*id).await?;
        }
        Ok(())
    }

    /// Takes up to `max` messages from `channel`'s queue (waiting up to `wait` for the first),
    /// dispatches them as one batch and acknowledges them once every result is stored. When
    /// the batch fails on a port error nothing is acknowledged, so the queue delivers the
    /// messages again, and the error is returned (the caller backs off). Returns how many were
    /// acknowledged.
    pub async fn consume(&self, channel: Channel, max: usize, wait: Duration) -> Result<usize, PortError> {
        let received =
            self.deps.queue.receive(channel, max, wait).await.map_err(|e| PortError::Unavailable(e.0))?;
        if received.is_empty() {
            return Ok(0);
        }
        let ids: Vec<DeliveryId> = received.iter().map(|m| m.message.delivery_id).collect();
        if let Err(e) = self.dispatch_batch(&ids).await {
            tracing::warn!(channel = %channel, messages = ids.len(), error = %e, "dispatch failed; the messages will be delivered again");
            return Err(e);
        }
        let receipts: Vec<u64> = received.iter().map(|m| m.receipt).collect();
        self.deps.queue.ack(channel, &receipts).await.map_err(|e| PortError::Unavailable(e.0))?;
        Ok(receipts.len())
    }
}
