//! Workers: dispatch one delivery, queue due deliveries, reap expired leases (SPEC §3, §4).

use std::time::Instant;

use hub_domain::delivery::{DeliveryEvent, DeliveryStatus, ErrorClass, FailureClass, Try, TryOutcome};
use hub_domain::{DeliveryId, Target};

use crate::App;
use crate::app::EntropySource;
use crate::app::chrono_duration;
use crate::error::PortError;
use crate::ports::{
    DeliveryRecord, DeliveryUpdate, DispatchRequest, DuplicateCause, Expectation, MetricEvent, SendErrorKind,
    UpdateOutcome,
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

impl App {
    /// Dispatches one delivery: claim `PENDING → DISPATCHING` with a lease, call the vendor
    /// outside any transaction, record the try and apply the state machine.
    #[tracing::instrument(skip_all, fields(delivery_id = %id))]
    pub async fn dispatch(&self, id: DeliveryId) -> Result<DispatchOutcome, PortError> {
        let now = self.now();
        let lease_until = now + chrono_duration(self.settings.dispatch_lease);
        let Some(claimed) = self.deps.deliveries.claim(id, now, lease_until).await? else {
            return Ok(DispatchOutcome::Skipped);
        };
        let Some(sender) = self.deps.senders.get(claimed.channel).cloned() else {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "no sender configured for channel {}",
                claimed.channel
            )));
        };
        let request = DispatchRequest {
            delivery_id: claimed.id,
            notification_id: claimed.notification_id,
            channel: claimed.channel,
            target: claimed.target.clone(),
            title: claimed.title.clone(),
            body: claimed.body.clone(),
            lms: claimed.lms,
            attempt: claimed.state.tries,
        };
        let started = Instant::now();
        let result = sender.send(&request).await;
        let elapsed = started.elapsed();
        let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let at = self.now();

        let (event, attempt_record, error_class, vendor_message_id, unregistered) = match result {
            Ok(receipt) => (
                DeliveryEvent::VendorAccepted,
                Try {
                    at,
                    outcome: TryOutcome::Sent,
                    error_class: None,
                    vendor_code: None,
                    detail: None,
                    latency_ms: Some(latency_ms),
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
                        latency_ms: Some(latency_ms),
                    },
                    Some(error_class),
                    None,
                    error.kind == SendErrorKind::Unregistered,
                )
            }
        };
        self.record(MetricEvent::Dispatch { channel: claimed.channel, failure: error_class, elapsed });
        let mut random = EntropySource(self.deps.entropy.as_ref());
        let state = claimed
            .state
            .apply(&event, at, &self.settings.retry, &mut random)
            .map_err(|e| PortError::Unexpected(anyhow::anyhow!("state machine: {e}")))?;
        let update = DeliveryUpdate {
            push_try: Some(attempt_record),
            vendor_message_id,
            last_error_class: error_class,
            ..DeliveryUpdate::state(state)
        };
        let expected = Expectation { status: DeliveryStatus::Dispatching, tries: claimed.state.tries };
        let outcome = self.deps.deliveries.update(id, expected, update, at).await?;
        if unregistered {
            self.disable_unregistered_device(&claimed).await?;
        }
        let channel = claimed.channel;
        Ok(match outcome {
            UpdateOutcome::Applied(_) => match state.status {
                DeliveryStatus::Sent => DispatchOutcome::Sent,
                DeliveryStatus::Pending => {
                    self.record(MetricEvent::RetryScheduled { channel });
                    DispatchOutcome::RetryScheduled
                }
                _ => DispatchOutcome::Exhausted,
            },
            UpdateOutcome::Conflict | UpdateOutcome::NotFound => {
                tracing::warn!(
                    "lease lost before the dispatch result was stored; the vendor may have been called twice"
                );
                self.record(MetricEvent::PossibleDuplicateSend { channel, cause: DuplicateCause::LeaseLost });
                DispatchOutcome::LeaseLost
            }
        })
    }

    pub(crate) async fn disable_unregistered_device(
        &self,
        delivery: &DeliveryRecord,
    ) -> Result<(), PortError> {
        if let Target::Device { id, .. } = &delivery.target {
            self.deps.devices.disable_by_id(*id).await?;
        }
        Ok(())
    }

    /// Queues PENDING deliveries whose `notBefore` has come (retries, quiet hours, Kakao night,
    /// `sendAt`), and re-queues due ones whose queue message was lost. Returns how many.
    pub async fn enqueue_due(&self, limit: usize) -> Result<usize, PortError> {
        let now = self.now();
        let stale_before = now - chrono_duration(self.settings.requeue_after);
        self.deps.deliveries.enqueue_due(now, stale_before, limit).await
    }

    /// Queues every due PENDING delivery again, however recently it was queued: used at start
    /// with the in-process queue, whose content did not survive the previous process (a
    /// duplicate message is harmless: the claim drops it). Returns how many were queued.
    pub async fn requeue_all_due(&self, batch: usize) -> Result<usize, PortError> {
        let now = self.now();
        let mut total = 0;
        loop {
            let n = self
                .deps
                .deliveries
                // `stale_before = now`: rows this very call queues (queued_at = now) are not stale,
                // so the loop ends.
                .enqueue_due(now, now, batch)
                .await?;
            total += n;
            if n < batch {
                return Ok(total);
            }
        }
    }

    /// Takes back DISPATCHING deliveries whose worker died (lease expired): PENDING again, or
    /// EXHAUSTED when the tries are used up. Returns how many were taken back.
    pub async fn reap_expired_leases(&self, limit: usize) -> Result<usize, PortError> {
        let now = self.now();
        let mut reaped = 0;
        for delivery in self.deps.deliveries.expired_leases(now, limit).await? {
            let mut random = EntropySource(self.deps.entropy.as_ref());
            let Ok(state) =
                delivery.state.apply(&DeliveryEvent::LeaseExpired, now, &self.settings.retry, &mut random)
            else {
                continue;
            };
            let update = DeliveryUpdate {
                push_try: Some(Try {
                    at: now,
                    outcome: TryOutcome::LeaseExpired,
                    error_class: Some(ErrorClass::LeaseExpired),
                    vendor_code: None,
                    detail: Some("the worker did not report a result before its lease expired".into()),
                    latency_ms: None,
                }),
                last_error_class: Some(ErrorClass::LeaseExpired),
                ..DeliveryUpdate::state(state)
            };
            let expected = Expectation { status: DeliveryStatus::Dispatching, tries: delivery.state.tries };
            if let UpdateOutcome::Applied(_) =
                self.deps.deliveries.update(delivery.id, expected, update, now).await?
            {
                let channel = delivery.channel;
                self.record(MetricEvent::PossibleDuplicateSend {
                    channel,
                    cause: DuplicateCause::LeaseReaped,
                });
                if state.status == DeliveryStatus::Pending {
                    self.record(MetricEvent::RetryScheduled { channel });
                }
                reaped += 1;
            }
        }
        Ok(reaped)
    }
}

impl App {
    /// Takes up to `max` messages from `channel`'s queue, dispatches each and acknowledges those
    /// whose new state is stored. A message whose dispatch failed on a port error is not
    /// acknowledged, so the queue delivers it again. Returns how many were acknowledged.
    pub async fn consume(
        &self,
        channel: hub_domain::Channel,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<usize, PortError> {
        let received =
            self.deps.queue.receive(channel, max, wait).await.map_err(|e| PortError::Unavailable(e.0))?;
        let mut done = Vec::with_capacity(received.len());
        for message in received {
            match self.dispatch(message.message.delivery_id).await {
                Ok(_) => done.push(message.receipt),
                Err(e) => {
                    tracing::warn!(delivery_id = %message.message.delivery_id, error = %e, "dispatch failed; the message will be delivered again")
                }
            }
        }
        if !done.is_empty() {
            self.deps.queue.ack(channel, &done).await.map_err(|e| PortError::Unavailable(e.0))?;
        }
        Ok(done.len())
    }
}
