//! The Kafka delivery queue against a broker at `NH_TEST_KAFKA_BROKERS` (librdkafka's mock
//! cluster, `target/debug/kafka-mock`, or a real Kafka): the shared queue contract, then what
//! only this adapter promises (skipped records, visibility timeout, commits across restarts,
//! failure when the broker is gone). Every test uses its own topic prefix and group prefix.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hub_adapter_out::kafka::{KafkaDeliveryQueue, KafkaSettings};
use hub_application::contract::fixtures::queue_message;
use hub_application::error::PortError;
use hub_application::ports::{DeliveryQueue, HealthProbe, QueueMessage, ReceivedMessage};
use hub_domain::Channel;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::time::Instant;

const BROKERS_VAR: &str = "NH_TEST_KAFKA_BROKERS";

fn brokers() -> String {
    std::env::var(BROKERS_VAR).unwrap_or_else(|_| {
        panic!("{BROKERS_VAR} is not set: run `make test` (scripts/test-services.sh starts the services)")
    })
}

/// Settings with a fresh topic and group prefix. One partition, so the contract's order per
/// channel holds (Kafka orders per partition only; ADR 0018). A short request timeout, as the
/// mock cluster lets CreateTopics time out before topics are auto-created.
fn fresh_settings() -> KafkaSettings {
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    KafkaSettings {
        topic_prefix: format!("test.{tag}."),
        group_prefix: format!("test.{tag}."),
        partitions: 1,
        request_timeout: Duration::from_secs(2),
        ..KafkaSettings::new(brokers())
    }
}

async fn connect(settings: KafkaSettings) -> KafkaDeliveryQueue {
    KafkaDeliveryQueue::connect(settings).await.expect("connect to the test Kafka")
}

mod contract {
    hub_application::queue_contract_tests!(async {
        std::sync::Arc::new(super::connect(super::fresh_settings()).await)
    });
}

/// How long a test waits for messages it expects.
const PATIENCE: Duration = Duration::from_secs(30);

/// Receives (`max` per call) until `n` messages came or the patience ran out.
async fn receive_n(queue: &KafkaDeliveryQueue, channel: Channel, n: usize) -> Vec<ReceivedMessage> {
    let give_up = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < give_up {
        got.extend(queue.receive(channel, n - got.len(), Duration::from_secs(2)).await.expect("receive"));
    }
    assert_eq!(got.len(), n, "expected {n} messages on {channel}, got {got:?}");
    got
}

async fn assert_quiet(queue: &KafkaDeliveryQueue, channel: Channel, wait: Duration, what: &str) {
    let more = queue.receive(channel, 10, wait).await.expect("receive");
    assert!(more.is_empty(), "{what}: got {more:?}");
}

async fn publish_ok(queue: &KafkaDeliveryQueue, messages: &[QueueMessage]) {
    for (message, result) in messages.iter().zip(queue.publish(messages).await) {
        result.unwrap_or_else(|e| panic!("publishing {} failed: {e}", message.event_id));
    }
}

fn bodies(received: &[ReceivedMessage]) -> Vec<QueueMessage> {
    received.iter().map(|r| r.message.clone()).collect()
}

#[tokio::test]
async fn an_unparsable_record_is_skipped_counted_and_does_not_block_later_messages() {
    let settings = fresh_settings();
    let queue = connect(settings.clone()).await;
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &settings.brokers)
        .create()
        .expect("raw producer");
    let topic = settings.topic(Channel::Email);
    for garbage in [&b"not json"[..], br#"{"eventId":"nope"}"#] {
        producer
            .send(FutureRecord::<str, [u8]>::to(&topic).partition(0).payload(garbage), Duration::from_secs(5))
            .await
            .expect("garbage written");
    }
    // A well-formed message of another channel on this topic is wrong too.
    let stray = serde_json::to_vec(&queue_message(9, Channel::Sms)).expect("json");
    producer
        .send(FutureRecord::<str, Vec<u8>>::to(&topic).partition(0).payload(&stray), Duration::from_secs(5))
        .await
        .expect("stray written");
    publish_ok(&queue, &[queue_message(1, Channel::Email)]).await;

    let got = receive_n(&queue, Channel::Email, 1).await;
    assert_eq!(bodies(&got), vec![queue_message(1, Channel::Email)]);
    assert_eq!(queue.skipped_records(), 3, "every bad record counted");
    queue.ack(Channel::Email, &[got[0].receipt]).await.expect("ack");
    queue.shutdown().await;

    // The bad records count as acknowledged: a successor in the group starts after them all.
    let successor = connect(settings).await;
    assert_quiet(&successor, Channel::Email, Duration::from_secs(8), "everything was committed").await;
    assert_eq!(successor.skipped_records(), 0, "nothing re-read");
}

#[tokio::test]
async fn a_message_not_acknowledged_in_time_is_handed_out_again() {
    let settings = KafkaSettings { visibility_timeout: Duration::from_secs(2), ..fresh_settings() };
    let queue = connect(settings).await;
    publish_ok(&queue, &[queue_message(1, Channel::Push)]).await;
    let first = receive_n(&queue, Channel::Push, 1).await;
    assert_quiet(&queue, Channel::Push, Duration::from_millis(500), "hidden while handed out").await;

    let again = queue.receive(Channel::Push, 1, Duration::from_secs(5)).await.expect("receive");
    assert_eq!(again, first, "the same message with the same receipt, after the timeout");
    queue.ack(Channel::Push, &[again[0].receipt]).await.expect("ack");
    assert_quiet(&queue, Channel::Push, Duration::from_secs(3), "acknowledged: gone for good").await;
}

#[tokio::test]
async fn a_successor_gets_what_was_not_acknowledged_and_commits_stop_at_the_first_gap() {
    let settings = fresh_settings();
    let batch: Vec<QueueMessage> = (1..=4).map(|n| queue_message(n, Channel::Sms)).collect();
    let queue = connect(settings.clone()).await;
    publish_ok(&queue, &batch).await;
    let got = receive_n(&queue, Channel::Sms, 4).await;
    assert_eq!(bodies(&got), batch);
    // Out of order, with a gap: 3 is acknowledged but 2 is not, so only 1 is committed.
    queue.ack(Channel::Sms, &[got[2].receipt, got[0].receipt]).await.expect("ack");
    drop(queue);

    let successor = connect(settings.clone()).await;
    let again = receive_n(&successor, Channel::Sms, 3).await;
    assert_eq!(bodies(&again), batch[1..].to_vec(), "1 committed; 2, 3 and 4 delivered again");
    // Acknowledged in reverse: the commit only moves once the head is in.
    let receipts: Vec<u64> = again.iter().rev().map(|r| r.receipt).collect();
    for receipt in receipts {
        successor.ack(Channel::Sms, &[receipt]).await.expect("ack");
    }
    successor.shutdown().await;

    let third = connect(settings).await;
    assert_quiet(&third, Channel::Sms, Duration::from_secs(8), "everything was acknowledged").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_receivers_get_disjoint_messages() {
    let queue = Arc::new(connect(fresh_settings()).await);
    let batch: Vec<QueueMessage> = (1..=12).map(|n| queue_message(n, Channel::Slack)).collect();
    publish_ok(&queue, &batch).await;
    let total = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, total) = (Arc::clone(&queue), Arc::clone(&total));
            tokio::spawn(async move {
                let mut got = Vec::new();
                let give_up = Instant::now() + PATIENCE;
                while total.load(Ordering::SeqCst) < 12 && Instant::now() < give_up {
                    let batch =
                        queue.receive(Channel::Slack, 1, Duration::from_millis(500)).await.expect("receive");
                    for received in batch {
                        queue.ack(Channel::Slack, &[received.receipt]).await.expect("ack");
                        total.fetch_add(1, Ordering::SeqCst);
                        got.push(received);
                    }
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("worker"));
    }
    let receipts: BTreeSet<u64> = all.iter().map(|r| r.receipt).collect();
    assert_eq!(receipts.len(), all.len(), "no message handed to two receivers");
    let mut received: Vec<_> = bodies(&all).into_iter().map(|m| m.event_id).collect();
    received.sort();
    let mut expected: Vec<_> = batch.iter().map(|m| m.event_id).collect();
    expected.sort();
    assert_eq!(received, expected, "every message exactly once");
}

/// A local port nobody listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    address.to_string()
}

#[tokio::test]
async fn publishing_without_a_reachable_broker_fails_every_message_within_the_timeout() {
    let settings = KafkaSettings {
        create_topics: false,
        publish_timeout: Duration::from_secs(2),
        ..KafkaSettings::new(closed_port())
    };
    let queue = KafkaDeliveryQueue::connect(settings).await.expect("no broker contacted at connect");
    let batch: Vec<QueueMessage> = (1..=3).map(|n| queue_message(n, Channel::Email)).collect();
    let started = Instant::now();
    let results = queue.publish(&batch).await;
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(Result::is_err), "{results:?}");
    let health = queue.check().await;
    assert!(matches!(health, Err(PortError::Unavailable(_))), "{health:?}");
}

#[tokio::test]
async fn connecting_to_an_unreachable_cluster_is_unavailable() {
    let settings =
        KafkaSettings { request_timeout: Duration::from_secs(1), ..KafkaSettings::new(closed_port()) };
    let started = Instant::now();
    let result = KafkaDeliveryQueue::connect(settings).await;
    assert!(matches!(result, Err(PortError::Unavailable(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn the_health_probe_answers_when_the_cluster_is_up() {
    let queue = connect(fresh_settings()).await;
    assert_eq!(queue.name(), "kafka");
    queue.check().await.expect("healthy");
}

#[tokio::test]
async fn a_full_buffer_pauses_fetching_until_acknowledgements_free_room() {
    let queue = connect(KafkaSettings { max_buffered: 2, ..fresh_settings() }).await;
    let batch: Vec<QueueMessage> = (1..=6).map(|n| queue_message(n, Channel::InApp)).collect();
    publish_ok(&queue, &batch).await;
    let mut got = receive_n(&queue, Channel::InApp, 2).await;
    assert_quiet(&queue, Channel::InApp, Duration::from_secs(2), "paused with two held").await;
    let give_up = Instant::now() + PATIENCE;
    while got.len() < batch.len() && Instant::now() < give_up {
        let receipts: Vec<u64> = got.iter().map(|r| r.receipt).collect();
        queue.ack(Channel::InApp, &receipts).await.expect("ack");
        got.extend(queue.receive(Channel::InApp, 10, Duration::from_secs(2)).await.expect("receive"));
    }
    assert_eq!(bodies(&got), batch, "all of them, in order, none twice");
}
