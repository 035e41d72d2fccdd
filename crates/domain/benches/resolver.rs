//! ChannelResolver benchmarks (SPEC §3): the per-request decision of which channels a send goes
//! to, on the accept path of every `POST /api/v1/notifications`.
//!
//! Seoul is UTC+9 all year: 14:00 Seoul is outside quiet hours and the Kakao night window,
//! 21:00 is inside the Kakao night only, 23:00 is inside both.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use hub_domain::recipient::parse_contacts;
use hub_domain::resolver::resolve;
use hub_domain::{
    Channel, Device, DeviceId, DeviceToken, Kind, Locale, Outcome, Platform, Preferences, Reason, Recipient,
    RecipientId, ResolveRequest, ResolverPolicy, Timezone,
};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("an RFC 3339 instant").to_utc()
}

/// A Seoul recipient with the given `(channel, address)` contacts and one active iOS device.
fn recipient(contacts: &[(Channel, Option<&str>)]) -> Recipient {
    Recipient {
        id: RecipientId::parse("user-42").expect("a valid id"),
        contacts: parse_contacts(contacts.iter().copied()).expect("valid contacts"),
        locale: Locale::parse("ko-kr").expect("a valid locale"),
        timezone: Timezone::parse("Asia/Seoul").expect("a valid zone"),
        devices: vec![Device {
            id: DeviceId::from_parts(1_767_225_600_000, 42),
            platform: Platform::Ios,
            token: DeviceToken::parse(&"f".repeat(64)).expect("a valid token"),
            active: true,
            registered_at: utc("2026-01-01T00:00:00Z"),
        }],
    }
}

fn request<'a>(kind: Kind, r: &'a Recipient, p: &'a Preferences, now: &str) -> ResolveRequest<'a> {
    ResolveRequest {
        kind,
        requested: None,
        recipient: r,
        preferences: p,
        now: utc(now),
        send_at: None,
        expires_at: None,
    }
}

/// `(channel, outcome)` of every decision, to check each case decides what its name says.
fn summary(req: &ResolveRequest<'_>, policy: &ResolverPolicy) -> Vec<(Channel, Outcome)> {
    resolve(req, policy).decisions.iter().map(|d| (d.channel, d.outcome)).collect()
}

fn bench_resolver(c: &mut Criterion) {
    let policy = ResolverPolicy::default();
    let preferences = Preferences::default(); // quiet hours 22:00-08:00
    let three = recipient(&[
        (Channel::Push, None),
        (Channel::Email, Some("user@example.com")),
        (Channel::Sms, Some("+821011112222")),
    ]);
    let kakao = recipient(&[
        (Channel::Email, Some("user@example.com")),
        (Channel::KakaoAlimtalk, Some("+821033334444")),
    ]);

    // 14:00 Seoul: PUSH (one device), EMAIL and SMS all SEND.
    let transactional = request(Kind::Transactional, &three, &preferences, "2026-06-10T05:00:00Z");
    let sent = summary(&transactional, &policy);
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|(_, o)| *o == Outcome::Send), "{sent:?}");

    // 23:00 Seoul: every channel DEFER(QUIET_HOURS) to 08:00.
    let marketing = request(Kind::Marketing, &three, &preferences, "2026-06-10T14:00:00Z");
    let deferred = summary(&marketing, &policy);
    assert_eq!(deferred.len(), 3);
    assert!(deferred.iter().all(|(_, o)| o.reason() == Some(Reason::QuietHours)), "{deferred:?}");

    // 21:00 Seoul: Kakao SKIP(KAKAO_NIGHT), SMS fallback to the Kakao number, EMAIL SEND (and PUSH).
    let night = request(Kind::Transactional, &kakao, &preferences, "2026-06-10T12:00:00Z");
    let fallback = summary(&night, &policy);
    assert!(fallback.contains(&(Channel::KakaoAlimtalk, Outcome::Skip(Reason::KakaoNight))), "{fallback:?}");
    assert!(fallback.contains(&(Channel::Sms, Outcome::Send)), "{fallback:?}");

    let mut group = c.benchmark_group("resolver");
    group.bench_function("transactional_3_channels_send", |b| {
        b.iter(|| resolve(black_box(&transactional), black_box(&policy)));
    });
    group.bench_function("marketing_quiet_hours_defer", |b| {
        b.iter(|| resolve(black_box(&marketing), black_box(&policy)));
    });
    group.bench_function("transactional_kakao_night_sms_fallback", |b| {
        b.iter(|| resolve(black_box(&night), black_box(&policy)));
    });
    group.finish();
}

criterion_group!(benches, bench_resolver);
criterion_main!(benches);
