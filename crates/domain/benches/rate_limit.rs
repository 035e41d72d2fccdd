//! Token-bucket benchmarks (SPEC §5.1): one all-or-nothing decision over the buckets of a send,
//! as the in-process limiter takes it (the Redis Lua script mirrors the same arithmetic).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hub_domain::rate_limit::take_all;
use hub_domain::{BucketDecision, BucketPolicy, BucketState, Channel, RateLimits};

/// An instant in ms since the Unix epoch.
const NOW_MS: i64 = 1_781_000_000_000;

/// Every channel's default policy with a bucket last used 1.5 s ago, a few tokens down.
fn buckets(channels: &[Channel]) -> Vec<(BucketPolicy, Option<BucketState>)> {
    let limits = RateLimits::default();
    channels
        .iter()
        .map(|&channel| {
            let policy = limits.policy(channel);
            let three_used = policy.full_level() - 3 * policy.period_ms();
            (policy, Some(BucketState { level: three_used, updated_at_ms: NOW_MS - 1_500 }))
        })
        .collect()
}

fn bench_take_all(c: &mut Criterion) {
    let one = buckets(&[Channel::Email]);
    let six = buckets(&Channel::CANONICAL);
    // SMS (third) empty since this instant: the whole request is denied.
    let mut six_denied = six.clone();
    six_denied[2].1 = Some(BucketState { level: 0, updated_at_ms: NOW_MS });

    for (name, buckets, allowed) in
        [("one", &one, true), ("six", &six, true), ("six denied", &six_denied, false)]
    {
        let decision = take_all(buckets, NOW_MS);
        assert_eq!(matches!(decision, BucketDecision::Allowed { .. }), allowed, "{name}: {decision:?}");
    }

    let mut group = c.benchmark_group("rate_limit");
    group.bench_function("take_all_1_channel_allowed", |b| {
        b.iter(|| take_all(black_box(&one), black_box(NOW_MS)))
    });
    group.bench_function("take_all_6_channels_allowed", |b| {
        b.iter(|| take_all(black_box(&six), black_box(NOW_MS)))
    });
    group.bench_function("take_all_6_channels_denied", |b| {
        b.iter(|| take_all(black_box(&six_denied), black_box(NOW_MS)));
    });
    group.finish();
}

criterion_group!(benches, bench_take_all);
criterion_main!(benches);
