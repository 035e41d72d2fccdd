//! The outbox (relay side).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

#[async_trait]
impl Outbox for InMemoryStore {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, PortError> {
        let mut state = self.state()?;
        let mut rows: Vec<&mut OutboxRow> = state
            .outbox
            .values_mut()
            .filter(|r| r.published_at.is_none())
            .filter(|r| r.event.next_attempt_at <= now)
            .filter(|r| r.leased_until.is_none_or(|l| l <= now))
            .collect();
        rows.sort_by_key(|r| (r.event.created_at, r.event.id));
        Ok(rows
            .into_iter()
            .take(limit)
            .map(|r| {
                r.leased_until = Some(lease_until);
                r.event.clone()
            })
            .collect())
    }

    async fn mark_published(&self, ids: &[EventId], now: DateTime<Utc>) -> Result<(), PortError> {
        let mut state = self.state()?;
        for id in ids {
            if let Some(r) = state.outbox.get_mut(id) {
                r.published_at = Some(now);
                r.leased_until = None;
            }
        }
        Ok(())
    }

    async fn mark_failed(&self, ids: &[EventId], retry_at: DateTime<Utc>) -> Result<(), PortError> {
        let mut state = self.state()?;
        for id in ids {
            if let Some(r) = state.outbox.get_mut(id) {
                r.event.publish_attempts += 1;
                r.event.next_attempt_at = retry_at;
                r.leased_until = None;
            }
        }
        Ok(())
    }

    async fn purge_published(&self, older_than: DateTime<Utc>, limit: usize) -> Result<u64, PortError> {
        let mut state = self.state()?;
        let old: Vec<EventId> = state
            .outbox
            .values()
            .filter(|r| r.published_at.is_some_and(|p| p < older_than))
            .map(|r| r.event.id)
            .take(limit)
            .collect();
        for id in &old {
            state.outbox.remove(id);
        }
        Ok(old.len() as u64)
    }

    async fn backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), PortError> {
        let state = self.state()?;
        let pending: Vec<&OutboxRow> = state.outbox.values().filter(|r| r.published_at.is_none()).collect();
        Ok((pending.len() as u64, pending.iter().map(|r| r.event.created_at).min()))
    }
}
