//! Workers' housekeeping: queue due deliveries, take back expired leases (SPEC §3, §4).

use hub_domain::delivery::{DeliveryEvent, DeliveryStatus, ErrorClass, Try, TryOutcome};

use crate::App;
use crate::app::EntropySource;
use crate::app::chrono_duration;
use crate::error::PortError;
use crate::ports::{DeliveryUpdate, DuplicateCause, Expectation, MetricEvent, UpdateOutcome};

impl App {
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
