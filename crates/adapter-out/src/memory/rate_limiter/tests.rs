use std::sync::Arc;

use chrono::{TimeDelta, TimeZone};
use hub_application::fakes::InMemoryRateLimiter;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 3, 0, 0).single().expect("valid instant")
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    t0() + TimeDelta::milliseconds(ms)
}

fn who(s: &str) -> RecipientId {
    RecipientId::parse(s).expect("valid recipient id")
}

fn policy(capacity: u32, period_secs: u64) -> BucketPolicy {
    BucketPolicy::new(capacity, Duration::from_secs(period_secs)).expect("valid policy")
}

fn sms5() -> [(Channel, BucketPolicy); 1] {
    [(Channel::Sms, policy(5, 60))]
}

async fn allowed(
    limiter: &MemoryRateLimiter,
    r: &str,
    channels: &[(Channel, BucketPolicy)],
    ms: i64,
) -> bool {
    matches!(
        limiter.acquire(&who(r), channels, at_ms(ms)).await.expect("acquire"),
        RateDecision::Allowed { .. }
    )
}

#[tokio::test]
async fn a_bucket_allows_its_capacity_then_denies_until_one_token_refills() {
    let limiter = MemoryRateLimiter::new();
    for left in (0..5).rev() {
        let decision = limiter.acquire(&who("alice"), &sms5(), t0()).await.unwrap();
        let RateDecision::Allowed { remaining, channel, .. } = decision else { panic!("{decision:?}") };
        assert_eq!((remaining, channel), (left, Channel::Sms));
    }
    assert_eq!(
        limiter.acquire(&who("alice"), &sms5(), t0()).await.unwrap(),
        RateDecision::Denied {
            channel: Channel::Sms,
            policy: policy(5, 60),
            retry_after: Duration::from_secs(12)
        }
    );
    assert!(!allowed(&limiter, "alice", &sms5(), 11_999).await);
    assert!(allowed(&limiter, "alice", &sms5(), 12_000).await);
}

#[tokio::test]
async fn the_first_request_reports_the_time_until_the_bucket_is_full_again() {
    let limiter = MemoryRateLimiter::new();
    assert_eq!(
        limiter.acquire(&who("alice"), &sms5(), t0()).await.unwrap(),
        RateDecision::Allowed {
            remaining: 4,
            channel: Channel::Sms,
            policy: policy(5, 60),
            reset_after: Duration::from_secs(12)
        }
    );
}

#[tokio::test]
async fn a_denied_request_takes_no_token_from_any_channel() {
    let limiter = MemoryRateLimiter::new();
    let both = [(Channel::Email, policy(3, 60)), (Channel::Sms, policy(1, 60))];
    assert!(allowed(&limiter, "alice", &both, 0).await);
    let decision = limiter.acquire(&who("alice"), &both, at_ms(1)).await.unwrap();
    assert!(matches!(decision, RateDecision::Denied { channel: Channel::Sms, .. }), "{decision:?}");
    // EMAIL still holds the two tokens the denied request did not take.
    let email = [(Channel::Email, policy(3, 60))];
    assert!(allowed(&limiter, "alice", &email, 2).await);
    assert!(allowed(&limiter, "alice", &email, 2).await);
    assert!(!allowed(&limiter, "alice", &email, 2).await);
}

#[tokio::test]
async fn the_tightest_bucket_is_reported_on_success_and_the_longest_wait_on_denial() {
    let limiter = MemoryRateLimiter::new();
    let channels = [(Channel::Email, policy(30, 60)), (Channel::Sms, policy(2, 60))];
    let decision = limiter.acquire(&who("alice"), &channels, t0()).await.unwrap();
    assert!(
        matches!(decision, RateDecision::Allowed { remaining: 1, channel: Channel::Sms, .. }),
        "{decision:?}"
    );
    limiter.acquire(&who("alice"), &channels, t0()).await.unwrap();
    assert_eq!(
        limiter.acquire(&who("alice"), &channels, t0()).await.unwrap(),
        RateDecision::Denied {
            channel: Channel::Sms,
            policy: policy(2, 60),
            retry_after: Duration::from_secs(30)
        }
    );
}

#[tokio::test]
async fn recipients_have_separate_buckets() {
    let limiter = MemoryRateLimiter::new();
    let one = [(Channel::Sms, policy(1, 60))];
    assert!(allowed(&limiter, "alice", &one, 0).await);
    assert!(!allowed(&limiter, "alice", &one, 0).await);
    assert!(allowed(&limiter, "bob", &one, 0).await);
}

#[tokio::test]
async fn an_empty_channel_list_is_an_error_not_a_panic() {
    let limiter = MemoryRateLimiter::new();
    assert!(matches!(limiter.acquire(&who("alice"), &[], t0()).await, Err(PortError::Unexpected(_))));
}

#[tokio::test]
async fn a_recipient_whose_buckets_are_full_again_is_forgotten() {
    let limiter = MemoryRateLimiter::new();
    assert!(allowed(&limiter, "alice", &sms5(), 0).await);
    assert_eq!(limiter.len(), 1);
    assert_eq!(limiter.purge_refilled(at_ms(11_999)), 0);
    assert_eq!(limiter.purge_refilled(at_ms(12_000)), 1);
    assert!(limiter.is_empty());
    // Forgotten is the same as full: the next request sees a full bucket.
    let decision = limiter.acquire(&who("alice"), &sms5(), at_ms(12_000)).await.unwrap();
    assert!(matches!(decision, RateDecision::Allowed { remaining: 4, .. }), "{decision:?}");
}

#[tokio::test]
async fn a_recipient_stays_while_any_of_its_buckets_is_still_refilling() {
    let limiter = MemoryRateLimiter::new();
    assert!(allowed(&limiter, "alice", &[(Channel::Sms, policy(1, 60))], 0).await);
    let email = [(Channel::Email, policy(1, 10))];
    assert!(allowed(&limiter, "alice", &email, 55_000).await);
    // SMS is full at 60 s, EMAIL only at 65 s.
    assert_eq!(limiter.purge_refilled(at_ms(61_000)), 0);
    assert!(!allowed(&limiter, "alice", &email, 61_000).await);
    assert_eq!(limiter.purge_refilled(at_ms(65_000)), 1);
}

#[tokio::test]
async fn later_requests_evict_refilled_recipients_a_bounded_batch_at_a_time() {
    let limiter = MemoryRateLimiter::with_shards(1);
    for i in 0..100 {
        assert!(allowed(&limiter, &format!("r{i}"), &sms5(), 0).await);
    }
    assert_eq!(limiter.len(), 100);
    assert!(allowed(&limiter, "late0", &sms5(), 13_000).await);
    assert_eq!(limiter.len(), 100 - 32 + 1);
    for i in 1..4 {
        assert!(allowed(&limiter, &format!("late{i}"), &sms5(), 13_000).await);
    }
    assert_eq!(limiter.len(), 4);
}

#[tokio::test]
async fn memory_follows_the_active_recipients_not_every_recipient_ever_seen() {
    // 10 000 recipients, one request every 10 ms, each bucket full 12 s later: ~1 200 active.
    let limiter = MemoryRateLimiter::new();
    for i in 0..10_000i64 {
        assert!(allowed(&limiter, &format!("r{i}"), &sms5(), i * 10).await);
    }
    let held = limiter.len();
    assert!((1_200..1_400).contains(&held), "{held} recipients held");
}

#[tokio::test]
async fn denied_requests_do_not_grow_memory() {
    let limiter = MemoryRateLimiter::new();
    let one = [(Channel::Sms, policy(1, 60))];
    assert!(allowed(&limiter, "alice", &one, 0).await);
    for ms in 1..1_000 {
        assert!(!allowed(&limiter, "alice", &one, ms).await);
    }
    assert_eq!(limiter.len(), 1);
    assert_eq!(limiter.purge_refilled(at_ms(60_000)), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_for_one_recipient_never_take_more_than_the_capacity() {
    let limiter = Arc::new(MemoryRateLimiter::new());
    let start = Arc::new(tokio::sync::Barrier::new(40));
    let both = [(Channel::Sms, policy(5, 60)), (Channel::Email, policy(30, 60))];
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (limiter, start) = (limiter.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                matches!(limiter.acquire(&who("alice"), &both, t0()).await, Ok(RateDecision::Allowed { .. }))
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        granted += usize::from(task.await.expect("task"));
    }
    assert_eq!(granted, 5);
    // EMAIL gave exactly five of its 30 tokens: all-or-nothing held under contention.
    let decision = limiter.acquire(&who("alice"), &[(Channel::Email, policy(30, 60))], t0()).await.unwrap();
    assert!(matches!(decision, RateDecision::Allowed { remaining: 24, .. }), "{decision:?}");
}

#[tokio::test]
async fn answers_exactly_like_the_reference_fake_on_a_mixed_workload() {
    let limiter = MemoryRateLimiter::with_shards(4);
    let reference = InMemoryRateLimiter::new();
    let policies = [policy(3, 10), policy(5, 60), policy(1, 2)];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut now_ms = 0i64;
    for _ in 0..5_000 {
        now_ms += i64::try_from(next(700)).expect("small");
        let recipient = who(&format!("r{}", next(5)));
        let channels: Vec<(Channel, BucketPolicy)> = Channel::CANONICAL
            .into_iter()
            .filter(|_| next(2) == 0)
            .map(|c| (c, policies[c.index() % policies.len()]))
            .collect();
        if channels.is_empty() {
            continue;
        }
        let ours = limiter.acquire(&recipient, &channels, at_ms(now_ms)).await.expect("ours");
        let theirs = reference.acquire(&recipient, &channels, at_ms(now_ms)).await.expect("reference");
        assert_eq!(ours, theirs, "at {now_ms} ms for {recipient} on {channels:?}");
    }
}
