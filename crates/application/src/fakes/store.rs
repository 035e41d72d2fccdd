use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::delivery::{DeliveryStatus, ErrorClass};
use hub_domain::idempotency::Fingerprint;
use hub_domain::preferences::Preferences;
use hub_domain::recipient::devices_over_limit;
use hub_domain::template::TemplateKey;
use hub_domain::{
    AuditId, Channel, Device, DeviceId, DeviceToken, EventId, JobId, Locale, NotificationId, Platform,
    Recipient, RecipientId, TemplateId,
};

use crate::error::PortError;
use crate::ports::*;

#[derive(Debug, Clone)]
struct OutboxRow {
    event: OutboxEvent,
    published_at: Option<DateTime<Utc>>,
    leased_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
struct StoredRecipient {
    recipient: Recipient,
    preferences: Option<Preferences>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    notifications: BTreeMap<NotificationId, NotificationRecord>,
    keys: HashMap<(String, String), (NotificationId, Fingerprint)>,
    deliveries: BTreeMap<hub_domain::DeliveryId, DeliveryRecord>,
    outbox: BTreeMap<EventId, OutboxRow>,
    recipients: HashMap<RecipientId, StoredRecipient>,
    devices: BTreeMap<DeviceId, (RecipientId, Device)>,
    templates: BTreeMap<TemplateId, (TemplateRecord, Vec<TemplateVersion>)>,
    audit: Vec<AuditEntry>,
    jobs: BTreeMap<JobId, BulkJob>,
    next_event: u128,
}

impl State {
    fn add_outbox(&mut self, delivery: &DeliveryRecord, now: DateTime<Utc>) {
        self.next_event += 1;
        let id = EventId::from_parts(u64::try_from(now.timestamp_millis()).unwrap_or(0), self.next_event);
        let event = OutboxEvent {
            id,
            delivery_id: delivery.id,
            notification_id: delivery.notification_id,
            channel: delivery.channel,
            priority: delivery.priority,
            attempt: delivery.state.tries + 1,
            created_at: now,
            publish_attempts: 0,
            next_attempt_at: now,
        };
        self.outbox.insert(id, OutboxRow { event, published_at: None, leased_until: None });
    }

    fn with_deliveries(&self, n: &NotificationRecord) -> NotificationWithDeliveries {
        NotificationWithDeliveries {
            notification: n.clone(),
            deliveries: self.deliveries.values().filter(|d| d.notification_id == n.id).cloned().collect(),
        }
    }

    fn recipient_devices(&self, id: &RecipientId) -> Vec<Device> {
        let mut devices: Vec<Device> =
            self.devices.values().filter(|(owner, _)| owner == id).map(|(_, d)| d.clone()).collect();
        devices.sort_by_key(|d| (d.registered_at, d.id));
        devices
    }
}

/// Every store port in memory, under one lock (so each method is atomic, like a transaction).
#[derive(Debug, Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
    down: AtomicBool,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail with `Unavailable` (database down) until switched back.
    pub fn set_unavailable(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, PortError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(PortError::unavailable("store down"));
        }
        Ok(self.state.lock().expect("store lock"))
    }

    /// Every delivery (test inspection).
    pub fn all_deliveries(&self) -> Vec<DeliveryRecord> {
        self.state.lock().expect("lock").deliveries.values().cloned().collect()
    }

    /// Every notification (test inspection).
    pub fn all_notifications(&self) -> Vec<NotificationRecord> {
        self.state.lock().expect("lock").notifications.values().cloned().collect()
    }

    /// Unpublished outbox events (test inspection).
    pub fn unpublished(&self) -> Vec<OutboxEvent> {
        let state = self.state.lock().expect("lock");
        state.outbox.values().filter(|r| r.published_at.is_none()).map(|r| r.event.clone()).collect()
    }

    /// Every audit entry, oldest first (test inspection).
    pub fn audit_entries(&self) -> Vec<AuditEntry> {
        self.state.lock().expect("lock").audit.clone()
    }
}

#[async_trait]
impl NotificationStore for InMemoryStore {
    async fn accept(&self, new: NewNotification) -> Result<AcceptOutcome, PortError> {
        let mut state = self.state()?;
        if let Some(key) = &new.key {
            let slot = (key.scope.clone(), key.key.as_str().to_owned());
            if let Some((existing, fingerprint)) = state.keys.get(&slot) {
                return Ok(AcceptOutcome::DuplicateKey { existing: *existing, fingerprint: *fingerprint });
            }
            state.keys.insert(slot, (new.notification.id, key.fingerprint));
        }
        if state.notifications.contains_key(&new.notification.id) {
            return Err(PortError::Unexpected(anyhow::anyhow!("duplicate notification id")));
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

#[async_trait]
impl RecipientStore for InMemoryStore {
    async fn get(&self, id: &RecipientId) -> Result<Option<RecipientRecord>, PortError> {
        let state = self.state()?;
        Ok(state.recipients.get(id).map(|r| {
            let mut recipient = r.recipient.clone();
            recipient.devices = state.recipient_devices(id);
            RecipientRecord {
                recipient,
                preferences: r.preferences.clone(),
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        }))
    }

    async fn put(&self, recipient: &Recipient, now: DateTime<Utc>) -> Result<PutOutcome, PortError> {
        let mut state = self.state()?;
        let mut profile = recipient.clone();
        profile.devices.clear();
        match state.recipients.get_mut(&recipient.id) {
            Some(existing) => {
                existing.recipient = profile;
                existing.updated_at = now;
                Ok(PutOutcome::Replaced)
            }
            None => {
                state.recipients.insert(
                    recipient.id.clone(),
                    StoredRecipient {
                        recipient: profile,
                        preferences: None,
                        created_at: now,
                        updated_at: now,
                    },
                );
                Ok(PutOutcome::Created)
            }
        }
    }

    async fn erase(&self, id: &RecipientId, now: DateTime<Utc>) -> Result<bool, PortError> {
        let mut state = self.state()?;
        if state.recipients.remove(id).is_none() {
            return Ok(false);
        }
        state.devices.retain(|_, (owner, _)| owner != id);
        for d in state.deliveries.values_mut().filter(|d| &d.recipient_id == id) {
            d.target = d.target.erased();
            if d.state.status == DeliveryStatus::Pending {
                d.state.status = DeliveryStatus::Cancelled;
            }
            d.updated_at = now;
        }
        Ok(true)
    }

    async fn put_preferences(
        &self,
        id: &RecipientId,
        preferences: &Preferences,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut state = self.state()?;
        let Some(r) = state.recipients.get_mut(id) else { return Ok(false) };
        r.preferences = Some(preferences.clone());
        r.updated_at = now;
        Ok(true)
    }
}

#[async_trait]
impl DeviceStore for InMemoryStore {
    async fn register(
        &self,
        recipient: &RecipientId,
        platform: Platform,
        token: &DeviceToken,
        new_id: DeviceId,
        now: DateTime<Utc>,
    ) -> Result<DeviceRegistration, PortError> {
        let mut state = self.state()?;
        let existing = state
            .devices
            .iter()
            .find(|(_, (_, d))| d.token == *token)
            .map(|(id, (owner, _))| (*id, owner.clone()));
        let registration = match existing {
            Some((id, owner)) => {
                let entry = state.devices.get_mut(&id).expect("found above");
                entry.0 = recipient.clone();
                entry.1.active = true;
                entry.1.platform = platform;
                entry.1.registered_at = now;
                let device = entry.1.clone();
                if owner == *recipient {
                    DeviceRegistration::Existing(device)
                } else {
                    DeviceRegistration::Moved(device)
                }
            }
            None => {
                let device =
                    Device { id: new_id, platform, token: token.clone(), active: true, registered_at: now };
                state.devices.insert(new_id, (recipient.clone(), device.clone()));
                DeviceRegistration::Created(device)
            }
        };
        for id in devices_over_limit(&state.recipient_devices(recipient)) {
            if let Some((_, d)) = state.devices.get_mut(&id) {
                d.active = false;
            }
        }
        Ok(registration)
    }

    async fn list(&self, recipient: &RecipientId) -> Result<Vec<Device>, PortError> {
        Ok(self.state()?.recipient_devices(recipient))
    }

    async fn disable(&self, recipient: &RecipientId, id: DeviceId) -> Result<bool, PortError> {
        let mut state = self.state()?;
        match state.devices.get_mut(&id) {
            Some((owner, d)) if owner == recipient => {
                d.active = false;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn disable_by_id(&self, id: DeviceId) -> Result<bool, PortError> {
        let mut state = self.state()?;
        match state.devices.get_mut(&id) {
            Some((_, d)) => {
                d.active = false;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl TemplateStore for InMemoryStore {
    async fn create(&self, template: &TemplateRecord) -> Result<bool, PortError> {
        let mut state = self.state()?;
        let exists = state.templates.values().any(|(t, _)| {
            t.key == template.key && t.locale == template.locale && t.channel == template.channel
        });
        if exists {
            return Ok(false);
        }
        let version = TemplateVersion {
            version: template.version,
            title: template.title.clone(),
            body: template.body.clone(),
            created_at: template.updated_at,
        };
        state.templates.insert(template.id, (template.clone(), vec![version]));
        Ok(true)
    }

    async fn get(&self, id: TemplateId) -> Result<Option<TemplateRecord>, PortError> {
        Ok(self.state()?.templates.get(&id).map(|(t, _)| t.clone()))
    }

    async fn search(&self, filter: &TemplateFilter, limit: usize) -> Result<Vec<TemplateRecord>, PortError> {
        let state = self.state()?;
        let mut rows: Vec<TemplateRecord> = state
            .templates
            .values()
            .map(|(t, _)| t)
            .filter(|t| filter.key.as_ref().is_none_or(|k| *k == t.key))
            .filter(|t| filter.channel.is_none_or(|c| c == t.channel))
            .filter(|t| filter.locale.as_ref().is_none_or(|l| *l == t.locale))
            .cloned()
            .collect();
        rows.sort_by(|a, b| {
            (a.key.as_str(), &a.locale, a.channel).cmp(&(b.key.as_str(), &b.locale, b.channel))
        });
        rows.truncate(limit);
        Ok(rows)
    }

    async fn update(
        &self,
        id: TemplateId,
        title: Option<&str>,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TemplateRecord>, PortError> {
        let mut state = self.state()?;
        let Some((t, versions)) = state.templates.get_mut(&id) else { return Ok(None) };
        t.version += 1;
        t.title = title.map(str::to_owned);
        t.body = body.to_owned();
        t.updated_at = now;
        versions.push(TemplateVersion {
            version: t.version,
            title: t.title.clone(),
            body: t.body.clone(),
            created_at: now,
        });
        Ok(Some(t.clone()))
    }

    async fn delete(&self, id: TemplateId) -> Result<bool, PortError> {
        Ok(self.state()?.templates.remove(&id).is_some())
    }

    async fn versions(&self, id: TemplateId) -> Result<Option<Vec<TemplateVersion>>, PortError> {
        Ok(self.state()?.templates.get(&id).map(|(_, v)| v.clone()))
    }

    async fn find(
        &self,
        key: &TemplateKey,
        locale: &Locale,
        channel: Channel,
    ) -> Result<Option<TemplateRecord>, PortError> {
        let state = self.state()?;
        Ok(state
            .templates
            .values()
            .map(|(t, _)| t)
            .find(|t| t.key == *key && t.locale == *locale && t.channel == channel)
            .cloned())
    }
}

#[async_trait]
impl AuditLog for InMemoryStore {
    async fn record(&self, entry: AuditEntry) -> Result<(), PortError> {
        self.state()?.audit.push(entry);
        Ok(())
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        after: Option<(DateTime<Utc>, AuditId)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, PortError> {
        let state = self.state()?;
        let mut rows: Vec<&AuditEntry> = state
            .audit
            .iter()
            .filter(|e| filter.action.is_none_or(|a| a == e.action))
            .filter(|e| filter.from.is_none_or(|f| e.at >= f))
            .filter(|e| filter.to.is_none_or(|t| e.at < t))
            .filter(|e| after.is_none_or(|c| (e.at, e.id) < c))
            .collect();
        rows.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
        Ok(rows.into_iter().take(limit).cloned().collect())
    }
}

#[async_trait]
impl JobStore for InMemoryStore {
    async fn create(&self, job: &BulkJob) -> Result<(), PortError> {
        self.state()?.jobs.insert(job.id, job.clone());
        Ok(())
    }

    async fn get(&self, id: JobId) -> Result<Option<BulkJob>, PortError> {
        Ok(self.state()?.jobs.get(&id).cloned())
    }

    async fn claim_runnable(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<BulkJob>, PortError> {
        let mut state = self.state()?;
        let job = state
            .jobs
            .values_mut()
            .find(|j| j.state == JobState::Running && j.lease_until.is_none_or(|l| l <= now));
        Ok(job.map(|j| {
            j.lease_until = Some(lease_until);
            j.clone()
        }))
    }

    async fn record_failure(
        &self,
        id: JobId,
        from: Option<DlqCursor>,
        to: DlqCursor,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut state = self.state()?;
        let Some(job) = state.jobs.get_mut(&id) else { return Ok(false) };
        if job.cursor != from {
            return Ok(false);
        }
        job.cursor = Some(to);
        job.processed_count += 1;
        job.failure_count += 1;
        job.first_error.get_or_insert_with(|| error.to_owned());
        job.updated_at = now;
        Ok(true)
    }

    async fn release(&self, id: JobId) -> Result<(), PortError> {
        if let Some(job) = self.state()?.jobs.get_mut(&id) {
            job.lease_until = None;
        }
        Ok(())
    }

    async fn finish(&self, id: JobId, state_to: JobState, now: DateTime<Utc>) -> Result<(), PortError> {
        let mut state = self.state()?;
        if let Some(job) = state.jobs.get_mut(&id) {
            job.state = state_to;
            job.lease_until = None;
            job.updated_at = now;
        }
        Ok(())
    }
}
