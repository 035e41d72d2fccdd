use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::{Channel, DeliveryId, EventId, NotificationId, Priority};

use crate::error::PortError;

/// One row of the transactional outbox: a delivery to publish to its channel's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// The event id (also the queue message's event id header).
    pub id: EventId,
    /// The delivery to dispatch.
    pub delivery_id: DeliveryId,
    /// Its notification (the queue key).
    pub notification_id: NotificationId,
    /// Which queue.
    pub channel: Channel,
    /// Which lane.
    pub priority: Priority,
    /// The delivery's try number this publication leads to (1 for the first dispatch).
    pub attempt: u32,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
    /// Failed publication attempts so far.
    pub publish_attempts: u32,
    /// Not published before this instant (backoff after a failed publication).
    pub next_attempt_at: DateTime<Utc>,
}

/// The relay's side of the outbox.
#[async_trait]
pub trait Outbox: Send + Sync + std::fmt::Debug {
    /// Claims up to `limit` unpublished rows with `next_attempt_at <= now`, oldest first, and
    /// hides them from other claimers until `lease_until` (Postgres: `FOR UPDATE SKIP LOCKED`).
    /// A claimed row that is neither marked published nor failed becomes claimable again
    /// after the lease. Errors: `Unavailable`, `Unexpected`.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, PortError>;

    /// Marks rows published at `now` (kept until [`Outbox::purge_published`]). Unknown ids are ignored.
    async fn mark_published(&self, ids: &[EventId], now: DateTime<Utc>) -> Result<(), PortError>;

    /// Records a failed publication: `publish_attempts += 1`, not retried before `retry_at`.
    async fn mark_failed(&self, ids: &[EventId], retry_at: DateTime<Utc>) -> Result<(), PortError>;

    /// Deletes up to `limit` rows published before `older_than`; returns how many.
    async fn purge_published(&self, older_than: DateTime<Utc>, limit: usize) -> Result<u64, PortError>;

    /// Number of rows not yet published and the creation time of the oldest (outbox lag).
    async fn backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), PortError>;
}
