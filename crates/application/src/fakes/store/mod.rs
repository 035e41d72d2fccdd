use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

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

mod callbacks;
use callbacks::WebhookRecord;
mod directory;
mod notifications;
mod operations;
mod outbox;

#[derive(Debug, Clone)]
pub(super) struct OutboxRow {
    event: OutboxEvent,
    published_at: Option<DateTime<Utc>>,
    leased_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(super) struct StoredRecipient {
    recipient: Recipient,
    preferences: Option<Preferences>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    notifications: BTreeMap<NotificationId, NotificationRecord>,
    keys: HashMap<(String, String), (NotificationId, Fingerprint)>,
    deliveries: BTreeMap<hub_domain::DeliveryId, DeliveryRecord>,
    outbox: BTreeMap<EventId, OutboxRow>,
    recipients: HashMap<RecipientId, StoredRecipient>,
    devices: BTreeMap<DeviceId, (RecipientId, Device)>,
    templates: BTreeMap<TemplateId, (TemplateRecord, Vec<TemplateVersion>)>,
    audit: Vec<AuditEntry>,
    jobs: BTreeMap<JobId, BulkJob>,
    /// `(vendor, webhook-id)` → its record.
    webhooks: BTreeMap<(String, String), WebhookRecord>,
    next_event: u128,
}

impl State {
    pub(super) fn add_outbox(&mut self, delivery: &DeliveryRecord, now: DateTime<Utc>) {
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

    pub(super) fn with_deliveries(&self, n: &NotificationRecord) -> NotificationWithDeliveries {
        NotificationWithDeliveries {
            notification: n.clone(),
            deliveries: self.deliveries.values().filter(|d| d.notification_id == n.id).cloned().collect(),
        }
    }

    pub(super) fn recipient_devices(&self, id: &RecipientId) -> Vec<Device> {
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

    pub(super) fn state(&self) -> Result<MutexGuard<'_, State>, PortError> {
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

#[async_trait::async_trait]
impl HealthProbe for InMemoryStore {
    fn name(&self) -> &'static str {
        "store"
    }

    async fn check(&self) -> Result<(), PortError> {
        self.state().map(|_| ())
    }
}
