use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::rate_limit::{BucketDecision, BucketPolicy, BucketState, take_all};
use hub_domain::{Channel, RecipientId};

use crate::error::PortError;
use crate::ports::{RateDecision, RateLimiter};

/// Token buckets in a map, evaluated with the domain arithmetic under one lock.
#[derive(Debug, Default)]
pub struct InMemoryRateLimiter {
    buckets: Mutex<HashMap<(RecipientId, Channel), BucketState>>,
    down: AtomicBool,
}

impl InMemoryRateLimiter {
    /// No bucket used yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail with `Unavailable` until switched back.
    pub fn set_unavailable(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Whole tokens left in a bucket at `now` (`None` if never used, i.e. full).
    pub fn tokens(
        &self,
        recipient: &RecipientId,
        channel: Channel,
        policy: &BucketPolicy,
        now: DateTime<Utc>,
    ) -> Option<u32> {
        let buckets = self.buckets.lock().expect("lock");
        buckets
            .get(&(recipient.clone(), channel))
            .map(|s| s.refilled(policy, now.timestamp_millis()).tokens(policy))
    }
}

#[async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn acquire(
        &self,
        recipient: &RecipientId,
        channels: &[(Channel, BucketPolicy)],
        now: DateTime<Utc>,
    ) -> Result<RateDecision, PortError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(PortError::unavailable("rate limiter down"));
        }
        if channels.is_empty() {
            return Err(PortError::Unexpected(anyhow::anyhow!("acquire needs at least one channel")));
        }
        let now_ms = now.timestamp_millis();
        let mut buckets = self.buckets.lock().expect("lock");
        let input: Vec<(BucketPolicy, Option<BucketState>)> =
            channels.iter().map(|(c, p)| (*p, buckets.get(&(recipient.clone(), *c)).cloned())).collect();
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
                for ((channel, _), state) in channels.iter().zip(states) {
                    buckets.insert((recipient.clone(), *channel), state);
                }
                let tightest = (0..channels.len()).min_by_key(|i| remaining[*i]).unwrap_or(0);
                Ok(RateDecision::Allowed {
                    remaining: remaining[tightest],
                    channel: channels[tightest].0,
                    policy: channels[tightest].1,
                    reset_after: Duration::from_millis(reset_after_ms[tightest]),
                })
            }
        }
    }
}
