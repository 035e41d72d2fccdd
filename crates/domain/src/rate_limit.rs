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
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: i64 = 1_700_000_000_000;

    fn policy(s: &str) -> BucketPolicy {
        BucketPolicy::parse(s).unwrap()
    }

    /// Takes one token from a single bucket, returning the new state or the wait.
    fn take(p: BucketPolicy, state: Option<BucketState>, now: i64) -> Result<BucketState, u64> {
        match take_all(&[(p, state)], now) {
            BucketDecision::Allowed { states, .. } => Ok(states[0]),
            BucketDecision::Denied { retry_after_ms, .. } => Err(retry_after_ms),
        }
    }

    #[test]
    fn policies_parse_with_units() {
        assert_eq!(policy("5/60s"), BucketPolicy::new(5, Duration::from_secs(60)).unwrap());
        assert_eq!(policy("30/1m"), BucketPolicy::new(30, Duration::from_secs(60)).unwrap());
        assert_eq!(policy(" 100 / 500ms ").period(), Duration::from_millis(500));
        assert_eq!(policy("1000/1h").period(), Duration::from_secs(3600));
        assert_eq!(policy("5/60s").capacity(), 5);
    }

    #[test]
    fn malformed_policies_are_rejected_with_the_reason() {
        for bad in [
            "", "5", "5/", "/60s", "5/60", "5/60d", "5/s", "-5/60s", "5/-60s", "five/60s", "5/6 0s", "5/1.5s",
        ] {
            assert_eq!(BucketPolicy::parse(bad), Err(BucketPolicyError::Malformed), "{bad:?}");
        }
        assert_eq!(BucketPolicy::parse("0/60s"), Err(BucketPolicyError::ZeroCapacity));
        assert_eq!(BucketPolicy::parse("5/0s"), Err(BucketPolicyError::PeriodTooShort));
        assert_eq!(BucketPolicy::parse("4294967296/1s"), Err(BucketPolicyError::TooLarge));
        assert_eq!(BucketPolicy::parse("4294967295/3h"), Err(BucketPolicyError::TooLarge));
        assert_eq!(BucketPolicy::parse("5/99999999999999999999h"), Err(BucketPolicyError::TooLarge));
        assert_eq!(BucketPolicy::new(1, Duration::from_micros(999)), Err(BucketPolicyError::PeriodTooShort));
    }

    #[test]
    fn capacity_times_period_may_reach_two_to_the_53() {
        let period = Duration::from_millis(MAX_BUCKET_UNITS / 1024);
        assert!(BucketPolicy::new(1024, period).is_ok());
        assert_eq!(
            BucketPolicy::new(1024, period + Duration::from_millis(1)),
            Err(BucketPolicyError::TooLarge)
        );
    }

    #[test]
    fn policies_display_in_a_form_that_parses_back() {
        for text in ["5/60s", "100/1500ms", "1/3600s"] {
            assert_eq!(policy(text).to_string(), text);
        }
        assert_eq!(policy("30/1m").to_string(), "30/60s");
    }

    #[test]
    fn defaults_are_the_spec_limits() {
        let limits = RateLimits::default();
        assert_eq!(
            limits.to_string(),
            "PUSH=30/60s,EMAIL=30/60s,SMS=5/60s,KAKAO_ALIMTALK=5/60s,SLACK=60/60s,IN_APP=120/60s"
        );
        assert_eq!(RateLimits::parse(&limits.to_string()), Ok(limits));
        assert_eq!(RateLimits::parse("  "), Ok(limits));
    }

    #[test]
    fn listed_channels_override_the_defaults_and_the_rest_keep_them() {
        let limits = RateLimits::parse("SMS=10/1m, email=2/1s").unwrap();
        assert_eq!(limits.policy(Channel::Sms), policy("10/60s"));
        assert_eq!(limits.policy(Channel::Email), policy("2/1s"));
        assert_eq!(limits.policy(Channel::Push), policy("30/60s"));
        assert_eq!(limits.policy(Channel::InApp), policy("120/60s"));
    }

    #[test]
    fn rate_limit_errors_name_the_element() {
        assert_eq!(
            RateLimits::parse("SMS=5/60s,FAX=1/1s"),
            Err(RateLimitParseError::UnknownChannel { element: "FAX=1/1s".into() })
        );
        assert_eq!(
            RateLimits::parse("SMS=5/60s, EMAIL=0/1s"),
            Err(RateLimitParseError::BadPolicy {
                element: "EMAIL=0/1s".into(),
                source: BucketPolicyError::ZeroCapacity
            })
        );
        assert_eq!(RateLimits::parse("SMS"), Err(RateLimitParseError::Malformed { element: "SMS".into() }));
        assert_eq!(
            RateLimits::parse("SMS=5/60s,"),
            Err(RateLimitParseError::Malformed { element: "".into() })
        );
        assert_eq!(
            RateLimits::parse("SMS=5/60s,sms=6/60s"),
            Err(RateLimitParseError::DuplicateChannel { element: "sms=6/60s".into() })
        );
        let message = RateLimits::parse("PUSH=5/60x").unwrap_err().to_string();
        assert!(message.contains("PUSH=5/60x"), "{message}");
    }

    #[test]
    fn a_fresh_bucket_allows_exactly_capacity_takes_then_denies() {
        let p = policy("5/60s");
        let mut state = None;
        for _ in 0..5 {
            state = Some(take(p, state, T0).unwrap());
        }
        assert_eq!(state.unwrap().tokens(&p), 0);
        assert_eq!(take(p, state, T0), Err(12_000));
    }

    #[test]
    fn one_token_comes_back_after_period_over_capacity() {
        let p = policy("5/60s");
        let mut state = None;
        for _ in 0..5 {
            state = Some(take(p, state, T0).unwrap());
        }
        assert_eq!(take(p, state, T0 + 11_999), Err(1));
        let after = take(p, state, T0 + 12_000).unwrap();
        assert_eq!(after.tokens(&p), 0);
        assert_eq!(take(p, Some(after), T0 + 12_000), Err(12_000));
    }

    #[test]
    fn an_empty_bucket_is_full_again_after_one_period() {
        let p = policy("5/60s");
        let empty = BucketState { level: 0, updated_at_ms: T0 };
        assert_eq!(empty.refilled(&p, T0 + 60_000), BucketState::full(&p, T0 + 60_000));
        assert_eq!(empty.refilled(&p, T0 + 600_000).level, p.full_level());
        assert_eq!(empty.refilled(&p, T0 + 59_999).tokens(&p), 4);
    }

    #[test]
    fn allowed_reports_remaining_tokens_and_time_until_full() {
        let p = policy("5/60s");
        let half = BucketState { level: 2 * 60_000 + 7, updated_at_ms: T0 };
        match take_all(&[(p, None), (p, Some(half))], T0) {
            BucketDecision::Allowed { states, remaining, reset_after_ms } => {
                assert_eq!(states[0], BucketState { level: 4 * 60_000, updated_at_ms: T0 });
                assert_eq!(states[1], BucketState { level: 60_007, updated_at_ms: T0 });
                assert_eq!(remaining, vec![4, 1]);
                // (5*60000 - 4*60000) / 5 and ceil((300000 - 60007) / 5)
                assert_eq!(reset_after_ms, vec![12_000, 47_999]);
            }
            denied => panic!("expected allowed, got {denied:?}"),
        }
    }

    #[test]
    fn a_denied_request_consumes_nothing_in_any_bucket() {
        let roomy = policy("10/60s");
        let strict = policy("1/60s");
        let used = take(strict, None, T0).unwrap();
        let decision = take_all(&[(roomy, None), (strict, Some(used))], T0 + 1_000);
        assert_eq!(decision, BucketDecision::Denied { binding: 1, retry_after_ms: 59_000 });
        // The roomy bucket still has all ten tokens: nothing was stored for it.
        let mut state = None;
        for _ in 0..10 {
            state = Some(take(roomy, state, T0 + 1_000).unwrap());
        }
        assert!(take(roomy, state, T0 + 1_000).is_err());
    }

    #[test]
    fn the_binding_bucket_is_the_one_with_the_longest_wait() {
        let sms = policy("5/60s"); // 12 s per token
        let push = policy("30/60s"); // 2 s per token
        let empty = |_: &BucketPolicy| Some(BucketState { level: 0, updated_at_ms: T0 });
        let decision = take_all(&[(push, empty(&push)), (sms, empty(&sms)), (push, None)], T0 + 500);
        assert_eq!(decision, BucketDecision::Denied { binding: 1, retry_after_ms: 11_500 });
        // With equal waits the first is binding.
        let decision = take_all(&[(push, None), (sms, empty(&sms)), (sms, empty(&sms))], T0);
        assert_eq!(decision, BucketDecision::Denied { binding: 1, retry_after_ms: 12_000 });
    }

    #[test]
    fn retry_after_rounds_up_to_the_exact_millisecond() {
        // 7 tokens per 1000 ms: one token is 1000 units, 7 units per ms, so 143 ms (not 142.86).
        let p = policy("7/1s");
        let state = BucketState { level: 0, updated_at_ms: T0 };
        assert_eq!(take(p, Some(state), T0), Err(143));
        assert_eq!(take(p, Some(state), T0 + 142), Err(1));
        assert!(take(p, Some(state), T0 + 143).is_ok());
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing_and_is_not_refilled_twice() {
        let p = policy("1/10s");
        let used = take(p, None, T0).unwrap();
        assert_eq!(used.refilled(&p, T0 - 5_000), used);
        assert_eq!(take(p, Some(used), T0 - 5_000), Err(10_000));
        assert_eq!(take(p, None, T0 - 5_000).unwrap().updated_at_ms, T0 - 5_000);
        assert!(take(p, Some(used), T0 + 10_000).is_ok());
    }

    #[test]
    fn a_level_above_a_shrunk_policy_is_cut_to_full() {
        let big = policy("100/60s");
        let small = policy("5/60s");
        let state = BucketState::full(&big, T0);
        assert_eq!(state.refilled(&small, T0).level, small.full_level());
        assert_eq!(state.tokens(&small), 5);
    }

    #[test]
    fn retry_after_seconds_round_up_and_are_at_least_one() {
        assert_eq!(retry_after_seconds(0), 1);
        assert_eq!(retry_after_seconds(1), 1);
        assert_eq!(retry_after_seconds(1_000), 1);
        assert_eq!(retry_after_seconds(1_001), 2);
        assert_eq!(retry_after_seconds(59_000), 59);
    }

    #[test]
    fn no_take_is_allowed_for_no_buckets() {
        assert_eq!(
            take_all(&[], T0),
            BucketDecision::Allowed { states: vec![], remaining: vec![], reset_after_ms: vec![] }
        );
    }

    proptest! {
        #[test]
        fn refilling_in_small_steps_equals_refilling_at_once(
            capacity in 1u32..1_000,
            period_ms in 1u64..100_000,
            start_level_per_mille in 0u64..=1_000,
            steps in prop::collection::vec(0i64..500, 0..200),
        ) {
            let p = BucketPolicy::new(capacity, Duration::from_millis(period_ms)).unwrap();
            let start = BucketState { level: p.full_level() * start_level_per_mille / 1_000, updated_at_ms: T0 };
            let mut stepped = start;
            let mut now = T0;
            for step in &steps {
                now += step;
                stepped = stepped.refilled(&p, now);
            }
            let at_once = start.refilled(&p, now);
            prop_assert_eq!(stepped, at_once);
            let exact = (start.level + u64::from(capacity) * (now - T0) as u64).min(p.full_level());
            prop_assert_eq!(at_once.level, exact);
        }

        #[test]
        fn takes_over_time_never_exceed_the_budget(
            capacity in 1u32..50,
            period_ms in 1u64..10_000,
            gaps in prop::collection::vec(0i64..2_000, 1..300),
        ) {
            // Over any run, allowed takes <= capacity + elapsed * capacity / period.
            let p = BucketPolicy::new(capacity, Duration::from_millis(period_ms)).unwrap();
            let mut state = None;
            let mut now = T0;
            let mut allowed = 0u64;
            for gap in &gaps {
                now += gap;
                match take(p, state, now) {
                    Ok(s) => { state = Some(s); allowed += 1; }
                    Err(wait) => {
                        prop_assert!(wait > 0);
                        // Waiting exactly `wait` is enough, one ms less is not.
                        prop_assert!(take(p, state, now + wait as i64).is_ok());
                        prop_assert!(take(p, state, now + wait as i64 - 1).is_err());
                    }
                }
            }
            let elapsed = (now - T0) as u64;
            prop_assert!(allowed <= u64::from(capacity) + elapsed * u64::from(capacity) / period_ms);
        }
    }
}
