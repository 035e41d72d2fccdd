//! The Redis adapters against a real Redis (≥ 7) at `NH_TEST_REDIS_URL`: the shared idempotency
//! and rate limiter contract suites, outages (unreachable or silent server → `Unavailable` in
//! bounded time; the same adapter value works again once Redis is back), and the rate limit
//! script answering exactly like the domain's token bucket on a long random sequence.
//!
//! Every test uses its own random key prefix, so tests run in parallel against one server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use hub_adapter_out::memory::MemoryRateLimiter;
use hub_adapter_out::redis::{RedisConnection, RedisIdempotencyStore, RedisRateLimiter, RedisSettings};
use hub_application::PortError;
use hub_application::ports::{HealthProbe, IdempotencyStore, RateDecision, RateLimiter, Reservation};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::rate_limit::{BucketDecision, BucketPolicy, BucketState, take_all};
use hub_domain::{Channel, RecipientId};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const SERVICES: &str = "run `make test` (scripts/test-services.sh starts the services)";

fn redis_url() -> String {
    std::env::var("NH_TEST_REDIS_URL").unwrap_or_else(|_| panic!("NH_TEST_REDIS_URL is not set: {SERVICES}"))
}

async fn connection_to(url: &str) -> RedisConnection {
    RedisConnection::connect(url, RedisSettings::default())
        .await
        .unwrap_or_else(|e| panic!("cannot reach Redis at {url} ({e:#}): {SERVICES}"))
}

async fn connection() -> RedisConnection {
    connection_to(&redis_url()).await
}

/// A key prefix no other test uses.
fn fresh_prefix() -> String {
    format!("nh-test:{}:", ulid::Ulid::new())
}

mod idempotency {
    hub_application::idempotency_contract_tests!(async {
        std::sync::Arc::new(hub_adapter_out::redis::RedisIdempotencyStore::new(
            super::connection().await,
            super::fresh_prefix(),
        ))
    });
}

mod rate_limiter {
    hub_application::rate_limiter_contract_tests!(async {
        std::sync::Arc::new(hub_adapter_out::redis::RedisRateLimiter::new(
            super::connection().await,
            super::fresh_prefix(),
        ))
    });
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_768_446_000, 0).expect("a valid instant")
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).expect("valid key")
}

fn fingerprint(n: u8) -> Fingerprint {
    Fingerprint::from_hex(&format!("{n:064x}")).expect("64 hex digits")
}

fn recipient(s: &str) -> RecipientId {
    RecipientId::parse(s).expect("valid recipient id")
}

fn policy(capacity: u32, period_ms: u64) -> BucketPolicy {
    BucketPolicy::new(capacity, Duration::from_millis(period_ms)).expect("valid policy")
}

const TTL: Duration = Duration::from_secs(30);

/// Both adapters on `conn`, one call each; every call must fail with `Unavailable` within
/// `limit`.
async fn assert_both_unavailable_within(conn: &RedisConnection, limit: Duration) {
    let store = RedisIdempotencyStore::new(conn.clone(), fresh_prefix());
    let limiter = RedisRateLimiter::new(conn.clone(), fresh_prefix());
    let started = Instant::now();
    let reserved = store.reserve("shop", &key("k"), &fingerprint(1), t0(), TTL).await;
    assert!(matches!(reserved, Err(PortError::Unavailable(_))), "reserve: {reserved:?}");
    assert!(started.elapsed() < limit, "reserve took {:?}", started.elapsed());

    let started = Instant::now();
    let acquired = limiter.acquire(&recipient("alice"), &[(Channel::Email, policy(5, 60_000))], t0()).await;
    assert!(matches!(acquired, Err(PortError::Unavailable(_))), "acquire: {acquired:?}");
    assert!(started.elapsed() < limit, "acquire took {:?}", started.elapsed());

    let started = Instant::now();
    let health = conn.check().await;
    assert!(matches!(health, Err(PortError::Unavailable(_))), "health: {health:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "the health check took {:?}",
        started.elapsed()
    );
}

/// A local port that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable_within_three_seconds_for_both_adapters() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let connected = RedisConnection::connect(&url, RedisSettings::default()).await;
    assert!(matches!(connected, Err(PortError::Unavailable(_))), "connect: {connected:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "connect took {:?}", started.elapsed());

    let conn = RedisConnection::connect_lazy(&url, RedisSettings::default()).expect("a valid URL");
    assert_both_unavailable_within(&conn, Duration::from_secs(3)).await;
    // Still bounded on a second round, once the manager has given up reconnecting.
    assert_both_unavailable_within(&conn, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn a_server_that_accepts_but_never_answers_is_unavailable_within_three_seconds() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("redis://{}", listener.local_addr().expect("address"));
    // Accepts every connection and holds it open without reading or writing.
    let silent: JoinHandle<()> = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let conn = RedisConnection::connect_lazy(&url, RedisSettings::default()).expect("a valid URL");
    assert_both_unavailable_within(&conn, Duration::from_secs(3)).await;
    silent.abort();
}

#[tokio::test]
async fn a_malformed_url_is_a_configuration_error_not_an_outage() {
    let result = RedisConnection::connect_lazy("not a url", RedisSettings::default());
    assert!(matches!(result, Err(PortError::Unexpected(_))), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_reserves_of_one_key_give_exactly_one_reservation() {
    let store = Arc::new(RedisIdempotencyStore::new(connection().await, fresh_prefix()));
    let tasks: Vec<_> = (0..40u8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve("shop", &key("same"), &fingerprint(i), t0(), TTL).await })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        match task.await.expect("task").expect("reserve") {
            Reservation::Reserved { .. } => reserved += 1,
            Reservation::InFlight { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reserved, 1);
}

/// A TCP proxy in front of the test Redis that can drop every connection and refuse new ones,
/// like a Redis restart, without disturbing the other tests on the same server.
struct Proxy {
    url: String,
    up: Arc<Mutex<bool>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(redis_url: &str) -> Self {
        let (scheme, rest) = redis_url.split_once("://").expect("NH_TEST_REDIS_URL is a URL");
        let end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (user_info, upstream) = match authority.rsplit_once('@') {
            Some((user, host)) => (format!("{user}@"), host.to_owned()),
            None => (String::new(), authority.to_owned()),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("{scheme}://{user_info}{}{path}", listener.local_addr().expect("address"));
        let up = Arc::new(Mutex::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, links) = (up.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !*up.lock().expect("lock") {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    links.lock().expect("lock").push(tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    }));
                }
            }
        });
        Self { url, up, links, accept }
    }

    /// Drops every open connection and refuses new ones until [`Proxy::restore`].
    fn cut(&self) {
        *self.up.lock().expect("lock") = false;
        for link in self.links.lock().expect("lock").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        *self.up.lock().expect("lock") = true;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[tokio::test]
async fn the_same_adapter_values_work_again_after_redis_comes_back() {
    let proxy = Proxy::start(&redis_url()).await;
    let conn = connection_to(&proxy.url).await;
    let store = RedisIdempotencyStore::new(conn.clone(), fresh_prefix());
    let limiter = RedisRateLimiter::new(conn.clone(), fresh_prefix());
    let email = [(Channel::Email, policy(3, 60_000))];
    let alice = recipient("alice");

    let token = store.reserve("shop", &key("k1"), &fingerprint(1), t0(), TTL).await.expect("reserve").token();
    assert!(token.is_some(), "a free key");
    limiter.acquire(&alice, &email, t0()).await.expect("acquire");

    proxy.cut();
    assert_both_unavailable_within(&conn, Duration::from_secs(3)).await;

    proxy.restore();
    // The first call after the outage may still see the dropped connection; within a few
    // seconds the manager has reconnected by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    while conn.check().await.is_err() {
        assert!(Instant::now() < deadline, "no reconnection within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = store.reserve("shop", &key("k1"), &fingerprint(2), t0(), TTL).await.expect("reserve");
    assert_eq!(again, Reservation::InFlight { fingerprint: fingerprint(1) }, "the entry outlived the outage");
    let decision = limiter.acquire(&alice, &email, t0()).await.expect("acquire");
    assert!(matches!(decision, RateDecision::Allowed { remaining: 1, .. }), "{decision:?}");
    store.release("shop", &key("k1"), token.expect("reserved")).await.expect("release");
    store
        .reserve("shop", &key("k1"), &fingerprint(2), t0(), TTL)
        .await
        .expect("reserve")
        .token()
        .expect("free");
}

/// The domain's token bucket with nothing evicted: the reference both limiters must match.
#[derive(Default)]
struct Reference {
    buckets: HashMap<(String, Channel), BucketState>,
}

impl Reference {
    fn acquire(
        &mut self,
        recipient: &RecipientId,
        channels: &[(Channel, BucketPolicy)],
        now: DateTime<Utc>,
    ) -> RateDecision {
        let slot = |c: Channel| (recipient.as_str().to_owned(), c);
        let input: Vec<_> =
            channels.iter().map(|(c, p)| (*p, self.buckets.get(&slot(*c)).copied())).collect();
        match take_all(&input, now.timestamp_millis()) {
            BucketDecision::Denied { binding, retry_after_ms } => RateDecision::Denied {
                channel: channels[binding].0,
                policy: channels[binding].1,
                retry_after: Duration::from_millis(retry_after_ms),
            },
            BucketDecision::Allowed { states, remaining, reset_after_ms } => {
                for ((channel, _), state) in channels.iter().zip(states) {
                    self.buckets.insert(slot(*channel), state);
                }
                let i = (0..channels.len()).min_by_key(|&i| remaining[i]).expect("channels");
                RateDecision::Allowed {
                    remaining: remaining[i],
                    channel: channels[i].0,
                    policy: channels[i].1,
                    reset_after: Duration::from_millis(reset_after_ms[i]),
                }
            }
        }
    }
}

/// Two candidate policies per channel. With `vary`, a bucket sometimes changes policy between
/// requests (and is cut down to a smaller full level), as after a configuration change.
fn pick_policy(channel: Channel, vary: bool, rng: &mut StdRng) -> BucketPolicy {
    let candidates = match channel {
        Channel::Push => [policy(1, 1_000), policy(2, 1_000)],
        Channel::Email => [policy(3, 2_000), policy(5, 4_000)],
        Channel::Sms => [policy(2, 3_000), policy(1, 5_000)],
        Channel::KakaoAlimtalk => [policy(4, 1_500), policy(7, 700)],
        Channel::Slack => [policy(5, 10_000), policy(2, 10_000)],
        Channel::InApp => [policy(7, 700), policy(13, 997)],
    };
    candidates[if vary { rng.random_range(0..2) } else { 0 }]
}

/// Feeds one seeded random sequence of requests (recipient, channels in random order, a clock
/// going forward and, with `vary`, sometimes stepping back and policies changing) to the
/// reference, to Redis and, with `memory`, to the in-process limiter, and asserts identical
/// decisions at every step.
async fn compare(redis: &RedisRateLimiter, seed: u64, vary: bool, memory: Option<&MemoryRateLimiter>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut reference = Reference::default();
    // Recipients of their own per run keep the runs independent on the one prefix.
    let recipients: Vec<RecipientId> = (0..3).map(|i| recipient(&format!("r{seed}-{vary}-{i}"))).collect();
    let mut now = t0();
    let (mut allowed, mut denied) = (0, 0);
    for step in 0..300 {
        let jump = match vary {
            true if rng.random_bool(0.1) => -rng.random_range(0..800),
            true => rng.random_range(0..1_500),
            false => rng.random_range(0..400),
        };
        now += TimeDelta::milliseconds(jump);
        let who = &recipients[rng.random_range(0..recipients.len())];
        let mut channels: Vec<Channel> =
            Channel::CANONICAL.into_iter().filter(|_| rng.random_bool(0.4)).collect();
        if channels.is_empty() {
            channels.push(Channel::CANONICAL[rng.random_range(0..Channel::CANONICAL.len())]);
        }
        channels.shuffle(&mut rng);
        let request: Vec<(Channel, BucketPolicy)> =
            channels.iter().map(|c| (*c, pick_policy(*c, vary, &mut rng))).collect();

        let expected = reference.acquire(who, &request, now);
        let context = format!("seed {seed}, vary {vary}, step {step}, {who} {request:?} at {now}");
        if let Some(memory) = memory {
            let in_process = memory.acquire(who, &request, now).await.expect("memory");
            assert_eq!(in_process, expected, "in-process limiter, {context}");
        }
        let scripted = redis.acquire(who, &request, now).await.expect("redis");
        assert_eq!(scripted, expected, "Redis script, {context}");
        match expected {
            RateDecision::Allowed { .. } => allowed += 1,
            RateDecision::Denied { .. } => denied += 1,
        }
    }
    assert!(
        allowed > 30 && denied > 30,
        "seed {seed}: {allowed} allowed, {denied} denied; tune the sequence"
    );
}

#[tokio::test]
async fn the_script_decides_exactly_like_the_domain_bucket_and_the_in_process_limiter() {
    let redis = RedisRateLimiter::new(connection().await, fresh_prefix());
    for seed in [1_u64, 7, 2026] {
        compare(&redis, seed, false, Some(&MemoryRateLimiter::new())).await;
    }
}

/// The in-process limiter is left out here: it forgets a bucket once the bucket is full under
/// the policy it was written with at the latest `now` seen, so a clock stepping back (or a
/// policy change, which its fixed configuration rules out) finds a full bucket where the
/// domain still has a partly refilled one.
#[tokio::test]
async fn the_script_follows_the_domain_bucket_across_clock_steps_back_and_policy_changes() {
    let redis = RedisRateLimiter::new(connection().await, fresh_prefix());
    for seed in [3_u64, 11, 4242] {
        compare(&redis, seed, true, None).await;
    }
}
