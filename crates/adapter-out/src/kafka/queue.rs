//! [`KafkaDeliveryQueue`]: the [`DeliveryQueue`] and its [`HealthProbe`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hub_application::error::PortError;
use hub_application::ports::{DeliveryQueue, HealthProbe, QueueError, QueueMessage, ReceivedMessage};
use hub_domain::Channel;
use rdkafka::producer::Producer;
use tokio::time::Instant;

use super::consumer::Lane;
use super::producer::Publisher;
use super::settings::KafkaSettings;
use super::topics::{TopicInfo, ensure_topics};

/// How long the health probe waits for a metadata answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the depth gauge waits for each partition's watermarks.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(1);

/// Per-channel delivery queues on Kafka topics, with at-least-once delivery (SPEC §2, §4;
/// ADR 0018).
///
/// - **Publish**: an idempotent producer (`acks=all`) sends the whole batch at once, keyed by
///   notification id, the [`QueueMessage`] as JSON with delivery id, event id and attempt in
///   headers. `Ok` means the brokers have the record.
/// - **Receive**: per channel, one consumer in group `{group_prefix}{channel}` (created on
///   first use) fills a bounded buffer; concurrent receivers take disjoint messages from it.
///   A message handed out and not acknowledged within the visibility timeout is handed out
///   again, as by the in-process queue; so is everything not acknowledged when the process
///   stops or a partition moves to another consumer (from the committed offset).
/// - **Ack**: commits, per partition, only the contiguous acknowledged prefix. Receipts encode
///   `(partition, offset)`; see ADR 0018. Acknowledging an unknown or stale receipt is a no-op.
/// - **Depth** (the queue-depth gauge, ADR 0023): per partition this process consumes, the
///   high watermark (asked of the brokers) minus the commit point — the group's lag, split
///   between the replicas that consume the channel.
///
/// Unparsable records are logged, counted ([`skipped_records`](Self::skipped_records)) and
/// treated as acknowledged. Dropping the queue stops the consumers, which commit and leave
/// their groups in the background; [`shutdown`](Self::shutdown) waits for that.
pub struct KafkaDeliveryQueue {
    settings: KafkaSettings,
    topics: Vec<TopicInfo>,
    publisher: Publisher,
    lanes: [Mutex<Option<Arc<Lane>>>; Channel::CANONICAL.len()],
    skipped: Arc<AtomicU64>,
}

impl std::fmt::Debug for KafkaDeliveryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaDeliveryQueue")
            .field("brokers", &self.settings.brokers)
            .field("topics", &self.topics)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl KafkaDeliveryQueue {
    /// Connects: creates the producer and every channel's topic (existing topics are kept),
    /// unless [`KafkaSettings::create_topics`] is off. `Unavailable` when the cluster cannot be
    /// reached within the request timeout, `Unexpected` for invalid settings or a topic that
    /// neither exists nor can be created. Consumers start on a channel's first receive.
    pub async fn connect(settings: KafkaSettings) -> Result<Self, PortError> {
        settings.validate()?;
        let publisher = Publisher::new(&settings)?;
        let topics = if settings.create_topics {
            ensure_topics(&settings, &publisher.producer()).await?
        } else {
            Channel::CANONICAL
                .iter()
                .map(|c| TopicInfo { name: settings.topic(*c), partitions: settings.partitions })
                .collect()
        };
        Ok(Self { settings, topics, publisher, lanes: Default::default(), skipped: Arc::default() })
    }

    /// The settings this queue was connected with.
    pub fn settings(&self) -> &KafkaSettings {
        &self.settings
    }

    /// Records skipped because they could not be parsed as a [`QueueMessage`] of their
    /// channel (each also logged as a warning), since connect.
    pub fn skipped_records(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Stops every consumer and waits until each has committed what was acknowledged and left
    /// its group (so a successor is assigned the partitions at once).
    pub async fn shutdown(&self) {
        let lanes: Vec<Arc<Lane>> = self
            .lanes
            .iter()
            .filter_map(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).take())
            .collect();
        for lane in lanes {
            match Arc::try_unwrap(lane) {
                Ok(lane) => lane.shutdown().await,
                // A receive in progress still holds it; it stops when that ends.
                Err(lane) => drop(lane),
            }
        }
    }

    /// The channel's lane, started on first use.
    fn lane(&self, channel: Channel) -> Result<Arc<Lane>, QueueError> {
        let mut slot = self.lanes[channel.index()].lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lane) = slot.as_ref() {
            return Ok(Arc::clone(lane));
        }
        let lane = Arc::new(Lane::start(&self.settings, channel, Arc::clone(&self.skipped))?);
        *slot = Some(Arc::clone(&lane));
        Ok(lane)
    }

    fn existing_lane(&self, channel: Channel) -> Option<Arc<Lane>> {
        self.lanes[channel.index()].lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// `now + d`, or about thirty years ahead when that overflows.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

#[async_trait]
impl DeliveryQueue for KafkaDeliveryQueue {
    async fn publish(&self, messages: &[QueueMessage]) -> Vec<Result<(), QueueError>> {
        if messages.is_empty() {
            return Vec::new();
        }
        self.publisher.publish(&self.topics, messages).await
    }

    async fn receive(
        &self,
        channel: Channel,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let lane = self.lane(channel)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let shared = &lane.shared;
        let give_up = later(Instant::now(), wait);
        loop {
            // Registered before looking, so records arriving between the look and the wait
            // are not missed (`notify_waiters` only wakes futures already enabled).
            let arrived = shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();

            let now = Instant::now();
            let next_redelivery = {
                let mut state = shared.lock();
                state.reclaim(now);
                let batch = state.take(max, later(now, self.settings.visibility_timeout));
                if !batch.is_empty() {
                    return Ok(batch);
                }
                state.next_deadline()
            };
            if now >= give_up {
                return Ok(Vec::new());
            }
            let wake_at = next_redelivery.map_or(give_up, |due| due.min(give_up));
            let _ = tokio::time::timeout_at(wake_at, arrived).await;
        }
    }

    async fn ack(&self, channel: Channel, receipts: &[u64]) -> Result<(), QueueError> {
        // No consumer yet: nothing was received, so there is nothing to acknowledge.
        let Some(lane) = self.existing_lane(channel) else { return Ok(()) };
        let moved = lane.shared.lock().ack(receipts);
        lane.shared.freed();
        lane.commit(&moved)
    }

    /// The lag behind this process's commit points on the partitions it consumes; `None` when
    /// it does not consume the channel (yet). Other replicas report their own partitions.
    async fn depth(&self, channel: Channel) -> Result<Option<u64>, QueueError> {
        let Some(lane) = self.existing_lane(channel) else { return Ok(None) };
        lane.depth(WATERMARK_TIMEOUT).await.map(Some)
    }
}

#[async_trait]
impl HealthProbe for KafkaDeliveryQueue {
    fn name(&self) -> &'static str {
        "kafka"
    }

    /// Fetches the metadata of one of the queue's topics within about a second.
    async fn check(&self) -> Result<(), PortError> {
        let producer = self.publisher.producer();
        let topic = self.topics.first().map(|t| t.name.clone());
        let answer = tokio::task::spawn_blocking(move || {
            producer.client().fetch_metadata(topic.as_deref(), HEALTH_TIMEOUT).map(|_| ())
        })
        .await
        .map_err(|e| PortError::Unexpected(anyhow::anyhow!("joining the Kafka health check: {e}")))?;
        answer.map_err(|e| PortError::Unavailable(anyhow::anyhow!("Kafka metadata: {e}")))
    }
}
