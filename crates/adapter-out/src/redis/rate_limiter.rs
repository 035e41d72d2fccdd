//! Token buckets in Redis, shared by every replica (SPEC §5.1; ADR 0017).

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::PortError;
use hub_application::ports::{RateDecision, RateLimiter};
use hub_domain::rate_limit::BucketPolicy;
use hub_domain::{Channel, RecipientId};
use redis::Script;

use super::RedisConnection;

static ACQUIRE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/acquire.lua")));

/// How long past one period a bucket is kept on the server, for replicas whose clocks run apart.
const EXPIRY_MARGIN_MS: u64 = 60_000;

/// Per recipient × channel token buckets in Redis (≥ 7), one hash `{level, updated_at}` per
/// bucket at `{prefix}rl:{recipient}:{channel}`.
///
/// One Lua script (EVALSHA, loaded on NOSCRIPT) evaluates every bucket of a request atomically,
/// all-or-nothing, with exactly the domain's integer arithmetic
/// ([`hub_domain::rate_limit::take_all`]) at the caller's `now` (never the Redis clock), so it
/// answers like [`MemoryRateLimiter`](crate::memory::MemoryRateLimiter). A written bucket
/// expires on the server one period (plus a one-minute margin) after its last write, when it
/// is full again and the same as absent. Denied requests write nothing. Redis down or slow is
/// `Unavailable` within the connection's command timeout: the send fails with 503, never
/// passes unchecked.
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    conn: RedisConnection,
    prefix: String,
}

impl RedisRateLimiter {
    /// A limiter on `conn` whose keys all start with `key_prefix` (e.g. `nh:`).
    pub fn new(conn: RedisConnection, key_prefix: impl Into<String>) -> Self {
        Self { conn, prefix: key_prefix.into() }
    }

    /// The bucket's key: the channel (which has no `:`) is the last segment, so any recipient
    /// id stays unambiguous.
    fn key(&self, recipient: &RecipientId, channel: Channel) -> String {
        format!("{}rl:{}:{}", self.prefix, recipient.as_str(), channel)
    }
}

fn bad_reply(reply: &[String]) -> PortError {
    PortError::Unexpected(anyhow::anyhow!("unexpected reply of the rate limit script: {reply:?}"))
}

/// Parses one integer of the script's reply.
fn number<T: std::str::FromStr>(reply: &[String], i: usize) -> Result<T, PortError> {
    reply.get(i).and_then(|s| s.parse().ok()).ok_or_else(|| bad_reply(reply))
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(
        &self,
        recipient: &RecipientId,
        channels: &[(Channel, BucketPolicy)],
        now: DateTime<Utc>,
    ) -> Result<RateDecision, PortError> {
        if channels.is_empty() {
            return Err(PortError::Unexpected(anyhow::anyhow!("rate limiter called without channels")));
        }
        let keys: Vec<String> = channels.iter().map(|(channel, _)| self.key(recipient, *channel)).collect();
        let reply: Vec<String> = self
            .conn
            .run("acquire (EVALSHA)", |mut conn| async move {
                let mut invocation = ACQUIRE.prepare_invoke();
                invocation.arg(now.timestamp_millis()).arg(EXPIRY_MARGIN_MS);
                for (key, (_, policy)) in keys.iter().zip(channels) {
                    invocation.key(key).arg(policy.capacity()).arg(policy.period_ms());
                }
                invocation.invoke_async(&mut conn).await
            })
            .await?;

        let index: usize = number(&reply, 1)?;
        let &(channel, policy) = channels.get(index).ok_or_else(|| bad_reply(&reply))?;
        match reply.first().map(String::as_str) {
            Some("denied") if reply.len() == 3 => Ok(RateDecision::Denied {
                channel,
                policy,
                retry_after: Duration::from_millis(number(&reply, 2)?),
            }),
            Some("allowed") if reply.len() == 4 => Ok(RateDecision::Allowed {
                remaining: number(&reply, 2)?,
                channel,
                policy,
                reset_after: Duration::from_millis(number(&reply, 3)?),
            }),
            _ => Err(bad_reply(&reply)),
        }
    }
}
