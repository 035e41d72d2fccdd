use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::rate_limit::BucketPolicy;
use hub_domain::{Channel, RecipientId};

use crate::error::PortError;

/// The limiter's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateDecision {
    /// One token was taken from every bucket.
    Allowed {
        /// Tokens left in the tightest bucket (for the `RateLimit` header).
        remaining: u32,
        /// The tightest bucket's channel and policy.
        channel: Channel,
        /// Its policy.
        policy: BucketPolicy,
        /// Time until that bucket is full again.
        reset_after: Duration,
    },
    /// Nothing was taken; `channel` is the binding bucket.
    Denied {
        /// The channel whose bucket is empty longest.
        channel: Channel,
        /// Its policy.
        policy: BucketPolicy,
        /// Until it holds one token.
        retry_after: Duration,
    },
}

/// Per recipient × channel token buckets, evaluated all-or-nothing for one request.
#[async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Takes one token from the bucket of every `(channel, policy)` of `recipient` at `now`, or
    /// none if any bucket is empty. `channels` is non-empty. Errors: `Unavailable` when the
    /// limiter's store is down (the request must fail with 503, never pass unchecked).
    async fn acquire(
        &self,
        recipient: &RecipientId,
        channels: &[(Channel, BucketPolicy)],
        now: DateTime<Utc>,
    ) -> Result<RateDecision, PortError>;
}
