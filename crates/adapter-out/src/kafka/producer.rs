//! Publishing: one record per queue message, the whole batch in flight at once.

use std::sync::{PoisonError, RwLock};

use anyhow::anyhow;
use futures::future::join_all;
use hub_application::error::PortError;
use hub_application::ports::{QueueError, QueueMessage};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use super::settings::KafkaSettings;
use super::topics::TopicInfo;

/// Record header carrying the delivery id.
pub const HEADER_DELIVERY_ID: &str = "delivery-id";
/// Record header carrying the outbox event id.
pub const HEADER_EVENT_ID: &str = "event-id";
/// Record header carrying the attempt number.
pub const HEADER_ATTEMPT: &str = "attempt";

/// The idempotent producer, replaced when librdkafka reports it fatally broken.
pub(crate) struct Publisher {
    settings: KafkaSettings,
    producer: RwLock<FutureProducer>,
}

impl Publisher {
    pub(crate) fn new(settings: &KafkaSettings) -> Result<Self, PortError> {
        Ok(Self { settings: settings.clone(), producer: RwLock::new(create(settings)?) })
    }

    /// The current producer (a cheap handle).
    pub(crate) fn producer(&self) -> FutureProducer {
        self.producer.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Sends every message at once and waits for all acknowledgements: one result per
    /// message, in order. A message the brokers do not acknowledge within the publish timeout
    /// fails with the others unaffected.
    pub(crate) async fn publish(
        &self,
        topics: &[TopicInfo],
        messages: &[QueueMessage],
    ) -> Vec<Result<(), QueueError>> {
        let producer = self.producer();
        let pending: Vec<_> = messages
            .iter()
            .map(|message| {
                let topic = &topics[message.channel.index()];
                let key = message.notification_id.to_string();
                let payload = serde_json::to_vec(message)
                    .map_err(|e| QueueError(anyhow!("encoding queue message {}: {e}", message.event_id)))?;
                let (delivery, event, attempt) = (
                    message.delivery_id.to_string(),
                    message.event_id.to_string(),
                    message.attempt.to_string(),
                );
                let headers = OwnedHeaders::new_with_capacity(3)
                    .insert(Header { key: HEADER_DELIVERY_ID, value: Some(&delivery) })
                    .insert(Header { key: HEADER_EVENT_ID, value: Some(&event) })
                    .insert(Header { key: HEADER_ATTEMPT, value: Some(&attempt) });
                let record = FutureRecord::to(&topic.name)
                    .partition(partition_for(&key, topic.partitions))
                    .key(&key)
                    .payload(&payload)
                    .headers(headers);
                producer
                    .send_result(record)
                    .map_err(|(e, _)| QueueError(anyhow!("queueing a record for {}: {e}", topic.name)))
            })
            .collect();
        let results = join_all(pending.into_iter().map(|sent| async move {
            match sent?.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(QueueError(anyhow!("Kafka did not take the record: {e}"))),
                Err(_) => Err(QueueError(anyhow!("the Kafka producer went away"))),
            }
        }))
        .await;
        if results.iter().any(Result::is_err) {
            self.replace_if_fatal(&producer);
        }
        results
    }

    /// An idempotent producer can fail fatally (e.g. fenced); it then refuses everything, so
    /// a fresh one takes its place for the next batch.
    fn replace_if_fatal(&self, failed: &FutureProducer) {
        let Some((code, reason)) = failed.client().fatal_error() else { return };
        tracing::error!(error = %code, reason, "Kafka producer failed fatally; creating a new one");
        match create(&self.settings) {
            Ok(fresh) => *self.producer.write().unwrap_or_else(PoisonError::into_inner) = fresh,
            Err(e) => tracing::error!(error = %e, "creating a new Kafka producer failed"),
        }
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("brokers", &self.settings.brokers).finish_non_exhaustive()
    }
}

fn create(settings: &KafkaSettings) -> Result<FutureProducer, PortError> {
    settings
        .producer_config()
        .create()
        .map_err(|e| PortError::Unexpected(anyhow!("creating the Kafka producer: {e}")))
}

/// The partition of a key: FNV-1a (32 bit) of its bytes modulo the partition count, so one
/// notification's messages always land on one partition, whatever librdkafka's partitioner.
pub(crate) fn partition_for(key: &str, partitions: i32) -> i32 {
    let hash = key.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let n = u32::try_from(partitions.max(1)).unwrap_or(1);
    // Below `partitions`, so it fits.
    (hash % n) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_maps_to_the_same_partition_within_range() {
        for partitions in [1, 2, 6, 64] {
            for key in ["ntf_01J", "ntf_01K", ""] {
                let p = partition_for(key, partitions);
                assert!((0..partitions).contains(&p));
                assert_eq!(p, partition_for(key, partitions));
            }
        }
        assert_eq!(partition_for("anything", 1), 0);
        // FNV-1a("a") = 0xe40c292c.
        assert_eq!(partition_for("a", 1000), (0xe40c_292c_u32 % 1000) as i32);
    }

    #[test]
    fn keys_spread_over_partitions() {
        let used: std::collections::BTreeSet<i32> =
            (0..200).map(|n| partition_for(&format!("ntf_{n}"), 6)).collect();
        assert_eq!(used.len(), 6);
    }
}
