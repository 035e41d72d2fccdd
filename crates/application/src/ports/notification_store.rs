use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::resolver::Reason;
use hub_domain::{Channel, Kind, NotificationId, Priority, RecipientId};

use super::delivery_store::DeliveryRecord;
use super::outbox::OutboxEvent;
use crate::error::PortError;

/// A channel that was skipped at accept time, with why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkippedChannel {
    /// The channel.
    pub channel: Channel,
    /// The resolver's reason.
    pub reason: Reason,
}

/// A stored notification (its status is derived from its deliveries, never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    /// Its id.
    pub id: NotificationId,
    /// Who it is for.
    pub recipient_id: RecipientId,
    /// What it is about.
    pub kind: Kind,
    /// Dispatch priority of its deliveries.
    pub priority: Priority,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// The caller's metadata object, echoed back.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The caller's `expiresAt`.
    pub expires_at: Option<DateTime<Utc>>,
    /// Channels the resolver skipped.
    pub skipped: Vec<SkippedChannel>,
}

/// The idempotency key a notification was accepted under; the store keeps it unique per
/// scope (constraint `notifications_scope_idempotency_key_key`), the authority behind any cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptKey {
    /// Caller scope.
    pub scope: String,
    /// The key.
    pub key: IdempotencyKey,
    /// The request's fingerprint.
    pub fingerprint: Fingerprint,
}

/// What the atomic accept did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Everything was written.
    Accepted,
    /// A notification already holds this scope and key; nothing was written.
    DuplicateKey {
        /// The notification accepted earlier under the key.
        existing: NotificationId,
        /// The fingerprint it was accepted with.
        fingerprint: Fingerprint,
    },
}

/// Everything the atomic accept writes.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// The idempotency key, when the notification came with one.
    pub key: Option<AcceptKey>,
    /// The notification.
    pub notification: NotificationRecord,
    /// Its deliveries (may be empty for a suppressed notification).
    pub deliveries: Vec<DeliveryRecord>,
    /// One outbox event per delivery that is due now.
    pub outbox: Vec<OutboxEvent>,
}

/// A notification with all of its deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationWithDeliveries {
    /// The notification.
    pub notification: NotificationRecord,
    /// Its deliveries, in creation order.
    pub deliveries: Vec<DeliveryRecord>,
}

/// The position after which a notification listing continues: newest first over
/// `(created_at, id)`, so equal timestamps are never skipped or repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationCursor {
    /// `created_at` of the last item returned.
    pub created_at: DateTime<Utc>,
    /// Id of the last item returned.
    pub id: NotificationId,
}

/// Filters of `GET /api/v1/notifications` the store applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFilter {
    /// Only this recipient's.
    pub recipient_id: Option<RecipientId>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
}

/// Notifications, deliveries and outbox rows.
#[async_trait]
pub trait NotificationStore: Send + Sync + std::fmt::Debug {
    /// Writes the notification, its deliveries and outbox rows in ONE transaction: either all
    /// are stored or none. Nothing may be published before this returns `Ok`.
    /// Errors: `Unavailable` when the store cannot be reached (nothing was written or the
    /// transaction rolled back), `Unexpected` otherwise (e.g. a duplicate id).
    /// When `new.key` is already used in its scope, nothing is written and the earlier
    /// notification is returned as `DuplicateKey`.
    async fn accept(&self, new: NewNotification) -> Result<AcceptOutcome, PortError>;

    /// The notification and its deliveries; `Ok(None)` when the id is unknown.
    async fn get(&self, id: NotificationId) -> Result<Option<NotificationWithDeliveries>, PortError>;

    /// Up to `limit` notifications matching `filter`, newest first, strictly after `after`
    /// in `(created_at DESC, id DESC)` order, each with its deliveries.
    async fn list(
        &self,
        filter: &NotificationFilter,
        after: Option<NotificationCursor>,
        limit: usize,
    ) -> Result<Vec<NotificationWithDeliveries>, PortError>;
}
