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
    for bad in
        ["", "5", "5/", "/60s", "5/60", "5/60d", "5/s", "-5/60s", "5/-60s", "five/60s", "5/6 0s", "5/1.5s"]
    {
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
    assert_eq!(BucketPolicy::new(1024, period + Duration::from_millis(1)), Err(BucketPolicyError::TooLarge));
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
    assert_eq!(RateLimits::parse("SMS=5/60s,"), Err(RateLimitParseError::Malformed { element: "".into() }));
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
