//! [`DeliveryQueue`]: per-channel publication, receipt in order,
//! acknowledgement.
//!
//! Redelivery of unacknowledged messages depends on the adapter (a restart or rebalance for
//! Kafka, a visibility timeout in process) and is not checked here. A broker may hand out
//! messages in several smaller batches, so messages are collected over a few receives.

use std::time::Duration;

use hub_domain::Channel;

use super::fixtures::*;
use crate::ports::{DeliveryQueue, QueueMessage, ReceivedMessage};

/// How long a receive may wait for messages that were published.
const WAIT: Duration = Duration::from_secs(5);
/// How long to wait before concluding that nothing (more) comes.
const QUIET: Duration = Duration::from_millis(200);
/// Receives tried before giving up on expected messages.
const ROUNDS: usize = 20;

async fn publish(queue: &dyn DeliveryQueue, messages: &[QueueMessage]) {
    let results = queue.publish(messages).await;
    assert_eq!(results.len(), messages.len(), "one result per published message");
    for (m, r) in messages.iter().zip(results) {
        r.unwrap_or_else(|e| panic!("publishing {} failed: {e}", m.event_id));
    }
}

/// Receives until `n` messages of `channel` came, `max` per receive; asserts none is over.
async fn receive(queue: &dyn DeliveryQueue, channel: Channel, n: usize, max: usize) -> Vec<ReceivedMessage> {
    let mut got = Vec::new();
    for _ in 0..ROUNDS {
        if got.len() >= n {
            break;
        }
        let batch = queue.receive(channel, max, WAIT).await.expect("receive");
        assert!(batch.len() <= max, "receive returned {} messages for max {max}", batch.len());
        got.extend(batch);
    }
    assert_eq!(got.len(), n, "expected {n} messages on {channel}, got {got:?}");
    got
}

async fn assert_nothing_more(queue: &dyn DeliveryQueue, channel: Channel, what: &str) {
    let more = queue.receive(channel, 10, QUIET).await.expect("receive");
    assert!(more.is_empty(), "{what}: got {more:?}");
}

fn messages(received: &[ReceivedMessage]) -> Vec<QueueMessage> {
    received.iter().map(|r| r.message.clone()).collect()
}

/// Every published message is received on its channel, unchanged and in publication order.
pub async fn published_messages_are_received_in_order_per_channel(queue: &dyn DeliveryQueue) {
    let batch: Vec<QueueMessage> =
        [(1, Channel::Email), (2, Channel::Sms), (3, Channel::Email), (4, Channel::Email), (5, Channel::Sms)]
            .into_iter()
            .map(|(n, c)| queue_message(n, c))
            .collect();
    publish(queue, &batch).await;
    let email = receive(queue, Channel::Email, 3, 10).await;
    assert_eq!(
        messages(&email),
        vec![batch[0].clone(), batch[2].clone(), batch[3].clone()],
        "EMAIL in order"
    );
    let sms = receive(queue, Channel::Sms, 2, 10).await;
    assert_eq!(messages(&sms), vec![batch[1].clone(), batch[4].clone()], "SMS in order");
    assert!(queue.publish(&[]).await.is_empty(), "an empty batch has no results");
}

/// A receive returns at most `max` messages; the rest follow, in order.
pub async fn receive_honours_max(queue: &dyn DeliveryQueue) {
    let batch: Vec<QueueMessage> = (1..=5).map(|n| queue_message(n, Channel::Push)).collect();
    publish(queue, &batch).await;
    let first = receive(queue, Channel::Push, 2, 2).await;
    let rest = receive(queue, Channel::Push, 3, 2).await;
    let all: Vec<QueueMessage> = messages(&first).into_iter().chain(messages(&rest)).collect();
    assert_eq!(all, batch, "five messages, at most two per receive, in order");
}

/// Acknowledged messages are not received again; later messages still are.
pub async fn acknowledged_messages_are_not_delivered_again(queue: &dyn DeliveryQueue) {
    publish(queue, &[queue_message(1, Channel::Email), queue_message(2, Channel::Email)]).await;
    let received = receive(queue, Channel::Email, 2, 10).await;
    let receipts: Vec<u64> = received.iter().map(|r| r.receipt).collect();
    queue.ack(Channel::Email, &receipts).await.expect("ack");
    assert_nothing_more(queue, Channel::Email, "acknowledged messages must not come back").await;

    publish(queue, &[queue_message(3, Channel::Email)]).await;
    let later = receive(queue, Channel::Email, 1, 10).await;
    assert_eq!(messages(&later), vec![queue_message(3, Channel::Email)], "only the new message");
    queue.ack(Channel::Email, &[later[0].receipt]).await.expect("ack");
}

/// A channel's queue holds only its own messages.
pub async fn channels_are_independent(queue: &dyn DeliveryQueue) {
    publish(queue, &[queue_message(1, Channel::KakaoAlimtalk)]).await;
    assert_nothing_more(queue, Channel::Sms, "nothing was published on SMS").await;
    let kakao = receive(queue, Channel::KakaoAlimtalk, 1, 10).await;
    assert_eq!(messages(&kakao), vec![queue_message(1, Channel::KakaoAlimtalk)]);
}

/// The depth counts a channel's messages from publication until acknowledgement; before this
/// process consumes the channel an adapter may not know it (`None`, Kafka).
pub async fn depth_counts_messages_until_they_are_acknowledged(queue: &dyn DeliveryQueue) {
    let depth = || async { queue.depth(Channel::Slack).await.expect("depth") };
    let empty = depth().await;
    assert!(matches!(empty, None | Some(0)), "nothing published: {empty:?}");
    let batch: Vec<QueueMessage> = (1..=3).map(|n| queue_message(n, Channel::Slack)).collect();
    publish(queue, &batch).await;
    let published = depth().await;
    assert!(matches!(published, None | Some(3)), "three published, none received: {published:?}");

    let received = receive(queue, Channel::Slack, 3, 10).await;
    assert_eq!(depth().await, Some(3), "received but not acknowledged");
    queue.ack(Channel::Slack, &[received[0].receipt]).await.expect("ack");
    assert_eq!(depth().await, Some(2), "one acknowledged");
    let rest: Vec<u64> = received[1..].iter().map(|r| r.receipt).collect();
    queue.ack(Channel::Slack, &rest).await.expect("ack");
    assert_eq!(depth().await, Some(0), "every message acknowledged");
    let other = queue.depth(Channel::Push).await.expect("depth");
    assert!(matches!(other, None | Some(0)), "another channel: {other:?}");
}
