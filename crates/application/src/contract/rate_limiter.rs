//! [`RateLimiter`]: token buckets per recipient × channel,
//! all-or-nothing per request, refilled evenly (`capacity` tokens per `period`).
//!
//! Time is the `now` argument only: a Redis script must take it as a parameter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hub_domain::Channel;
use hub_domain::rate_limit::BucketPolicy;

use super::fixtures::*;
use crate::ports::{RateDecision, RateLimiter};

async fn acquire(
    limiter: &dyn RateLimiter,
    recipient: &str,
    channels: &[(Channel, BucketPolicy)],
    now: DateTime<Utc>,
) -> RateDecision {
    limiter.acquire(&recipient_id(recipient), channels, now).await.expect("acquire")
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn allowed(remaining: u32, channel: Channel, policy: BucketPolicy, reset_after: Duration) -> RateDecision {
    RateDecision::Allowed { remaining, channel, policy, reset_after }
}

fn denied(channel: Channel, policy: BucketPolicy, retry_after: Duration) -> RateDecision {
    RateDecision::Denied { channel, policy, retry_after }
}

/// A bucket gives exactly `capacity` tokens (counting `remaining` down, `reset_after` up),
/// then denies until one token has refilled (`period / capacity`).
pub async fn a_bucket_allows_exactly_its_capacity_then_denies(limiter: &dyn RateLimiter) {
    let p = policy(3, 60);
    let email = [(Channel::Email, p)];
    assert_eq!(acquire(limiter, "alice", &email, t0()).await, allowed(2, Channel::Email, p, secs(20)));
    assert_eq!(acquire(limiter, "alice", &email, t0()).await, allowed(1, Channel::Email, p, secs(40)));
    assert_eq!(acquire(limiter, "alice", &email, t0()).await, allowed(0, Channel::Email, p, secs(60)));
    let fourth = acquire(limiter, "alice", &email, t0()).await;
    assert_eq!(
        fourth,
        denied(Channel::Email, p, secs(20)),
        "the fourth request waits for one token (60 s / 3)"
    );
}

/// A request denied by one bucket takes nothing from the others.
pub async fn a_denied_request_takes_nothing_from_any_bucket(limiter: &dyn RateLimiter) {
    let (sms, email) = (policy(1, 60), policy(5, 60));
    acquire(limiter, "alice", &[(Channel::Sms, sms)], t0()).await;
    let both = acquire(limiter, "alice", &[(Channel::Email, email), (Channel::Sms, sms)], t0()).await;
    assert_eq!(both, denied(Channel::Sms, sms, secs(60)), "the empty SMS bucket denies the request");

    let first = acquire(limiter, "alice", &[(Channel::Email, email)], t0()).await;
    assert_eq!(first, allowed(4, Channel::Email, email, secs(12)), "the denied request took no EMAIL token");
    for remaining in (0..4).rev() {
        let next = acquire(limiter, "alice", &[(Channel::Email, email)], t0()).await;
        assert!(matches!(next, RateDecision::Allowed { remaining: r, .. } if r == remaining), "got {next:?}");
    }
    let sixth = acquire(limiter, "alice", &[(Channel::Email, email)], t0()).await;
    assert_eq!(sixth, denied(Channel::Email, email, secs(12)), "all five EMAIL tokens were available");
}

/// When several buckets are empty, the denial names the one that stays empty longest, in
/// whatever order the channels are given.
pub async fn the_binding_channel_is_the_one_empty_longest(limiter: &dyn RateLimiter) {
    let (sms, email) = (policy(1, 60), policy(2, 10));
    acquire(limiter, "alice", &[(Channel::Sms, sms)], t0()).await;
    acquire(limiter, "alice", &[(Channel::Email, email)], t0()).await;
    acquire(limiter, "alice", &[(Channel::Email, email)], t0()).await;
    for channels in
        [[(Channel::Email, email), (Channel::Sms, sms)], [(Channel::Sms, sms), (Channel::Email, email)]]
    {
        let decision = acquire(limiter, "alice", &channels, t0()).await;
        assert_eq!(decision, denied(Channel::Sms, sms, secs(60)), "SMS waits 60 s, EMAIL 5 s");
    }
}

/// An allowed request reports the bucket with the fewest tokens left.
pub async fn the_tightest_bucket_is_reported_when_allowed(limiter: &dyn RateLimiter) {
    let (email, sms) = (policy(10, 60), policy(2, 60));
    let decision = acquire(limiter, "alice", &[(Channel::Email, email), (Channel::Sms, sms)], t0()).await;
    assert_eq!(decision, allowed(1, Channel::Sms, sms, secs(30)), "SMS has 1 token left, EMAIL 9");
}

/// Tokens come back evenly, `capacity` per `period`, up to `capacity`.
pub async fn tokens_refill_at_capacity_per_period(limiter: &dyn RateLimiter) {
    let p = policy(2, 60);
    let email = [(Channel::Email, p)];
    acquire(limiter, "alice", &email, t0()).await;
    acquire(limiter, "alice", &email, t0()).await;
    assert_eq!(
        acquire(limiter, "alice", &email, at(29)).await,
        denied(Channel::Email, p, secs(1)),
        "1 s to go"
    );
    assert_eq!(
        acquire(limiter, "alice", &email, at(30)).await,
        allowed(0, Channel::Email, p, secs(60)),
        "one token back"
    );
    assert_eq!(acquire(limiter, "alice", &email, at(30)).await, denied(Channel::Email, p, secs(30)));

    assert_eq!(
        acquire(limiter, "alice", &email, at(1000)).await,
        allowed(1, Channel::Email, p, secs(30)),
        "full, not more"
    );
    assert_eq!(acquire(limiter, "alice", &email, at(1000)).await, allowed(0, Channel::Email, p, secs(60)));
    assert_eq!(acquire(limiter, "alice", &email, at(1000)).await, denied(Channel::Email, p, secs(30)));
}

/// Buckets belong to one recipient and one channel.
pub async fn recipients_have_independent_buckets(limiter: &dyn RateLimiter) {
    let p = policy(1, 60);
    acquire(limiter, "alice", &[(Channel::Email, p)], t0()).await;
    let alice = acquire(limiter, "alice", &[(Channel::Email, p)], t0()).await;
    assert_eq!(alice, denied(Channel::Email, p, secs(60)), "alice's EMAIL bucket is empty");
    let bob = acquire(limiter, "bob", &[(Channel::Email, p)], t0()).await;
    assert_eq!(bob, allowed(0, Channel::Email, p, secs(60)), "bob has his own bucket");
    let sms = acquire(limiter, "alice", &[(Channel::Sms, p)], t0()).await;
    assert_eq!(sms, allowed(0, Channel::Sms, p, secs(60)), "alice's SMS bucket is separate");
}
