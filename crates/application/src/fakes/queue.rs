use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hub_domain::Channel;

use crate::ports::{DeliveryQueue, QueueError, QueueMessage, ReceivedMessage};

#[derive(Debug, Default)]
struct Lane {
    next_receipt: u64,
    ready: VecDeque<(u64, QueueMessage)>,
    unacked: BTreeMap<u64, QueueMessage>,
}

/// Per-channel FIFO queues with explicit acknowledgement; unacknowledged messages can be
/// redelivered with [`InMemoryQueue::redeliver_unacked`] (what a consumer restart does).
#[derive(Debug, Default)]
pub struct InMemoryQueue {
    lanes: Mutex<HashMap<Channel, Lane>>,
    down: AtomicBool,
}

impl InMemoryQueue {
    /// Empty queues.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes publish/receive fail (broker down) until switched back.
    pub fn set_unavailable(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Messages waiting (not yet received) on a channel.
    pub fn ready(&self, channel: Channel) -> Vec<QueueMessage> {
        let lanes = self.lanes.lock().expect("lock");
        lanes.get(&channel).map(|l| l.ready.iter().map(|(_, m)| m.clone()).collect()).unwrap_or_default()
    }

    /// Puts every received-but-unacknowledged message back at the front.
    pub fn redeliver_unacked(&self) {
        let mut lanes = self.lanes.lock().expect("lock");
        for lane in lanes.values_mut() {
            let unacked = std::mem::take(&mut lane.unacked);
            for (receipt, message) in unacked.into_iter().rev() {
                lane.ready.push_front((receipt, message));
            }
        }
    }

    /// Publishes a message directly (a duplicate from the broker, say).
    pub fn inject(&self, message: QueueMessage) {
        let mut lanes = self.lanes.lock().expect("lock");
        let lane = lanes.entry(message.channel).or_default();
        lane.next_receipt += 1;
        let receipt = lane.next_receipt;
        lane.ready.push_back((receipt, message));
    }

    fn error() -> QueueError {
        QueueError(anyhow::anyhow!("queue down"))
    }
}

#[async_trait]
impl DeliveryQueue for InMemoryQueue {
    async fn publish(&self, messages: &[QueueMessage]) -> Vec<Result<(), QueueError>> {
        if self.down.load(Ordering::SeqCst) {
            return messages.iter().map(|_| Err(Self::error())).collect();
        }
        messages
            .iter()
            .map(|m| {
                self.inject(m.clone());
                Ok(())
            })
            .collect()
    }

    async fn receive(
        &self,
        channel: Channel,
        max: usize,
        _wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Self::error());
        }
        let mut lanes = self.lanes.lock().expect("lock");
        let lane = lanes.entry(channel).or_default();
        let mut out = Vec::new();
        while out.len() < max {
            let Some((receipt, message)) = lane.ready.pop_front() else { break };
            lane.unacked.insert(receipt, message.clone());
            out.push(ReceivedMessage { message, receipt });
        }
        Ok(out)
    }

    async fn ack(&self, channel: Channel, receipts: &[u64]) -> Result<(), QueueError> {
        let mut lanes = self.lanes.lock().expect("lock");
        if let Some(lane) = lanes.get_mut(&channel) {
            for r in receipts {
                lane.unacked.remove(r);
            }
        }
        Ok(())
    }

    async fn depth(&self, channel: Channel) -> Result<Option<u64>, QueueError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Self::error());
        }
        let lanes = self.lanes.lock().expect("lock");
        let depth = lanes.get(&channel).map_or(0, |l| l.ready.len() + l.unacked.len());
        Ok(Some(u64::try_from(depth).unwrap_or(u64::MAX)))
    }
}
