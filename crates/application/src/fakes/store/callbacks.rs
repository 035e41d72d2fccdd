//! The `webhook-id`s of vendor callbacks already taken.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

#[async_trait]
impl CallbackLog for InMemoryStore {
    async fn remember(
        &self,
        vendor: &str,
        webhook_id: &str,
        now: DateTime<Utc>,
        keep_until: DateTime<Utc>,
    ) -> Result<Remembered, PortError> {
        let mut state = self.state()?;
        let key = (vendor.to_owned(), webhook_id.to_owned());
        if state.webhooks.get(&key).is_some_and(|until| now < *until) {
            return Ok(Remembered::AlreadySeen);
        }
        state.webhooks.insert(key, keep_until);
        Ok(Remembered::New)
    }

    async fn forget(&self, vendor: &str, webhook_id: &str) -> Result<(), PortError> {
        self.state()?.webhooks.remove(&(vendor.to_owned(), webhook_id.to_owned()));
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<u64, PortError> {
        let mut state = self.state()?;
        let expired: Vec<(String, String)> = state
            .webhooks
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(k, _)| k.clone())
            .take(limit)
            .collect();
        for key in &expired {
            state.webhooks.remove(key);
        }
        Ok(expired.len() as u64)
    }
}
