//! Notifications, deliveries and the DLQ read side.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

#[async_trait]
impl NotificationStore for InMemoryStore {
    async fn accept(&self, new: NewNotification) -> Result<AcceptOutcome, PortError> {
        let mut state = self.state()?;
        let slot = new.key.as_ref().map(|key| (key.scope.clone(), key.key.as_str().to_owned()));
        if let Some((existing, fingerprint)) = slot.as_ref().and_then(|slot| state.keys.get(slot)) {
            return Ok(AcceptOutcome::DuplicateKey { existing: *existing, fingerprint: *fingerprint });
        }
        // Like primary keys in a database: a clash fails the whole accept before anything
        // (the idempotency key included) is written.
        if state.notifications.contains_key(&new.notification.id) {
            return Err(PortError::Unexpected(anyhow::anyhow!("duplicate notification id")));
        }
        if new.deliveries.iter().any(|d| state.deliveries.contains_key(&d.id)) {
            return Err(PortError::Unexpected(anyhow::anyhow!("duplicate delivery id")));
        }
        if new.outbox.iter().any(|e| state.outbox.contains_key(&e.id)) {
            return Err(PortError::Unexpected(anyhow::anyhow!("duplicate outbox event id")));
        }
        if let (Some(slot), Some(key)) = (slot, &new.key) {
            state.keys.insert(slot, (new.notification.id, key.fingerprint));
        }
        state.notifications.insert(new.notification.id, new.notification);
        for d in new.deliveries {
            state.deliveries.insert(d.id, d);
        }
        for e in new.outbox {
            state.outbox.insert(e.id, OutboxRow { event: e, published_at: None, leased_until: None });
        }
        Ok(AcceptOutcome::Accepted)
    }

    async fn get(&self, id: NotificationId) -> Result<Option<NotificationWithDeliveries>, PortError> {
        let state = self.state()?;
        Ok(state.notifications.get(&id).map(|n| state.with_deliveries(n)))
    }

    async fn list(
        &self,
        filter: &NotificationFilter,
        after: Option<NotificationCursor>,
        limit: usize,
    ) -> Result<Vec<NotificationWithDeliveries>, PortError> {
        let state = self.state()?;
        let mut rows: Vec<&NotificationRecord> = state
            .notifications
            .values()
            .filter(|n| filter.recipient_id.as_ref().is_none_or(|r| *r == n.recipient_id))
            .filter(|n| filter.kind.is_none_or(|k| k == n.kind))
            .filter(|n| filter.from.is_none_or(|f| n.created_at >= f))
            .filter(|n| filter.to.is_none_or(|t| n.created_at < t))
            .filter(|n| after.is_none_or(|c| (n.created_at, n.id) < (c.created_at, c.id)))
            .collect();
        rows.sort_by_key(|n| std::cmp::Reverse((n.created_at, n.id)));
        Ok(rows.into_iter().take(limit).map(|n| state.with_deliveries(n)).collect())
    }
}

#[async_trait]
impl DeliveryStore for InMemoryStore {
    async fn get(&self, id: hub_domain::DeliveryId) -> Result<Option<DeliveryRecord>, PortError> {
        Ok(self.state()?.deliveries.get(&id).cloned())
    }

    async fn find_by_vendor_message_id(
        &self,
        channel: Option<Channel>,
        vendor_message_id: &str,
    ) -> Result<Option<DeliveryRecord>, PortError> {
        let state = self.state()?;
        Ok(state
            .deliveries
            .values()
            .find(|d| {
                d.vendor_message_id.as_deref() == Some(vendor_message_id)
                    && channel.is_none_or(|c| c == d.channel)
            })
            .cloned())
    }

    async fn claim(
        &self,
        id: hub_domain::DeliveryId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, PortError> {
        let mut state = self.state()?;
        let Some(d) = state.deliveries.get_mut(&id) else { return Ok(None) };
        if d.state.status != DeliveryStatus::Pending || d.state.not_before > now {
            return Ok(None);
        }
        d.state.status = DeliveryStatus::Dispatching;
        d.state.tries += 1;
        d.state.lease_until = Some(lease_until);
        d.updated_at = now;
        Ok(Some(d.clone()))
    }

    async fn update(
        &self,
        id: hub_domain::DeliveryId,
        expected: Expectation,
        update: DeliveryUpdate,
        now: DateTime<Utc>,
    ) -> Result<UpdateOutcome, PortError> {
        let mut state = self.state()?;
        let Some(current) = state.deliveries.get(&id) else { return Ok(UpdateOutcome::NotFound) };
        if current.state.status != expected.status || current.state.tries != expected.tries {
            return Ok(UpdateOutcome::Conflict);
        }
        if let Some(step) = &update.job_step {
            let Some(job) = state.jobs.get(&step.job_id) else { return Ok(UpdateOutcome::Conflict) };
            if job.cursor != step.from {
                return Ok(UpdateOutcome::Conflict);
            }
        }
        let mut d = current.clone();
        d.state = update.state;
        if let Some(t) = update.push_try {
            d.tries.push(t);
        }
        if update.vendor_message_id.is_some() {
            d.vendor_message_id = update.vendor_message_id;
        }
        if update.last_error_class.is_some() {
            d.last_error_class = update.last_error_class;
        }
        if update.discard_reason.is_some() {
            d.discard_reason = update.discard_reason;
        }
        d.exhausted_at = match d.state.status {
            DeliveryStatus::Exhausted => Some(current.exhausted_at.unwrap_or(now)),
            _ => None,
        };
        if d.state.status == DeliveryStatus::Pending && !update.enqueue {
            d.queued_at = None;
        }
        if update.enqueue {
            d.queued_at = Some(now);
        }
        d.updated_at = now;
        if update.enqueue {
            state.add_outbox(&d, now);
        }
        if let Some(step) = update.job_step {
            if let Some(job) = state.jobs.get_mut(&step.job_id) {
                job.cursor = Some(step.to);
                job.processed_count += 1;
                job.success_count += 1;
                job.updated_at = now;
            }
        }
        state.deliveries.insert(id, d.clone());
        Ok(UpdateOutcome::Applied(d))
    }

    async fn enqueue_due(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, PortError> {
        let mut state = self.state()?;
        let due: Vec<hub_domain::DeliveryId> = state
            .deliveries
            .values()
            .filter(|d| d.state.status == DeliveryStatus::Pending && d.state.not_before <= now)
            .filter(|d| d.queued_at.is_none_or(|q| q < stale_before))
            .map(|d| d.id)
            .take(limit)
            .collect();
        for id in &due {
            let Some(d) = state.deliveries.get_mut(id) else { continue };
            d.queued_at = Some(now);
            let snapshot = d.clone();
            state.add_outbox(&snapshot, now);
        }
        Ok(due.len())
    }

    async fn expired_leases(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PortError> {
        let state = self.state()?;
        Ok(state
            .deliveries
            .values()
            .filter(|d| {
                d.state.status == DeliveryStatus::Dispatching && d.state.lease_until.is_some_and(|l| l <= now)
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn cancel_pending(
        &self,
        id: NotificationId,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, PortError> {
        let mut state = self.state()?;
        if !state.notifications.contains_key(&id) {
            return Ok(None);
        }
        let mut n = 0;
        for d in state.deliveries.values_mut().filter(|d| d.notification_id == id) {
            if d.state.status == DeliveryStatus::Pending {
                d.state.status = DeliveryStatus::Cancelled;
                d.updated_at = now;
                n += 1;
            }
        }
        Ok(Some(n))
    }
}

fn dlq_matches(d: &DeliveryRecord, filter: &DlqFilter) -> bool {
    d.state.status == DeliveryStatus::Exhausted
        && filter.channel.is_none_or(|c| c == d.channel)
        && filter.error_class.is_none_or(|e| Some(e) == d.last_error_class)
        && d.exhausted_at
            .is_some_and(|at| filter.from.is_none_or(|f| at >= f) && filter.to.is_none_or(|t| at < t))
}

#[async_trait]
impl DlqStore for InMemoryStore {
    async fn list(
        &self,
        filter: &DlqFilter,
        after: Option<DlqCursor>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, PortError> {
        let state = self.state()?;
        let mut rows: Vec<&DeliveryRecord> = state
            .deliveries
            .values()
            .filter(|d| dlq_matches(d, filter))
            .filter(|d| after.is_none_or(|c| (d.exhausted_at, d.id) > (Some(c.exhausted_at), c.id)))
            .collect();
        rows.sort_by_key(|d| (d.exhausted_at, d.id));
        Ok(rows.into_iter().take(limit).cloned().collect())
    }

    async fn count(&self, filter: &DlqFilter) -> Result<u64, PortError> {
        let state = self.state()?;
        Ok(state.deliveries.values().filter(|d| dlq_matches(d, filter)).count() as u64)
    }

    async fn stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_seconds: u64,
    ) -> Result<Vec<DlqStatRow>, PortError> {
        let state = self.state()?;
        let filter = DlqFilter { from: Some(from), to: Some(to), ..DlqFilter::default() };
        let bucket = i64::try_from(bucket_seconds).unwrap_or(i64::MAX).max(1);
        let mut counts: BTreeMap<(i64, Channel, Option<ErrorClass>), u64> = BTreeMap::new();
        for d in state.deliveries.values().filter(|d| dlq_matches(d, &filter)) {
            let Some(at) = d.exhausted_at else { continue };
            let start = at.timestamp().div_euclid(bucket) * bucket;
            *counts.entry((start, d.channel, d.last_error_class)).or_default() += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((start, channel, error_class), count)| DlqStatRow {
                bucket_start: DateTime::from_timestamp(start, 0).unwrap_or(from),
                channel,
                error_class,
                count,
            })
            .collect())
    }
}
