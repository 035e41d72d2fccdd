//! In-process per-channel delivery queues (the embedded default; Kafka in production).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hub_application::ports::{DeliveryQueue, QueueError, QueueMessage, ReceivedMessage};
use hub_domain::Channel;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a received message stays hidden before it is delivered again, unless acknowledged.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Held {
    message: QueueMessage,
    /// `Some` while received and not acknowledged: hidden until then.
    hidden_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct LaneState {
    next_receipt: u64,
    /// Every message not acknowledged yet, ready or in flight, by receipt.
    held: HashMap<u64, Held>,
    /// Receipts ready to receive, oldest first.
    ready: VecDeque<u64>,
    /// `(hidden_until, receipt)` in receive order, so deadlines only grow from front to back
    /// (one visibility timeout for all). Items whose message was acknowledged or received
    /// again are stale and skipped.
    deadlines: VecDeque<(Instant, u64)>,
}

impl LaneState {
    fn push(&mut self, message: QueueMessage) {
        self.next_receipt += 1;
        let receipt = self.next_receipt;
        self.held.insert(receipt, Held { message, hidden_until: None });
        self.ready.push_back(receipt);
    }

    /// Makes messages whose visibility timeout passed ready again, ahead of new ones (they are
    /// older, and Kafka too resumes from the oldest uncommitted offset).
    fn reclaim(&mut self, now: Instant) {
        let mut expired = Vec::new();
        while let Some(&(deadline, receipt)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            match self.held.get_mut(&receipt) {
                Some(held) if held.hidden_until == Some(deadline) => {
                    held.hidden_until = None;
                    expired.push(receipt);
                }
                // Acknowledged, or received again since (a later item covers it).
                _ => {}
            }
        }
        for receipt in expired.into_iter().rev() {
            self.ready.push_front(receipt);
        }
    }

    /// Takes up to `max` ready messages, hiding each until `hidden_until`.
    fn take(&mut self, max: usize, hidden_until: Instant) -> Vec<ReceivedMessage> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(receipt) = self.ready.pop_front() else { break };
            // An acknowledged receipt may still sit here after a redelivery; skip it.
            let Some(held) = self.held.get_mut(&receipt) else { continue };
            held.hidden_until = Some(hidden_until);
            self.deadlines.push_back((hidden_until, receipt));
            out.push(ReceivedMessage { message: held.message.clone(), receipt });
        }
        out
    }

    /// The next moment a hidden message may become visible again.
    fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|&(deadline, _)| deadline)
    }
}

#[derive(Debug, Default)]
struct Lane {
    state: Mutex<LaneState>,
    /// Woken on publish, so waiting receivers return at once without polling.
    published: Notify,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, LaneState> {
        // Plain collection operations only: a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One FIFO per channel held in this process, with at-least-once delivery (SPEC §2, §4).
///
/// `receive` returns at once when messages are ready and otherwise parks on a [`Notify`]
/// until a publish (or a redelivery falls due), for at most `wait`. A received message stays
/// hidden for the visibility timeout; if it is not acknowledged by then it is delivered again
/// (to any receiver), which is what Kafka does after a consumer dies. Receipts are stable per
/// message, like offsets. Time is tokio time, so tests can pause and advance it.
///
/// **Not durable.** The queues live in memory: a crash or restart loses every message not yet
/// acknowledged. Nothing accepted is lost with them, because the delivery row stays `PENDING`
/// in the store: the due-retry scheduler re-queues due deliveries that were queued longer than
/// `requeue_after` ago without being claimed (SPEC §4), and the outbox holds rows until they
/// are published. The queue is unbounded for the same reason: the outbox is the buffer, and the
/// relay only publishes what the store already holds.
///
/// Each channel has its own lock, held only for a few collection operations.
#[derive(Debug)]
pub struct MemoryDeliveryQueue {
    lanes: [Lane; Channel::CANONICAL.len()],
    visibility_timeout: Duration,
}

impl MemoryDeliveryQueue {
    /// Empty queues whose unacknowledged messages reappear after `visibility_timeout`.
    pub fn new(visibility_timeout: Duration) -> Self {
        Self { lanes: Default::default(), visibility_timeout }
    }

    /// Messages on `channel` not acknowledged yet: ready plus in flight (for metrics).
    pub fn depth(&self, channel: Channel) -> usize {
        self.lane(channel).lock().held.len()
    }

    /// The visibility timeout this queue was built with.
    pub fn visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }

    fn lane(&self, channel: Channel) -> &Lane {
        &self.lanes[channel.index()]
    }
}

impl Default for MemoryDeliveryQueue {
    fn default() -> Self {
        Self::new(DEFAULT_VISIBILITY_TIMEOUT)
    }
}

/// `now + d`, or about thirty years ahead when that overflows (what tokio itself uses as
/// "never").
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

#[async_trait]
impl DeliveryQueue for MemoryDeliveryQueue {
    async fn publish(&self, messages: &[QueueMessage]) -> Vec<Result<(), QueueError>> {
        let mut touched = [false; Channel::CANONICAL.len()];
        for message in messages {
            self.lane(message.channel).lock().push(message.clone());
            touched[message.channel.index()] = true;
        }
        for channel in Channel::CANONICAL {
            if touched[channel.index()] {
                self.lane(channel).published.notify_waiters();
            }
        }
        messages.iter().map(|_| Ok(())).collect()
    }

    async fn receive(
        &self,
        channel: Channel,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let lane = self.lane(channel);
        let give_up = later(Instant::now(), wait);
        loop {
            // Registered before looking, so a publish between the look and the wait is not
            // missed (`notify_waiters` only wakes futures that are already enabled).
            let published = lane.published.notified();
            tokio::pin!(published);
            published.as_mut().enable();

            let now = Instant::now();
            let next_redelivery = {
                let mut state = lane.lock();
                state.reclaim(now);
                let batch = state.take(max, later(now, self.visibility_timeout));
                if !batch.is_empty() {
                    return Ok(batch);
                }
                state.next_deadline()
            };
            if now >= give_up {
                return Ok(Vec::new());
            }
            let wake_at = next_redelivery.map_or(give_up, |due| due.min(give_up));
            // Either outcome (published, or a deadline passed) means: look again.
            let _ = tokio::time::timeout_at(wake_at, published).await;
        }
    }

    async fn ack(&self, channel: Channel, receipts: &[u64]) -> Result<(), QueueError> {
        let mut state = self.lane(channel).lock();
        for receipt in receipts {
            // Unknown or already acknowledged receipts are ignored: acks are idempotent.
            state.held.remove(receipt);
        }
        Ok(())
    }

    async fn depth(&self, channel: Channel) -> Result<Option<u64>, QueueError> {
        // The inherent method: everything this process holds for the channel.
        Ok(Some(u64::try_from(MemoryDeliveryQueue::depth(self, channel)).unwrap_or(u64::MAX)))
    }
}

#[cfg(test)]
mod tests;
