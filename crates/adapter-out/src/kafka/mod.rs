//! Kafka delivery queues: one topic per channel, one consumer group per channel (SPEC §2, §4;
//! ADR 0018).
//!
//! - `settings`: [`KafkaSettings`] and the librdkafka configurations built from them.
//! - `topics`: topic creation at connect (CreateTopics, else metadata auto-creation).
//! - `producer`: the idempotent, batching producer behind `publish`.
//! - `lane` / `consumer`: one channel's buffer, visibility timeouts and contiguous commits,
//!   and the consumer task that feeds it.
//! - `queue`: [`KafkaDeliveryQueue`], the [`DeliveryQueue`](hub_application::ports::DeliveryQueue)
//!   and [`HealthProbe`](hub_application::ports::HealthProbe) implementation.
//!
//! librdkafka is compiled from the source bundled with `rdkafka-sys` and linked statically.

mod consumer;
mod lane;
mod producer;
mod queue;
mod settings;
mod topics;

pub use producer::{HEADER_ATTEMPT, HEADER_DELIVERY_ID, HEADER_EVENT_ID};
pub use queue::KafkaDeliveryQueue;
pub use settings::KafkaSettings;
