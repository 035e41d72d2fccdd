use std::time::Duration;

use async_trait::async_trait;
use hub_domain::{Channel, DeliveryId, EventId, NotificationId, Priority};

/// A queue failure (broker down, timeout). The relay retries with backoff; the outbox keeps
/// the rows meanwhile.
#[derive(Debug, thiserror::Error)]
#[error("delivery queue unavailable: {0}")]
pub struct QueueError(#[source] pub anyhow::Error);

/// What travels on a channel's queue: a pointer to a delivery, never its content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueMessage {
    /// The outbox event id (dedupe/tracing).
    pub event_id: EventId,
    /// The delivery to dispatch.
    pub delivery_id: DeliveryId,
    /// The notification (partition key).
    pub notification_id: NotificationId,
    /// The channel (topic).
    pub channel: Channel,
    /// The lane.
    pub priority: Priority,
    /// The try number this dispatch would be.
    pub attempt: u32,
}

/// A message taken from a queue, to be acknowledged after its effect is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message.
    pub message: QueueMessage,
    /// Adapter-specific acknowledgement handle (offset, sequence number).
    pub receipt: u64,
}

/// Per-channel delivery queues with at-least-once semantics.
#[async_trait]
pub trait DeliveryQueue: Send + Sync + std::fmt::Debug {
    /// Publishes a batch; returns one result per message, in order, so that one failed message
    /// does not hold the others back. A message reported `Ok` is durable in the queue.
    async fn publish(&self, messages: &[QueueMessage]) -> Vec<Result<(), QueueError>>;

    /// Up to `max` messages of `channel`, waiting at most `wait` for the first one. Messages
    /// received but not acknowledged are delivered again (after a restart or rebalance for
    /// Kafka, after a visibility timeout in process).
    async fn receive(
        &self,
        channel: Channel,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Acknowledges messages whose effect is stored (Kafka: commits offsets).
    async fn ack(&self, channel: Channel, receipts: &[u64]) -> Result<(), QueueError>;

    /// Messages of `channel` published and not yet acknowledged, as far as this process can
    /// tell (for the queue-depth gauge): every one for a queue held in process; for Kafka the
    /// lag behind the commit point of the partitions this process consumes (summed over the
    /// replicas, the consumer group's lag). `Ok(None)` when this process cannot tell (Kafka
    /// before it consumed the channel). `Err` when the broker does not answer.
    async fn depth(&self, channel: Channel) -> Result<Option<u64>, QueueError>;
}
