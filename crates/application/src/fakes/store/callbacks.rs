//! The `webhook-id`s of vendor callbacks claimed or already taken: one record per
//! `(vendor, webhook-id)`, unsettled while its callback is being applied.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

/// One `callback_log` row.
#[derive(Debug, Clone, Copy)]
pub(super) struct WebhookRecord {
    /// Live while `now < keep_until`.
    keep_until: DateTime<Utc>,
    /// The callback was applied (a replay); unsettled = a claim (in flight).
    settled: bool,
}

fn key(vendor: &str, webhook_id: &str) -> (String, String) {
    (vendor.to_owned(), webhook_id.to_owned())
}

#[async_trait]
impl CallbackLog for InMemoryStore {
    async fn remember(
        &self,
        vendor: &str,
        webhook_id: &str,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
    ) -> Result<Remembered, PortError> {
        let mut state = self.state()?;
        let key = key(vendor, webhook_id);
        match state.webhooks.get(&key) {
            Some(r) if now < r.keep_until && r.settled => Ok(Remembered::AlreadySeen),
            Some(r) if now < r.keep_until => Ok(Remembered::InFlight),
            _ => {
                state.webhooks.insert(key, WebhookRecord { keep_until: claim_until, settled: false });
                Ok(Remembered::New)
            }
        }
    }

    async fn settle(
        &self,
        vendor: &str,
        webhook_id: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut state = self.state()?;
        if let Some(record) = state.webhooks.get_mut(&key(vendor, webhook_id)) {
            *record = WebhookRecord { keep_until, settled: true };
        }
        Ok(())
    }

    async fn forget(&self, vendor: &str, webhook_id: &str) -> Result<(), PortError> {
        self.state()?.webhooks.remove(&key(vendor, webhook_id));
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<u64, PortError> {
        let mut state = self.state()?;
        let expired: Vec<(String, String)> = state
            .webhooks
            .iter()
            .filter(|(_, r)| r.keep_until <= now)
            .map(|(k, _)| k.clone())
            .take(limit)
            .collect();
        for key in &expired {
            state.webhooks.remove(key);
        }
        Ok(expired.len() as u64)
    }
}
