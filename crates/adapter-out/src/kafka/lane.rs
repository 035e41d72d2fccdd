//! One channel's consumed-message bookkeeping, free of I/O: what is ready, what is handed
//! out until when, and which offset each partition may commit.
//!
//! # Receipts
//!
//! A receipt is `(partition << 48) | offset`: the partition in the upper 16 bits, the offset
//! in the lower 48 (2⁴⁸ ≈ 2.8·10¹⁴ messages per partition). It names the Kafka record, so a
//! message handed out twice (after a visibility timeout, or after a restart) keeps its receipt,
//! and an acknowledgement of a stale receipt is harmless: it can only mean that record.
//!
//! # Commits
//!
//! Acknowledgements arrive out of order (several dispatchers per channel). Per partition the
//! state keeps the offsets received and not yet acknowledged; the commit point is the lowest
//! of them, or one past the highest offset received when none is outstanding. Only the
//! contiguous acknowledged prefix is therefore ever committed, and offsets Kafka skipped
//! (control records, compaction) do not hold it back.

use std::collections::{BTreeSet, HashMap, VecDeque};

use hub_application::ports::{QueueMessage, ReceivedMessage};
use tokio::time::Instant;

const OFFSET_BITS: u32 = 48;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

/// The receipt of the record at `offset` in `partition`, or `None` when either is out of the
/// encodable range (a negative value, a partition above 65 535, an offset from 2⁴⁸ on).
pub(crate) fn encode_receipt(partition: i32, offset: i64) -> Option<u64> {
    let partition = u16::try_from(partition).ok()?;
    let offset = u64::try_from(offset).ok().filter(|o| *o <= OFFSET_MASK)?;
    Some((u64::from(partition) << OFFSET_BITS) | offset)
}

/// The `(partition, offset)` a receipt names.
pub(crate) fn decode_receipt(receipt: u64) -> (i32, i64) {
    // Both fit: 16 bits into i32, 48 bits into i64.
    ((receipt >> OFFSET_BITS) as i32, (receipt & OFFSET_MASK) as i64)
}

#[derive(Debug)]
struct Held {
    message: QueueMessage,
    /// `Some` while handed out and not acknowledged: hidden until then.
    hidden_until: Option<Instant>,
}

/// Commit bookkeeping of one assigned partition.
#[derive(Debug)]
struct PartitionState {
    /// Offsets received and not acknowledged (unparsable records are never added).
    outstanding: BTreeSet<i64>,
    /// One past the highest offset received.
    next: i64,
    /// The last commit point handed to the consumer (initially where reading started).
    committed: i64,
}

impl PartitionState {
    fn commit_point(&self) -> i64 {
        self.outstanding.first().copied().unwrap_or(self.next)
    }

    /// The new commit point when it moved past the last one.
    fn advance(&mut self) -> Option<i64> {
        let point = self.commit_point();
        (point > self.committed).then(|| {
            self.committed = point;
            point
        })
    }
}

/// What became of a record offered to the lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Queued for receivers.
    Ready,
    /// Not queued: unparsable (counted as acknowledged) or already seen.
    Dropped,
}

/// The bookkeeping of one channel's consumer.
#[derive(Debug, Default)]
pub(crate) struct LaneState {
    /// Every parsed message not acknowledged yet, ready or handed out, by receipt.
    held: HashMap<u64, Held>,
    /// Receipts ready to hand out, oldest first (may hold stale receipts, skipped on take).
    ready: VecDeque<u64>,
    /// `(hidden_until, receipt)` in hand-out order, so deadlines only grow from front to back.
    deadlines: VecDeque<(Instant, u64)>,
    partitions: HashMap<i32, PartitionState>,
}

impl LaneState {
    /// Messages held in memory: ready plus handed out (the flow-control measure).
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// Takes in the record at `(partition, offset)`; `message` is `None` when it could not be
    /// parsed, which acknowledges it at once. Returns what became of it and the partition's new
    /// commit point when it moved.
    pub(crate) fn offer(
        &mut self,
        partition: i32,
        offset: i64,
        message: Option<QueueMessage>,
    ) -> (Offered, Option<i64>) {
        let state = self.partitions.entry(partition).or_insert_with(|| PartitionState {
            outstanding: BTreeSet::new(),
            next: offset,
            committed: offset,
        });
        if offset < state.next {
            // Seen in this assignment already (a refetch after pause/resume): held or acknowledged.
            return (Offered::Dropped, None);
        }
        state.next = offset + 1;
        let receipt = encode_receipt(partition, offset);
        let offered = match (message, receipt) {
            (Some(message), Some(receipt)) => {
                state.outstanding.insert(offset);
                self.held.insert(receipt, Held { message, hidden_until: None });
                self.ready.push_back(receipt);
                Offered::Ready
            }
            _ => Offered::Dropped,
        };
        (offered, state.advance())
    }

    /// Records acknowledgements; returns the `(partition, commit point)` pairs that moved.
    /// Unknown receipts (acknowledged twice, or of a partition revoked since) are ignored.
    pub(crate) fn ack(&mut self, receipts: &[u64]) -> Vec<(i32, i64)> {
        let mut touched = Vec::new();
        for &receipt in receipts {
            self.held.remove(&receipt);
            let (partition, offset) = decode_receipt(receipt);
            if let Some(state) = self.partitions.get_mut(&partition) {
                if state.outstanding.remove(&offset) && !touched.contains(&partition) {
                    touched.push(partition);
                }
            }
        }
        touched
            .into_iter()
            .filter_map(|p| self.partitions.get_mut(&p).and_then(PartitionState::advance).map(|o| (p, o)))
            .collect()
    }

    /// Forgets revoked partitions: their messages are no longer handed out (whoever owns the
    /// partition now reads them from the committed offset) and their receipts become stale.
    pub(crate) fn forget(&mut self, partitions: &[i32]) {
        for partition in partitions {
            self.partitions.remove(partition);
        }
        let kept = |receipt: &u64| !partitions.contains(&decode_receipt(*receipt).0);
        self.held.retain(|receipt, _| kept(receipt));
        self.ready.retain(kept);
        self.deadlines.retain(|(_, receipt)| kept(receipt));
    }

    /// The last commit point of every partition (to commit again after a failed commit).
    pub(crate) fn commit_points(&self) -> Vec<(i32, i64)> {
        self.partitions.iter().map(|(p, s)| (*p, s.committed)).collect()
    }

    /// Makes messages whose visibility timeout passed ready again, ahead of new ones.
    pub(crate) fn reclaim(&mut self, now: Instant) {
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
                // Acknowledged, forgotten, or handed out again since (a later item covers it).
                _ => {}
            }
        }
        for receipt in expired.into_iter().rev() {
            self.ready.push_front(receipt);
        }
    }

    /// Hands out up to `max` ready messages, hiding each until `hidden_until`.
    pub(crate) fn take(&mut self, max: usize, hidden_until: Instant) -> Vec<ReceivedMessage> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(receipt) = self.ready.pop_front() else { break };
            let Some(held) = self.held.get_mut(&receipt) else { continue };
            if held.hidden_until.is_some() {
                // A duplicate ready entry of a message already handed out.
                continue;
            }
            held.hidden_until = Some(hidden_until);
            self.deadlines.push_back((hidden_until, receipt));
            out.push(ReceivedMessage { message: held.message.clone(), receipt });
        }
        out
    }

    /// The next moment a hidden message may become ready again.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|&(deadline, _)| deadline)
    }
}

#[cfg(test)]
mod tests;
