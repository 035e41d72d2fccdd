//! Tests of the ChannelResolver: one group per rule, their order, their interplay, and properties.
//!
//! Decisions are compared as one line each: `CHANNEL OUTCOME -> target (for FALLBACK)`, with
//! DEFER instants in UTC. Seoul is UTC+9 all year: 14:00 Seoul = 05:00Z, 21:00 = 12:00Z,
//! 23:00 = 14:00Z and 08:00 the next morning = 23:00Z.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDateTime, TimeDelta, TimeZone};
use proptest::prelude::*;

use super::*;
use crate::ids::DeviceId;
use crate::preferences::KindPreference;
use crate::recipient::{Contact, Device, DeviceToken, Locale, Platform, RecipientId, Timezone};

use Channel::{Email, InApp, KakaoAlimtalk as Kakao, Push, Slack, Sms};

const SEOUL: Tz = chrono_tz::Asia::Seoul;
const EMAIL: &str = "user@example.com";
const SMS_NUMBER: &str = "+821011112222";
const KAKAO_NUMBER: &str = "+821033334444";
const SLACK_HOOK: &str = "https://hooks.slack.com/services/T/B/X";

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The instant showing `wall` (`YYYY-MM-DD HH:MM`) in `tz`.
fn wall(tz: Tz, wall: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&naive).single().unwrap().with_timezone(&Utc)
}

fn seoul(w: &str) -> DateTime<Utc> {
    wall(SEOUL, w)
}

/// 14:00 in Seoul: outside quiet hours and the Kakao night window.
fn afternoon() -> DateTime<Utc> {
    seoul("2026-06-10 14:00")
}

/// 21:00 in Seoul: inside the Kakao night window, outside the default quiet hours.
fn kakao_night() -> DateTime<Utc> {
    seoul("2026-06-10 21:00")
}

/// 23:00 in Seoul: inside both.
fn late_night() -> DateTime<Utc> {
    seoul("2026-06-10 23:00")
}

fn only(channels: &[Channel]) -> ChannelSet {
    channels.iter().copied().collect()
}

fn window(s: &str) -> DailyWindow {
    DailyWindow::parse(s).unwrap()
}

fn address_for(channel: Channel) -> Option<&'static str> {
    match channel {
        Email => Some(EMAIL),
        Sms => Some(SMS_NUMBER),
        Kakao => Some(KAKAO_NUMBER),
        Slack => Some(SLACK_HOOK),
        Push | InApp => None,
    }
}

/// A device whose token starts with `device-NN`.
fn device(n: u32, active: bool, registered_at: &str) -> Device {
    Device {
        id: DeviceId::from_parts(u64::from(n), u128::from(n)),
        platform: Platform::Ios,
        token: DeviceToken::parse(&format!("device-{n:02}-{}", "x".repeat(30))).unwrap(),
        active,
        registered_at: utc(registered_at),
    }
}

/// A recipient listing `channels` (with the test addresses) in the given order.
fn recipient(tz: &str, channels: &[Channel], devices: Vec<Device>) -> Recipient {
    Recipient {
        id: RecipientId::parse("user-1").unwrap(),
        contacts: channels.iter().map(|c| Contact::parse(*c, address_for(*c)).unwrap()).collect(),
        locale: Locale::parse("ko-kr").unwrap(),
        timezone: Timezone::parse(tz).unwrap(),
        devices,
    }
}

/// A Seoul recipient on every channel with one active device.
fn everyone() -> Recipient {
    recipient("Asia/Seoul", &Channel::CANONICAL, vec![device(1, true, "2026-01-01T00:00:00Z")])
}

fn quiet(hours: Option<&str>) -> Preferences {
    Preferences::new(BTreeMap::new(), hours.map(window)).unwrap()
}

fn opted_out(kind: Kind) -> Preferences {
    let kinds = BTreeMap::from([(kind, KindPreference { allowed: false, channels: ChannelSet::EMPTY })]);
    Preferences::new(kinds, Some(Preferences::default_quiet_hours())).unwrap()
}

fn allow_list(kind: Kind, channels: &[Channel], hours: Option<&str>) -> Preferences {
    let kinds = BTreeMap::from([(kind, KindPreference { allowed: true, channels: only(channels) })]);
    Preferences::new(kinds, hours.map(window)).unwrap()
}

fn request<'a>(
    kind: Kind,
    recipient: &'a Recipient,
    preferences: &'a Preferences,
    now: DateTime<Utc>,
) -> ResolveRequest<'a> {
    ResolveRequest { kind, requested: None, recipient, preferences, now, send_at: None, expires_at: None }
}

fn line(d: &Decision) -> String {
    let outcome = match d.outcome {
        Outcome::Send => "SEND".to_owned(),
        Outcome::Defer { until, reason } => format!("DEFER {} {reason}", until.format("%Y-%m-%dT%H:%MZ")),
        Outcome::Skip(reason) => format!("SKIP {reason}"),
    };
    let target = match &d.target {
        None => String::new(),
        Some(Target::Device { token, .. }) => format!(" -> {}", &token[..9]),
        Some(t) => format!(" -> {}", t.as_str()),
    };
    let fallback = d.fallback_for.map(|c| format!(" (for {c})")).unwrap_or_default();
    format!("{} {outcome}{target}{fallback}", d.channel)
}

fn lines_with(req: &ResolveRequest<'_>, policy: &ResolverPolicy) -> Vec<String> {
    resolve(req, policy).decisions.iter().map(line).collect()
}

fn lines(req: &ResolveRequest<'_>) -> Vec<String> {
    lines_with(req, &ResolverPolicy::default())
}

/// Every channel of `everyone()` with the same outcome text.
fn all_six(outcome: &str) -> Vec<String> {
    let targets = ["device-01", EMAIL, SMS_NUMBER, KAKAO_NUMBER, SLACK_HOOK, "inbox"];
    Channel::CANONICAL
        .iter()
        .zip(targets)
        .map(|(c, t)| {
            if outcome.starts_with("SKIP") {
                format!("{c} {outcome}")
            } else {
                format!("{c} {outcome} -> {t}")
            }
        })
        .collect()
}

mod candidates_and_rules;
mod kakao_window;
mod properties;
