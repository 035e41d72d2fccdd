//! In-process token buckets (the embedded default; a Redis Lua script in production).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::PortError;
use hub_application::ports::{RateDecision, RateLimiter};
use hub_domain::rate_limit::{BucketDecision, BucketPolicy, BucketState, take_all};
use hub_domain::{Channel, RecipientId};

use super::shards::{DEFAULT_SHARDS, Shards};

/// How many refilled recipients one call may evict at most (see the idempotency store).
const SWEEP_BUDGET: usize = 32;

/// The buckets of one recipient, indexed by [`Channel::index`].
#[derive(Debug, Default)]
struct Buckets {
    by_channel: [Option<BucketState>; Channel::CANONICAL.len()],
    /// When every bucket here is full again (ms since the epoch); from then on the entry is
    /// the same as no entry and can go.
    full_at_ms: i64,
}

#[derive(Debug, Default)]
struct Shard {
    recipients: HashMap<RecipientId, Buckets>,
    /// `full_at_ms` of every write, soonest first; stale items (the recipient was written
    /// again later) are skipped when they come up.
    refills: BinaryHeap<Reverse<(i64, RecipientId)>>,
}

impl Shard {
    /// Evicts up to `budget` recipients whose buckets are all full at `now_ms`.
    fn sweep(&mut self, now_ms: i64, budget: usize) -> usize {
        let mut evicted = 0;
        for _ in 0..budget {
            match self.refills.peek() {
                Some(Reverse((full_at, _))) if *full_at <= now_ms => {}
                _ => break,
            }
            let Some(Reverse((_, recipient))) = self.refills.pop() else { break };
            if self.recipients.get(&recipient).is_some_and(|b| b.full_at_ms <= now_ms) {
                self.recipients.remove(&recipient);
                evicted += 1;
            }
        }
        if evicted > 0
            && self.recipients.capacity() > 64
            && self.recipients.len() < self.recipients.capacity() / 4
        {
            self.recipients.shrink_to(self.recipients.len() * 2);
        }
        evicted
    }
}

/// When a bucket written as `state` under `policy` is full again.
fn full_at(policy: &BucketPolicy, state: &BucketState) -> i64 {
    let wait = i64::try_from(state.ms_until_full(policy)).unwrap_or(i64::MAX);
    state.updated_at_ms.saturating_add(wait)
}

/// Per recipient × channel token buckets held in this process (SPEC §5.1, §2 embedded set).
///
/// The arithmetic is the domain's ([`take_all`], [`BucketState`]), the same the Redis script
/// mirrors, so both limiters answer identically. All buckets of one recipient live in one
/// shard, chosen by the hash of the recipient id, and one request's channels are evaluated and
/// written under that shard's lock: all-or-nothing, and atomic against concurrent requests for
/// the same recipient, while other recipients mostly use other locks.
///
/// **Bounded memory.** A bucket that has refilled completely is indistinguishable from a
/// bucket never used, so a recipient's entry is evicted once all of its buckets are full again.
/// Each shard keeps a min-heap of those instants; every `acquire` evicts up to 32 due
/// recipients of its shard, and [`MemoryRateLimiter::purge_refilled`] sweeps everything. Memory
/// is thus bounded by the recipients active within one period. Denied requests write nothing.
/// A restart forgets every bucket: limits start full again.
#[derive(Debug)]
pub struct MemoryRateLimiter {
    shards: Shards<Shard>,
}

impl MemoryRateLimiter {
    /// A limiter with no bucket used yet and the default number of shards.
    pub fn new() -> Self {
        Self::with_shards(DEFAULT_SHARDS)
    }

    /// A limiter with `shards` shards (at least one).
    pub fn with_shards(shards: usize) -> Self {
        Self { shards: Shards::new(shards) }
    }

    /// Recipients with at least one bucket that may not be full (not yet evicted).
    pub fn len(&self) -> usize {
        self.shards.each().map(|s| s.recipients.len()).sum()
    }

    /// Whether no recipient is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Evicts every recipient whose buckets are all full at `now`; returns how many.
    pub fn purge_refilled(&self, now: DateTime<Utc>) -> usize {
        let now_ms = now.timestamp_millis();
        self.shards.each().map(|mut s| s.sweep(now_ms, usize::MAX)).sum()
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn acquire(
        &self,
        recipient: &RecipientId,
        channels: &[(Channel, BucketPolicy)],
        now: DateTime<Utc>,
    ) -> Result<RateDecision, PortError> {
        if channels.is_empty() {
            return Err(PortError::Unexpected(anyhow::anyhow!("rate limiter called without channels")));
        }
        let now_ms = now.timestamp_millis();
        let mut shard = self.shards.lock(recipient);
        shard.sweep(now_ms, SWEEP_BUDGET);

        let stored = shard.recipients.get(recipient);
        let input: Vec<(BucketPolicy, Option<BucketState>)> = channels
            .iter()
            .map(|(channel, policy)| (*policy, stored.and_then(|b| b.by_channel[channel.index()])))
            .collect();

        match take_all(&input, now_ms) {
            BucketDecision::Denied { binding, retry_after_ms } => {
                let (channel, policy) = channels[binding];
                Ok(RateDecision::Denied {
                    channel,
                    policy,
                    retry_after: Duration::from_millis(retry_after_ms),
                })
            }
            BucketDecision::Allowed { states, remaining, reset_after_ms } => {
                let entry = shard.recipients.entry(recipient.clone()).or_default();
                for ((channel, policy), state) in channels.iter().zip(&states) {
                    entry.by_channel[channel.index()] = Some(*state);
                    entry.full_at_ms = entry.full_at_ms.max(full_at(policy, state));
                }
                let full_at_ms = entry.full_at_ms;
                shard.refills.push(Reverse((full_at_ms, recipient.clone())));

                // The tightest bucket: fewest tokens left, the first of equals. `take_all`
                // returns one entry per input, and `channels` is not empty.
                let i = (0..channels.len()).min_by_key(|&i| remaining[i]).unwrap_or(0);
                let (channel, policy) = channels[i];
                Ok(RateDecision::Allowed {
                    remaining: remaining[i],
                    channel,
                    policy,
                    reset_after: Duration::from_millis(reset_after_ms[i]),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
