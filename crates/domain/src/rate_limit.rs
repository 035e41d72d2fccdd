//! Token-bucket rate limits per recipient × channel (SPEC §5.1).
//!
//! The arithmetic is integer-only so that the Redis Lua script can mirror it exactly. A bucket's
//! level is kept in scaled units where one token is `period_ms` units and every elapsed
//! millisecond adds `capacity` units; a full bucket holds `capacity * period_ms` units. With that
//! scale a refill never rounds, so refilling in many small steps gives exactly what one big step
//! gives. For the script, in order:
//!
//! ```text
//! full     = capacity * period_ms
//! level    = stored level or full (never used), then min(level, full)
//! if now > updated_at: level = level + min(full - level, min(now - updated_at, period_ms) * capacity)
//!                      updated_at = now          -- a clock going backwards refills nothing
//! allowed  = every bucket has level >= period_ms; then level -= period_ms in each
//! wait     = ceil((period_ms - level) / capacity)   -- ms until one token, for a denied bucket
//! reset    = ceil((full - level) / capacity)        -- ms until full again
//! ```
//!
//! Every intermediate value is at most `full`, which [`BucketPolicy::new`] keeps at or below 2^53,
//! so Lua's double-precision numbers hold them exactly.

use std::fmt;
use std::time::Duration;

use crate::channel::{Channel, ChannelSet};

/// The largest `capacity * period_ms`: integers up to 2^53 are exact in Lua's doubles.
pub const MAX_BUCKET_UNITS: u64 = 1 << 53;

/// Why a bucket policy was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BucketPolicyError {
    /// Not `capacity/period` with a unit (`ms`, `s`, `m`, `h`), such as `5/60s`.
    #[error("expected capacity/period such as `5/60s` or `30/1m` (units ms, s, m, h)")]
    Malformed,
    /// The capacity is zero.
    #[error("capacity must be at least 1")]
    ZeroCapacity,
    /// The period is shorter than one millisecond.
    #[error("period must be at least 1ms")]
    PeriodTooShort,
    /// `capacity × period in ms` is over 2^53.
    #[error("capacity × period (in ms) must be at most 2^53")]
    TooLarge,
}

/// A token bucket: `capacity` tokens that refill completely, at an even rate, over `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketPolicy {
    capacity: u32,
    period_ms: u64,
}

impl BucketPolicy {
    /// Makes a policy; the period is kept in whole milliseconds (sub-millisecond parts are dropped).
    pub fn new(capacity: u32, period: Duration) -> Result<Self, BucketPolicyError> {
        if capacity == 0 {
            return Err(BucketPolicyError::ZeroCapacity);
        }
        let period_ms = u64::try_from(period.as_millis()).map_err(|_| BucketPolicyError::TooLarge)?;
        if period_ms == 0 {
            return Err(BucketPolicyError::PeriodTooShort);
        }
        match period_ms.checked_mul(u64::from(capacity)) {
            Some(units) if units <= MAX_BUCKET_UNITS => Ok(Self { capacity, period_ms }),
            _ => Err(BucketPolicyError::TooLarge),
        }
    }

    /// Parses `capacity/period`, the period a whole number with a unit: `5/60s`, `30/1m`, `100/500ms`, `1000/1h`.
    pub fn parse(s: &str) -> Result<Self, BucketPolicyError> {
        let (capacity, period) = s.trim().split_once('/').ok_or(BucketPolicyError::Malformed)?;
        let capacity = parse_digits(capacity.trim())?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).ok_or(BucketPolicyError::Malformed)?;
        let (amount, unit) = period.split_at(split);
        let amount = parse_digits(amount)?;
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(BucketPolicyError::Malformed),
        };
        let capacity = u32::try_from(capacity).map_err(|_| BucketPolicyError::TooLarge)?;
        let period_ms = amount.checked_mul(unit_ms).ok_or(BucketPolicyError::TooLarge)?;
        Self::new(capacity, Duration::from_millis(period_ms))
    }

    /// Tokens in a full bucket.
    pub const fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Time for an empty bucket to refill completely.
    pub const fn period(&self) -> Duration {
        Duration::from_millis(self.period_ms)
    }

    /// The period in milliseconds.
    pub const fn period_ms(&self) -> u64 {
        self.period_ms
    }

    /// Level of a full bucket in scaled units (`capacity * period_ms`).
    pub const fn full_level(&self) -> u64 {
        self.capacity as u64 * self.period_ms
    }
}

fn parse_digits(s: &str) -> Result<u64, BucketPolicyError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BucketPolicyError::Malformed);
    }
    s.parse().map_err(|_| BucketPolicyError::TooLarge)
}

impl fmt::Display for BucketPolicy {
    /// `5/60s`, or `5/1500ms` when the period is not whole seconds; parses back to the same policy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.period_ms % 1_000 == 0 {
            write!(f, "{}/{}s", self.capacity, self.period_ms / 1_000)
        } else {
            write!(f, "{}/{}ms", self.capacity, self.period_ms)
        }
    }
}

/// Why `NH_RATE_LIMITS` (or a value like it) was rejected; each variant names the element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitParseError {
    /// An element is not `CHANNEL=capacity/period`.
    #[error("`{element}`: expected CHANNEL=capacity/period, e.g. SMS=5/60s")]
    Malformed {
        /// The offending element, as written.
        element: String,
    },
    /// The channel name is not one of the channels.
    #[error("`{element}`: unknown channel (expected one of PUSH, EMAIL, SMS, KAKAO_ALIMTALK, SLACK, IN_APP)")]
    UnknownChannel {
        /// The offending element, as written.
        element: String,
    },
    /// The same channel appears twice.
    #[error("`{element}`: channel is listed more than once")]
    DuplicateChannel {
        /// The second element for the channel, as written.
        element: String,
    },
    /// The policy after `=` is invalid.
    #[error("`{element}`: {source}")]
    BadPolicy {
        /// The offending element, as written.
        element: String,
        /// What was wrong with the policy.
        source: BucketPolicyError,
    },
}

/// One bucket policy per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits([BucketPolicy; 6]);

impl RateLimits {
    /// Parses `SMS=5/60s,EMAIL=10/1m`: listed channels override the defaults, the rest keep them.
    ///
    /// Channel names are matched ignoring ASCII case; spaces around elements are ignored; a blank
    /// string means the defaults. Empty elements (`SMS=5/60s,,`) and repeated channels are errors.
    pub fn parse(s: &str) -> Result<Self, RateLimitParseError> {
        let mut limits = Self::default();
        if s.trim().is_empty() {
            return Ok(limits);
        }
        let mut seen = ChannelSet::EMPTY;
        for raw in s.split(',') {
            let element = raw.trim();
            let malformed = || RateLimitParseError::Malformed { element: element.to_owned() };
            let (name, policy) = element.split_once('=').ok_or_else(malformed)?;
            let channel: Channel = name
                .trim()
                .to_ascii_uppercase()
                .parse()
                .map_err(|_| RateLimitParseError::UnknownChannel { element: element.to_owned() })?;
            if seen.contains(channel) {
                return Err(RateLimitParseError::DuplicateChannel { element: element.to_owned() });
            }
            seen.insert(channel);
            limits.0[channel.index()] = BucketPolicy::parse(policy)
                .map_err(|source| RateLimitParseError::BadPolicy { element: element.to_owned(), source })?;
        }
        Ok(limits)
    }

    /// The policy for a channel.
    pub fn policy(&self, channel: Channel) -> BucketPolicy {
        self.0[channel.index()]
    }

    /// Replaces the policy for a channel.
    pub fn set(&mut self, channel: Channel, policy: BucketPolicy) {
        self.0[channel.index()] = policy;
    }

    /// Every channel with its policy, in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (Channel, BucketPolicy)> + '_ {
        Channel::CANONICAL.into_iter().map(|c| (c, self.policy(c)))
    }
}

impl Default for RateLimits {
    /// SPEC §5.1: PUSH 30/60s, EMAIL 30/60s, SMS 5/60s, KAKAO_ALIMTALK 5/60s, SLACK 60/60s, IN_APP 120/60s.
    fn default() -> Self {
        let per_minute = |capacity| BucketPolicy { capacity, period_ms: 60_000 };
        let mut policies = [per_minute(1); 6];
        for (channel, capacity) in [
            (Channel::Push, 30),
            (Channel::Email, 30),
            (Channel::Sms, 5),
            (Channel::KakaoAlimtalk, 5),
            (Channel::Slack, 60),
            (Channel::InApp, 120),
        ] {
            policies[channel.index()] = per_minute(capacity);
        }
        Self(policies)
    }
}

impl fmt::Display for RateLimits {
    /// `PUSH=30/60s,EMAIL=30/60s,…`, which [`RateLimits::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (channel, policy)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{channel}={policy}")?;
        }
        Ok(())
    }
}

/// Bucket level in scaled units: one token = period_ms units; refill adds `capacity` units per
/// elapsed ms; full = capacity * period_ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketState {
    /// Current level in scaled units.
    pub level: u64,
    /// When the level was last brought up to date (ms since the Unix epoch).
    pub updated_at_ms: i64,
}

impl BucketState {
    /// A full bucket as of `now_ms`.
    pub fn full(policy: &BucketPolicy, now_ms: i64) -> Self {
        Self { level: policy.full_level(), updated_at_ms: now_ms }
    }

    /// The bucket refilled up to `now_ms`.
    ///
    /// A clock going backwards refills nothing and keeps the later `updated_at_ms`, so the skewed
    /// interval is not refilled twice once the clock catches up. A level above the policy's full
    /// level (stored under an older, larger policy) is cut down to full.
    pub fn refilled(&self, policy: &BucketPolicy, now_ms: i64) -> Self {
        let full = policy.full_level();
        let level = self.level.min(full);
        if now_ms <= self.updated_at_ms {
            return Self { level, updated_at_ms: self.updated_at_ms };
        }
        let elapsed = now_ms.abs_diff(self.updated_at_ms).min(policy.period_ms);
        let added = (elapsed * u64::from(policy.capacity)).min(full - level);
        Self { level: level + added, updated_at_ms: now_ms }
    }

    /// Whole tokens in the bucket (not refilled).
    pub fn tokens(&self, policy: &BucketPolicy) -> u32 {
        // The level is at most full = capacity * period_ms, so the quotient fits in u32.
        u32::try_from(self.level.min(policy.full_level()) / policy.period_ms).unwrap_or(u32::MAX)
    }

    /// Milliseconds until the bucket holds one whole token (0 if it does).
    pub fn ms_until_token(&self, policy: &BucketPolicy) -> u64 {
        policy.period_ms.saturating_sub(self.level).div_ceil(u64::from(policy.capacity))
    }

    /// Milliseconds until the bucket is full (0 if it is).
    pub fn ms_until_full(&self, policy: &BucketPolicy) -> u64 {
        policy.full_level().saturating_sub(self.level).div_ceil(u64::from(policy.capacity))
    }
}

/// The outcome of [`take_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketDecision {
    /// Every bucket gave one token.
    Allowed {
        /// The new state of each bucket, in input order; store these.
        states: Vec<BucketState>,
        /// Whole tokens left in each bucket.
        remaining: Vec<u32>,
        /// Milliseconds until each bucket is full again.
        reset_after_ms: Vec<u64>,
    },
    /// Some bucket had no token; nothing was consumed and nothing needs storing.
    Denied {
        /// Index of the bucket with the longest wait (the first of equals).
        binding: usize,
        /// Milliseconds until that bucket has one token.
        retry_after_ms: u64,
    },
}

/// All-or-nothing: every bucket must hold one token; if any lacks one nothing is consumed.
///
/// `None` is a bucket never used, which is full. An empty list is allowed.
pub fn take_all(buckets: &[(BucketPolicy, Option<BucketState>)], now_ms: i64) -> BucketDecision {
    let refilled: Vec<BucketState> = buckets
        .iter()
        .map(|(policy, state)| {
            state.unwrap_or_else(|| BucketState::full(policy, now_ms)).refilled(policy, now_ms)
        })
        .collect();

    let mut binding: Option<(usize, u64)> = None;
    for (i, ((policy, _), state)) in buckets.iter().zip(&refilled).enumerate() {
        let wait = state.ms_until_token(policy);
        if wait > 0 && binding.is_none_or(|(_, longest)| wait > longest) {
            binding = Some((i, wait));
        }
    }
    if let Some((binding, retry_after_ms)) = binding {
        return BucketDecision::Denied { binding, retry_after_ms };
    }

    let states: Vec<BucketState> = buckets
        .iter()
        .zip(refilled)
        .map(|((policy, _), state)| BucketState { level: state.level - policy.period_ms, ..state })
        .collect();
    let remaining = buckets.iter().zip(&states).map(|((policy, _), s)| s.tokens(policy)).collect();
    let reset_after_ms =
        buckets.iter().zip(&states).map(|((policy, _), s)| s.ms_until_full(policy)).collect();
    BucketDecision::Allowed { states, remaining, reset_after_ms }
}

/// Whole seconds for a `Retry-After` header: rounded up, and at least 1.
pub fn retry_after_seconds(ms: u64) -> u64 {
    ms.div_ceil(1_000).max(1)
}

#[cfg(test)]
mod tests;
