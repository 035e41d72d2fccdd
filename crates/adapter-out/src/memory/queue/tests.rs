use std::collections::BTreeSet;
use std::sync::Arc;

use hub_domain::{DeliveryId, EventId, NotificationId, Priority};
use ulid::Ulid;

use super::*;

fn message(channel: Channel, n: u64) -> QueueMessage {
    let id = |tag: u128| Ulid::from_parts(n, tag);
    QueueMessage {
        event_id: EventId::from_ulid(id(1)),
        delivery_id: DeliveryId::from_ulid(id(2)),
        notification_id: NotificationId::from_ulid(id(3)),
        channel,
        priority: Priority::Normal,
        attempt: 1,
    }
}

fn sms(n: u64) -> QueueMessage {
    message(Channel::Sms, n)
}

fn messages(received: &[ReceivedMessage]) -> Vec<QueueMessage> {
    received.iter().map(|r| r.message.clone()).collect()
}

const TIMEOUT: Duration = Duration::from_secs(60);

async fn publish_ok(queue: &MemoryDeliveryQueue, batch: &[QueueMessage]) {
    for result in queue.publish(batch).await {
        result.expect("published");
    }
}

#[tokio::test(start_paused = true)]
async fn messages_come_out_of_a_channel_in_the_order_they_went_in() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1), sms(2), sms(3)]).await;
    let first = queue.receive(Channel::Sms, 2, Duration::ZERO).await.unwrap();
    assert_eq!(messages(&first), vec![sms(1), sms(2)]);
    let rest = queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    assert_eq!(messages(&rest), vec![sms(3)]);
}

#[tokio::test(start_paused = true)]
async fn publish_answers_once_per_message_in_order() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    let results = queue.publish(&[sms(1), message(Channel::Email, 2)]).await;
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(Result::is_ok));
    assert!(queue.publish(&[]).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn each_channel_has_its_own_queue() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1), message(Channel::Email, 2), sms(3)]).await;
    assert_eq!(
        messages(&queue.receive(Channel::Email, 10, Duration::ZERO).await.unwrap()),
        vec![message(Channel::Email, 2)]
    );
    assert_eq!(
        messages(&queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap()),
        vec![sms(1), sms(3)]
    );
    assert!(queue.receive(Channel::Push, 10, Duration::ZERO).await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_empty_queue_answers_at_once_when_told_not_to_wait() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    let started = Instant::now();
    assert!(queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn an_empty_queue_waits_the_whole_wait_then_answers_empty() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    let started = Instant::now();
    assert!(queue.receive(Channel::Sms, 10, Duration::from_secs(5)).await.unwrap().is_empty());
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_ready_message_is_returned_without_waiting() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1)]).await;
    let started = Instant::now();
    let got = queue.receive(Channel::Sms, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(messages(&got), vec![sms(1)]);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_receiver_wakes_as_soon_as_a_message_is_published() {
    let queue = Arc::new(MemoryDeliveryQueue::new(TIMEOUT));
    let started = Instant::now();
    let receiver = tokio::spawn({
        let queue = queue.clone();
        async move {
            let got = queue.receive(Channel::Sms, 10, Duration::from_secs(30)).await.unwrap();
            (got, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    publish_ok(&queue, &[sms(1)]).await;
    let (got, waited) = receiver.await.expect("receiver");
    assert_eq!(messages(&got), vec![sms(1)]);
    assert_eq!(waited, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_publish_on_another_channel_does_not_end_the_wait() {
    let queue = Arc::new(MemoryDeliveryQueue::new(TIMEOUT));
    let started = Instant::now();
    let receiver = tokio::spawn({
        let queue = queue.clone();
        async move { (queue.receive(Channel::Sms, 10, Duration::from_secs(10)).await.unwrap(), started.elapsed()) }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    publish_ok(&queue, &[message(Channel::Email, 1)]).await;
    let (got, waited) = receiver.await.expect("receiver");
    assert!(got.is_empty());
    assert_eq!(waited, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_receiver_that_loses_the_race_keeps_waiting_for_the_rest_of_its_wait() {
    let queue = Arc::new(MemoryDeliveryQueue::new(TIMEOUT));
    let started = Instant::now();
    let spawn_receiver = |queue: Arc<MemoryDeliveryQueue>| {
        tokio::spawn(async move {
            (queue.receive(Channel::Sms, 1, Duration::from_secs(10)).await.unwrap(), started.elapsed())
        })
    };
    let (a, b) = (spawn_receiver(queue.clone()), spawn_receiver(queue.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    publish_ok(&queue, &[sms(1)]).await;
    let (a, b) = (a.await.expect("a"), b.await.expect("b"));
    let (winner, loser) = if a.0.is_empty() { (b, a) } else { (a, b) };
    assert_eq!((messages(&winner.0), winner.1), (vec![sms(1)], Duration::from_secs(1)));
    assert_eq!((loser.0.len(), loser.1), (0, Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_message_is_delivered_again_after_the_visibility_timeout() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1)]).await;
    let first = queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap().is_empty());
    tokio::time::advance(Duration::from_secs(1)).await;
    let again = queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    assert_eq!(again, first, "same message, same receipt (like a Kafka offset)");
    // And again, as long as nobody acknowledges it.
    tokio::time::advance(TIMEOUT).await;
    assert_eq!(queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap(), first);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_receiver_gets_a_redelivery_when_its_timeout_passes() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1)]).await;
    queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    let started = Instant::now();
    let again = queue.receive(Channel::Sms, 10, Duration::from_secs(300)).await.unwrap();
    assert_eq!(messages(&again), vec![sms(1)]);
    assert_eq!(started.elapsed(), TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn an_acknowledged_message_is_never_delivered_again() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1), sms(2)]).await;
    let got = queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    queue.ack(Channel::Sms, &[got[0].receipt]).await.unwrap();
    tokio::time::advance(TIMEOUT * 3).await;
    let again = queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    assert_eq!(messages(&again), vec![sms(2)]);
    queue.ack(Channel::Sms, &[again[0].receipt]).await.unwrap();
    tokio::time::advance(TIMEOUT * 3).await;
    assert!(queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(queue.depth(Channel::Sms), 0);
}

#[tokio::test(start_paused = true)]
async fn redelivered_messages_come_before_newer_ones() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1), sms(2)]).await;
    queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    tokio::time::advance(TIMEOUT).await;
    publish_ok(&queue, &[sms(3)]).await;
    let got = queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    assert_eq!(messages(&got), vec![sms(1), sms(2), sms(3)]);
}

#[tokio::test(start_paused = true)]
async fn a_late_ack_of_a_message_waiting_for_redelivery_still_counts() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1), sms(2)]).await;
    let slow = queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    tokio::time::advance(TIMEOUT).await;
    // Both are visible again; another consumer takes only the first.
    let other = queue.receive(Channel::Sms, 1, Duration::ZERO).await.unwrap();
    assert_eq!(messages(&other), vec![sms(1)]);
    // The slow consumer finally stores the second's effect and acknowledges it.
    queue.ack(Channel::Sms, &[slow[1].receipt]).await.unwrap();
    assert!(queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(queue.depth(Channel::Sms), 1);
}

#[tokio::test(start_paused = true)]
async fn depth_counts_ready_and_in_flight_messages_until_acknowledged() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1), sms(2), sms(3), message(Channel::Email, 4)]).await;
    assert_eq!(queue.depth(Channel::Sms), 3);
    let got = queue.receive(Channel::Sms, 2, Duration::ZERO).await.unwrap();
    assert_eq!(queue.depth(Channel::Sms), 3);
    queue.ack(Channel::Sms, &[got[0].receipt, got[1].receipt]).await.unwrap();
    assert_eq!(queue.depth(Channel::Sms), 1);
    assert_eq!(queue.depth(Channel::Email), 1);
    assert_eq!(queue.depth(Channel::Push), 0);
}

#[tokio::test(start_paused = true)]
async fn acknowledging_unknown_or_repeated_receipts_is_harmless() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1)]).await;
    let got = queue.receive(Channel::Sms, 10, Duration::ZERO).await.unwrap();
    queue.ack(Channel::Email, &[got[0].receipt]).await.unwrap();
    queue.ack(Channel::Sms, &[999]).await.unwrap();
    assert_eq!(queue.depth(Channel::Sms), 1, "an ack on another channel does not count");
    queue.ack(Channel::Sms, &[got[0].receipt]).await.unwrap();
    queue.ack(Channel::Sms, &[got[0].receipt]).await.unwrap();
    assert_eq!(queue.depth(Channel::Sms), 0);
}

#[tokio::test(start_paused = true)]
async fn asking_for_zero_messages_takes_none() {
    let queue = MemoryDeliveryQueue::new(TIMEOUT);
    publish_ok(&queue, &[sms(1)]).await;
    assert!(queue.receive(Channel::Sms, 0, Duration::from_secs(5)).await.unwrap().is_empty());
    assert_eq!(messages(&queue.receive(Channel::Sms, 1, Duration::ZERO).await.unwrap()), vec![sms(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_receivers_share_the_messages_without_duplicates() {
    const TOTAL: usize = 500;
    let queue = Arc::new(MemoryDeliveryQueue::new(TIMEOUT));
    let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let receivers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, taken) = (queue.clone(), taken.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                while taken.load(std::sync::atomic::Ordering::SeqCst) < TOTAL {
                    let batch = queue.receive(Channel::Sms, 7, Duration::from_millis(20)).await.unwrap();
                    let receipts: Vec<u64> = batch.iter().map(|r| r.receipt).collect();
                    queue.ack(Channel::Sms, &receipts).await.unwrap();
                    taken.fetch_add(batch.len(), std::sync::atomic::Ordering::SeqCst);
                    got.extend(batch.into_iter().map(|r| r.message.delivery_id));
                }
                got
            })
        })
        .collect();
    for chunk in (0..TOTAL as u64).collect::<Vec<u64>>().chunks(10) {
        let batch: Vec<QueueMessage> = chunk.iter().map(|&n| sms(n)).collect();
        publish_ok(&queue, &batch).await;
        tokio::task::yield_now().await;
    }
    let mut seen = Vec::new();
    for receiver in receivers {
        let got = tokio::time::timeout(Duration::from_secs(30), receiver).await.expect("receivers finish");
        seen.extend(got.expect("receiver"));
    }
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (TOTAL, TOTAL));
    assert_eq!(queue.depth(Channel::Sms), 0);
}

#[tokio::test(start_paused = true)]
async fn the_default_visibility_timeout_is_a_minute() {
    assert_eq!(MemoryDeliveryQueue::default().visibility_timeout(), Duration::from_secs(60));
}
