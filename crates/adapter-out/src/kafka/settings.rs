//! Settings of the Kafka delivery queue and the librdkafka client configurations built from them.

use std::time::Duration;

use hub_application::error::PortError;
use hub_domain::Channel;
use rdkafka::ClientConfig;

/// How the Kafka delivery queue reaches and uses the cluster (SPEC §2, §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// Bootstrap servers, comma separated (`kafka-0:9092,kafka-1:9092`).
    pub brokers: String,
    /// Prepended to every topic name: `{topic_prefix}notification.delivery.{channel}`.
    pub topic_prefix: String,
    /// Partitions per channel topic: topics are created with this many, and messages are spread
    /// over the first `partitions` partitions by a hash of the notification id (ADR 0018).
    pub partitions: i32,
    /// Replication factor of the topics this queue creates.
    pub replication_factor: i32,
    /// Whether connect creates the topics and reads their partition counts. When `false`
    /// (topics managed by infrastructure, no admin rights), connect contacts no broker and
    /// the topics must exist with at least `partitions` partitions.
    pub create_topics: bool,
    /// Consumer groups are `{group_prefix}{channel}` (lower-case channel name).
    pub group_prefix: String,
    /// How long a received message stays hidden before it is handed out again unless
    /// acknowledged (the same contract as the in-process queue).
    pub visibility_timeout: Duration,
    /// Producer `linger.ms`: how long a batch may wait to fill up.
    pub linger: Duration,
    /// Producer `message.timeout.ms`: a message not acknowledged by the brokers within this
    /// time is reported failed (the relay keeps its outbox row and retries).
    pub publish_timeout: Duration,
    /// Bound of one admin or metadata round trip (topic creation at connect).
    pub request_timeout: Duration,
    /// Consumer `session.timeout.ms`: how soon a dead consumer's partitions move to another.
    pub session_timeout: Duration,
    /// Messages per channel held in memory (ready plus handed out and not acknowledged);
    /// above it the consumer pauses fetching until acknowledgements free room.
    pub max_buffered: usize,
    /// The `client.id` reported to the brokers.
    pub client_id: String,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: "localhost:9092".to_owned(),
            topic_prefix: String::new(),
            partitions: 6,
            replication_factor: 1,
            create_topics: true,
            group_prefix: "notification-hub.".to_owned(),
            visibility_timeout: Duration::from_secs(60),
            linger: Duration::from_millis(5),
            publish_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(10),
            max_buffered: 10_000,
            client_id: "notification-hub".to_owned(),
        }
    }
}

impl KafkaSettings {
    /// The defaults with the given bootstrap servers.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self { brokers: brokers.into(), ..Self::default() }
    }

    /// The topic of `channel`'s deliveries.
    pub fn topic(&self, channel: Channel) -> String {
        channel.topic(&self.topic_prefix)
    }

    /// The consumer group of `channel`'s dispatchers.
    pub fn group(&self, channel: Channel) -> String {
        format!("{}{}", self.group_prefix, channel.topic_suffix())
    }

    /// Rejects settings librdkafka would refuse or misread, as `Unexpected` (a config bug).
    pub(crate) fn validate(&self) -> Result<(), PortError> {
        let bad = |what: &str| Err(PortError::Unexpected(anyhow::anyhow!("invalid Kafka settings: {what}")));
        if self.brokers.trim().is_empty() {
            return bad("brokers is empty");
        }
        if self.partitions < 1 {
            return bad("partitions must be at least 1");
        }
        if self.replication_factor < 1 {
            return bad("replication_factor must be at least 1");
        }
        if self.publish_timeout < Duration::from_millis(100) || self.publish_timeout <= self.linger {
            return bad("publish_timeout must be at least 100 ms and longer than linger");
        }
        if self.max_buffered == 0 {
            return bad("max_buffered must be at least 1");
        }
        Ok(())
    }

    fn common(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers).set("client.id", &self.client_id).set(
            "socket.connection.setup.timeout.ms",
            millis(self.request_timeout.max(Duration::from_secs(1))),
        );
        config
    }

    /// The idempotent producer: every message acknowledged by all in-sync replicas, batched
    /// for throughput, failed after a bounded time.
    pub(crate) fn producer_config(&self) -> ClientConfig {
        let mut config = self.common();
        let timeout = millis(self.publish_timeout);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", millis(self.linger))
            .set("batch.num.messages", "1000")
            // librdkafka carries its own LZ4, so this needs no system library.
            .set("compression.type", "lz4")
            .set("message.timeout.ms", &timeout)
            .set("request.timeout.ms", &timeout)
            // Metadata requests for our own topics may create them on a broker that allows it
            // (the fallback when CreateTopics is not supported, e.g. the mock cluster).
            .set("allow.auto.create.topics", "true");
        config
    }

    /// The admin client used to read metadata and create the topics (its metadata requests
    /// never create topics).
    pub(crate) fn admin_config(&self) -> ClientConfig {
        let mut config = self.common();
        config.set("allow.auto.create.topics", "false");
        config
    }

    /// One channel's consumer: manual commits of the contiguous acknowledged prefix, reading
    /// from the beginning when the group has no committed offset yet.
    pub(crate) fn consumer_config(&self, channel: Channel) -> ClientConfig {
        let mut config = self.common();
        config
            .set("group.id", self.group(channel))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", millis(self.session_timeout))
            .set("heartbeat.interval.ms", millis(self.session_timeout / 4))
            .set("fetch.wait.max.ms", "100")
            // Keep librdkafka's own prefetch small: the adapter buffers `max_buffered` itself.
            .set("queued.max.messages.kbytes", "4096");
        config
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_groups_carry_their_prefixes_and_the_lower_case_channel() {
        let settings = KafkaSettings {
            topic_prefix: "t1.".to_owned(),
            group_prefix: "g1-".to_owned(),
            ..KafkaSettings::new("b:9092")
        };
        assert_eq!(settings.topic(Channel::KakaoAlimtalk), "t1.notification.delivery.kakao_alimtalk");
        assert_eq!(settings.group(Channel::InApp), "g1-in_app");
    }

    #[test]
    fn the_defaults_are_valid_and_nonsense_is_not() {
        assert!(KafkaSettings::default().validate().is_ok());
        for broken in [
            KafkaSettings { brokers: " ".to_owned(), ..KafkaSettings::default() },
            KafkaSettings { partitions: 0, ..KafkaSettings::default() },
            KafkaSettings { replication_factor: 0, ..KafkaSettings::default() },
            KafkaSettings { publish_timeout: Duration::from_millis(1), ..KafkaSettings::default() },
            KafkaSettings { max_buffered: 0, ..KafkaSettings::default() },
        ] {
            assert!(broken.validate().is_err(), "{broken:?}");
        }
    }
}
