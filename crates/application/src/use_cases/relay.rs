//! The outbox relay (SPEC §4): claim → publish the batch → mark published; failed rows back off.

use std::time::Duration;

use crate::App;
use crate::app::chrono_duration;
use crate::error::PortError;
use crate::ports::QueueMessage;

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Rows published and marked.
    pub published: usize,
    /// Rows that failed to publish (retried after backoff).
    pub failed: usize,
}

/// Backoff of an outbox row after `attempts` failed publications: 1 s doubling, at most 60 s.
pub fn publish_backoff(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.min(6)).min(Duration::from_secs(60))
}

impl App {
    /// One relay pass over at most `batch` outbox rows.
    pub async fn relay_outbox(&self, batch: usize) -> Result<RelayReport, PortError> {
        let now = self.now();
        let events =
            self.deps.outbox.claim(now, now + chrono_duration(self.settings.outbox_lease), batch).await?;
        if events.is_empty() {
            return Ok(RelayReport::default());
        }
        let messages: Vec<QueueMessage> = events
            .iter()
            .map(|e| QueueMessage {
                event_id: e.id,
                delivery_id: e.delivery_id,
                notification_id: e.notification_id,
                channel: e.channel,
                priority: e.priority,
                attempt: e.attempt,
            })
            .collect();
        let results = self.deps.queue.publish(&messages).await;
        let mut published = Vec::with_capacity(events.len());
        let mut failed: Vec<(hub_domain::EventId, u32)> = Vec::new();
        for (event, result) in events.iter().zip(results.iter().map(Some).chain(std::iter::repeat(None))) {
            match result {
                Some(Ok(())) => published.push(event.id),
                Some(Err(e)) => {
                    tracing::warn!(event_id = %event.id, error = %e, "outbox row failed to publish");
                    failed.push((event.id, event.publish_attempts));
                }
                None => failed.push((event.id, event.publish_attempts)),
            }
        }
        let at = self.now();
        if !published.is_empty() {
            self.deps.outbox.mark_published(&published, at).await?;
        }
        for (id, attempts) in &failed {
            self.deps.outbox.mark_failed(&[*id], at + chrono_duration(publish_backoff(*attempts))).await?;
        }
        Ok(RelayReport { claimed: events.len(), published: published.len(), failed: failed.len() })
    }

    /// Deletes published outbox rows older than the retention, at most `limit`.
    pub async fn purge_outbox(&self, limit: usize) -> Result<u64, PortError> {
        let older_than = self.now() - chrono_duration(self.settings.outbox_retention);
        self.deps.outbox.purge_published(older_than, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_backoff_doubles_up_to_a_minute() {
        assert_eq!(publish_backoff(0), Duration::from_secs(1));
        assert_eq!(publish_backoff(1), Duration::from_secs(2));
        assert_eq!(publish_backoff(5), Duration::from_secs(32));
        assert_eq!(publish_backoff(6), Duration::from_secs(60));
        assert_eq!(publish_backoff(40), Duration::from_secs(60));
    }
}
