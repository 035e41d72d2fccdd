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

// ---------------------------------------------------------------------------------------------
// The happy path and candidates
// ---------------------------------------------------------------------------------------------

#[test]
fn every_listed_channel_sends_now_in_the_afternoon() {
    let (r, p) = (everyone(), Preferences::default());
    for kind in Kind::ALL {
        assert_eq!(lines(&request(*kind, &r, &p, afternoon())), all_six("SEND"), "{kind}");
    }
}

#[test]
fn decisions_come_in_canonical_order_whatever_the_contact_order() {
    let mut reversed = Channel::CANONICAL;
    reversed.reverse();
    let r = recipient("Asia/Seoul", &reversed, vec![device(1, true, "2026-01-01T00:00:00Z")]);
    let p = Preferences::default();
    let req = ResolveRequest {
        requested: Some(only(&[InApp, Sms, Push, Slack, Email, Kakao])),
        ..request(Kind::Transactional, &r, &p, afternoon())
    };
    assert_eq!(lines(&req), all_six("SEND"));
}

#[test]
fn requested_channels_the_recipient_lacks_are_candidates_too() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = Preferences::default();
    let req =
        ResolveRequest { requested: Some(ChannelSet::all()), ..request(Kind::Service, &r, &p, afternoon()) };
    assert_eq!(
        lines(&req),
        [
            "PUSH SKIP NO_ACTIVE_DEVICE",
            "EMAIL SEND -> user@example.com",
            "SMS SKIP NO_ADDRESS",
            "KAKAO_ALIMTALK SKIP NO_ADDRESS",
            "SLACK SKIP NO_ADDRESS",
            "IN_APP SKIP NO_ADDRESS",
        ]
    );
}

#[test]
fn a_recipient_with_devices_is_a_push_candidate_without_listing_push() {
    let r = recipient("Asia/Seoul", &[Email], vec![device(7, true, "2026-01-01T00:00:00Z")]);
    let p = Preferences::default();
    assert_eq!(
        lines(&request(Kind::Service, &r, &p, afternoon())),
        ["PUSH SEND -> device-07", "EMAIL SEND -> user@example.com"]
    );
}

#[test]
fn a_recipient_without_channels_gets_no_decision_at_all() {
    let r = recipient("Asia/Seoul", &[], vec![]);
    let p = Preferences::default();
    let res = resolve(&request(Kind::Security, &r, &p, afternoon()), &ResolverPolicy::default());
    assert!(res.decisions.is_empty());
    assert!(res.is_suppressed());
    assert_eq!(res.suppression_reason(), None);
}

// ---------------------------------------------------------------------------------------------
// Rule 1: opted out
// ---------------------------------------------------------------------------------------------

#[test]
fn an_opted_out_optional_kind_skips_every_candidate_as_opted_out() {
    let r = everyone();
    for kind in [Kind::Service, Kind::Marketing] {
        let p = opted_out(kind);
        assert_eq!(lines(&request(kind, &r, &p, afternoon())), all_six("SKIP OPTED_OUT"), "{kind}");
    }
}

#[test]
fn opting_out_of_one_kind_leaves_the_others_alone() {
    let (r, p) = (everyone(), opted_out(Kind::Marketing));
    for kind in [Kind::Security, Kind::Transactional, Kind::Service] {
        assert_eq!(lines(&request(kind, &r, &p, afternoon())), all_six("SEND"), "{kind}");
    }
}

#[test]
fn opted_out_beats_every_later_rule() {
    // Channel restrictions, missing addresses, quiet hours, the Kakao night and expiry would all
    // apply; the opt-out is what is reported.
    let r = recipient("Asia/Seoul", &[Push, Kakao], vec![]);
    let kinds =
        BTreeMap::from([(Kind::Marketing, KindPreference { allowed: false, channels: only(&[Email]) })]);
    let p = Preferences::new(kinds, Some(Preferences::default_quiet_hours())).unwrap();
    let req = ResolveRequest {
        requested: Some(only(&[Sms, Kakao])),
        expires_at: Some(late_night() - TimeDelta::hours(1)),
        ..request(Kind::Marketing, &r, &p, late_night())
    };
    assert_eq!(lines(&req), ["PUSH SKIP OPTED_OUT", "SMS SKIP OPTED_OUT", "KAKAO_ALIMTALK SKIP OPTED_OUT"]);
}

// ---------------------------------------------------------------------------------------------
// Rule 2: channel not allowed
// ---------------------------------------------------------------------------------------------

/// A channel restriction in a table: None means "not given".
type Restriction = Option<&'static [Channel]>;

#[test]
fn channels_outside_the_request_or_the_allow_list_are_not_allowed() {
    let r = everyone();
    // (case, requested, allow list, the channels that still send)
    let cases: [(&str, Restriction, &[Channel], &[Channel]); 5] = [
        ("request restricts", Some(&[Email, InApp]), &[], &[Email, InApp]),
        ("allow list restricts", None, &[Push], &[Push]),
        ("both restrict: the intersection sends", Some(&[Email, Sms]), &[Sms, Slack], &[Sms]),
        ("an empty request allows nothing", Some(&[]), &[], &[]),
        ("an empty allow list allows everything", None, &[], &Channel::CANONICAL),
    ];
    for (name, requested, allowed, sending) in cases {
        let p = allow_list(Kind::Transactional, allowed, None);
        let req = ResolveRequest {
            requested: requested.map(only),
            ..request(Kind::Transactional, &r, &p, afternoon())
        };
        let expected: Vec<String> = Channel::CANONICAL
            .iter()
            .zip(all_six("SEND"))
            .map(|(c, send)| if sending.contains(c) { send } else { format!("{c} SKIP CHANNEL_NOT_ALLOWED") })
            .collect();
        assert_eq!(lines(&req), expected, "{name}");
    }
}

#[test]
fn another_kinds_allow_list_does_not_restrict_this_kind() {
    let (r, p) = (everyone(), allow_list(Kind::Marketing, &[Email], None));
    assert_eq!(lines(&request(Kind::Transactional, &r, &p, afternoon())), all_six("SEND"));
}

#[test]
fn channel_not_allowed_beats_a_missing_address_or_device() {
    // PUSH is listed but has no device; SLACK has no address. Neither is allowed.
    let r = recipient("Asia/Seoul", &[Push, Email], vec![]);
    let p = Preferences::default();
    let req =
        ResolveRequest { requested: Some(only(&[Email])), ..request(Kind::Service, &r, &p, afternoon()) };
    assert_eq!(lines(&req), ["PUSH SKIP CHANNEL_NOT_ALLOWED", "EMAIL SEND -> user@example.com"]);
    let req = ResolveRequest { requested: Some(only(&[Email, Slack])), ..req };
    let p2 = allow_list(Kind::Service, &[Email], None);
    let req = ResolveRequest { preferences: &p2, ..req };
    assert_eq!(
        lines(&req),
        ["PUSH SKIP CHANNEL_NOT_ALLOWED", "EMAIL SEND -> user@example.com", "SLACK SKIP CHANNEL_NOT_ALLOWED"]
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 3: addresses and devices
// ---------------------------------------------------------------------------------------------

#[test]
fn channels_without_an_address_or_device_are_skipped_with_the_matching_reason() {
    let p = Preferences::default();
    let cases: [(&str, Recipient, Restriction, &[&str]); 5] = [
        (
            "push listed without devices",
            recipient("Asia/Seoul", &[Push], vec![]),
            None,
            &["PUSH SKIP NO_ACTIVE_DEVICE"],
        ),
        (
            "only disabled devices",
            recipient("Asia/Seoul", &[], vec![device(1, false, "2026-01-01T00:00:00Z")]),
            None,
            &["PUSH SKIP NO_ACTIVE_DEVICE"],
        ),
        (
            "sms requested without a number",
            recipient("Asia/Seoul", &[Email], vec![]),
            Some(&[Sms]),
            &["EMAIL SKIP CHANNEL_NOT_ALLOWED", "SMS SKIP NO_ADDRESS"],
        ),
        (
            "in-app requested but not listed",
            recipient("Asia/Seoul", &[], vec![]),
            Some(&[InApp]),
            &["IN_APP SKIP NO_ADDRESS"],
        ),
        (
            "in-app listed goes to the inbox",
            recipient("Asia/Seoul", &[InApp], vec![]),
            None,
            &["IN_APP SEND -> inbox"],
        ),
    ];
    for (name, r, requested, expected) in cases {
        let req =
            ResolveRequest { requested: requested.map(only), ..request(Kind::Service, &r, &p, afternoon()) };
        assert_eq!(lines(&req), expected, "{name}");
    }
}

#[test]
fn push_fans_out_over_active_devices_only_oldest_first() {
    let r = recipient(
        "Asia/Seoul",
        &[Push, Email],
        vec![
            device(3, true, "2026-01-03T00:00:00Z"),
            device(1, true, "2026-01-01T00:00:00Z"),
            device(2, false, "2026-01-02T00:00:00Z"),
            device(4, true, "2026-01-04T00:00:00Z"),
        ],
    );
    let p = Preferences::default();
    assert_eq!(
        lines(&request(Kind::Transactional, &r, &p, afternoon())),
        [
            "PUSH SEND -> device-01",
            "PUSH SEND -> device-03",
            "PUSH SEND -> device-04",
            "EMAIL SEND -> user@example.com"
        ]
    );
    let res = resolve(&request(Kind::Transactional, &r, &p, afternoon()), &ResolverPolicy::default());
    match &res.decisions[0].target {
        Some(Target::Device { id, token }) => {
            assert_eq!(*id, r.devices[1].id);
            assert_eq!(token, r.devices[1].token.as_str());
        }
        other => panic!("expected a device target, got {other:?}"),
    }
    // Deferred by quiet hours: every device is deferred alike.
    assert_eq!(
        lines(&request(Kind::Transactional, &r, &p, late_night())),
        [
            "PUSH DEFER 2026-06-10T23:00Z QUIET_HOURS -> device-01",
            "PUSH DEFER 2026-06-10T23:00Z QUIET_HOURS -> device-03",
            "PUSH DEFER 2026-06-10T23:00Z QUIET_HOURS -> device-04",
            "EMAIL DEFER 2026-06-10T23:00Z QUIET_HOURS -> user@example.com"
        ]
    );
}

#[test]
fn a_missing_address_beats_quiet_hours_and_expiry() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = Preferences::default();
    let req = ResolveRequest {
        requested: Some(only(&[Sms, Email])),
        expires_at: Some(late_night()),
        ..request(Kind::Marketing, &r, &p, late_night())
    };
    assert_eq!(lines(&req), ["EMAIL SKIP EXPIRED", "SMS SKIP NO_ADDRESS"]);
}

// ---------------------------------------------------------------------------------------------
// Rule 4: quiet hours
// ---------------------------------------------------------------------------------------------

#[test]
fn kinds_other_than_security_are_deferred_to_the_end_of_quiet_hours() {
    let (r, p) = (everyone(), Preferences::default());
    for kind in [Kind::Transactional, Kind::Service, Kind::Marketing] {
        // 08:00 is outside the Kakao night window ([20:50, 08:00)), so Kakao waits for it too.
        assert_eq!(
            lines(&request(kind, &r, &p, late_night())),
            all_six("DEFER 2026-06-10T23:00Z QUIET_HOURS"),
            "{kind}"
        );
    }
}

#[test]
fn security_bypasses_quiet_hours_but_not_the_kakao_window() {
    let (r, p) = (everyone(), Preferences::default());
    assert_eq!(
        lines(&request(Kind::Security, &r, &p, late_night())),
        [
            "PUSH SEND -> device-01",
            "EMAIL SEND -> user@example.com",
            "SMS SEND -> +821011112222",
            "KAKAO_ALIMTALK SKIP KAKAO_NIGHT",
            "SLACK SEND -> https://hooks.slack.com/services/T/B/X",
            "IN_APP SEND -> inbox",
        ]
    );
}

#[test]
fn quiet_hours_are_a_half_open_window() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = Preferences::default();
    let cases = [
        ("2026-06-10 21:59", "EMAIL SEND -> user@example.com"),
        ("2026-06-10 22:00", "EMAIL DEFER 2026-06-10T23:00Z QUIET_HOURS -> user@example.com"),
        ("2026-06-11 07:59", "EMAIL DEFER 2026-06-10T23:00Z QUIET_HOURS -> user@example.com"),
        ("2026-06-11 08:00", "EMAIL SEND -> user@example.com"),
    ];
    for (now, expected) in cases {
        assert_eq!(lines(&request(Kind::Service, &r, &p, seoul(now))), [expected], "{now}");
    }
}

#[test]
fn no_quiet_hours_means_sending_at_night() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = quiet(None);
    assert_eq!(lines(&request(Kind::Marketing, &r, &p, late_night())), ["EMAIL SEND -> user@example.com"]);
}

#[test]
fn custom_quiet_hours_defer_to_their_own_end() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = quiet(Some("13:00-15:00"));
    assert_eq!(
        lines(&request(Kind::Service, &r, &p, afternoon())),
        ["EMAIL DEFER 2026-06-10T06:00Z QUIET_HOURS -> user@example.com"]
    );
    assert_eq!(lines(&request(Kind::Service, &r, &p, late_night())), ["EMAIL SEND -> user@example.com"]);
}

#[test]
fn quiet_hours_follow_the_recipients_timezone() {
    let r = recipient("America/New_York", &[Email], vec![]);
    let p = Preferences::default();
    // 23:00 in Seoul is 10:00 in New York.
    assert_eq!(lines(&request(Kind::Service, &r, &p, late_night())), ["EMAIL SEND -> user@example.com"]);
    // 23:00 EDT waits for 08:00 EDT (12:00Z).
    assert_eq!(
        lines(&request(Kind::Service, &r, &p, utc("2026-06-11T03:00:00Z"))),
        ["EMAIL DEFER 2026-06-11T12:00Z QUIET_HOURS -> user@example.com"]
    );
}

#[test]
fn quiet_hours_across_daylight_saving_changes_end_at_local_eight() {
    let p = Preferences::default();
    let cases = [
        // New York springs forward on 2026-03-08: 23:00 EST -> 08:00 EDT.
        ("America/New_York", "2026-03-08T04:00:00Z", "2026-03-08T12:00Z"),
        // ...and falls back on 2026-11-01: 23:00 EDT -> 08:00 EST.
        ("America/New_York", "2026-11-01T03:00:00Z", "2026-11-01T13:00Z"),
        // Berlin on 2026-03-29: 23:00 CET -> 08:00 CEST; on 2026-10-25: 23:00 CEST -> 08:00 CET.
        ("Europe/Berlin", "2026-03-28T22:00:00Z", "2026-03-29T06:00Z"),
        ("Europe/Berlin", "2026-10-24T21:00:00Z", "2026-10-25T07:00Z"),
    ];
    for (tz, now, until) in cases {
        let r = recipient(tz, &[Email], vec![]);
        assert_eq!(
            lines(&request(Kind::Transactional, &r, &p, utc(now))),
            [format!("EMAIL DEFER {until} QUIET_HOURS -> user@example.com")],
            "{tz} {now}"
        );
    }
}

#[test]
fn quiet_hours_ending_in_the_spring_forward_gap_release_at_the_jump() {
    let r = recipient("America/New_York", &[Email], vec![]);
    let p = quiet(Some("01:00-02:30"));
    // 01:30 EST; 02:30 does not exist that night, the clock jumps to 03:00 EDT (07:00Z).
    assert_eq!(
        lines(&request(Kind::Service, &r, &p, utc("2026-03-08T06:30:00Z"))),
        ["EMAIL DEFER 2026-03-08T07:00Z QUIET_HOURS -> user@example.com"]
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 5: the Kakao night window
// ---------------------------------------------------------------------------------------------

#[test]
fn marketing_kakao_at_night_is_deferred_to_eight_in_seoul() {
    let r = recipient("Asia/Seoul", &[Email, Kakao], vec![]);
    let p = quiet(None);
    for kind in [Kind::Service, Kind::Marketing] {
        assert_eq!(
            lines(&request(kind, &r, &p, kakao_night())),
            [
                "EMAIL SEND -> user@example.com",
                "KAKAO_ALIMTALK DEFER 2026-06-10T23:00Z KAKAO_NIGHT -> +821033334444"
            ],
            "{kind}"
        );
    }
}

#[test]
fn the_kakao_night_window_is_half_open_from_twenty_fifty_to_eight() {
    let r = recipient("Asia/Seoul", &[Kakao], vec![]);
    let p = quiet(None);
    let cases = [
        ("2026-06-10 20:49", "KAKAO_ALIMTALK SEND -> +821033334444"),
        ("2026-06-10 20:50", "KAKAO_ALIMTALK DEFER 2026-06-10T23:00Z KAKAO_NIGHT -> +821033334444"),
        ("2026-06-11 07:59", "KAKAO_ALIMTALK DEFER 2026-06-10T23:00Z KAKAO_NIGHT -> +821033334444"),
        ("2026-06-11 08:00", "KAKAO_ALIMTALK SEND -> +821033334444"),
    ];
    for (now, expected) in cases {
        assert_eq!(lines(&request(Kind::Marketing, &r, &p, seoul(now))), [expected], "{now}");
    }
}

#[test]
fn the_kakao_night_window_ignores_the_recipients_timezone() {
    // 21:00 in Seoul is 08:00 EDT in New York: daytime for the recipient, night for Kakao.
    let r = recipient("America/New_York", &[Email, Kakao], vec![]);
    let p = Preferences::default();
    assert_eq!(
        lines(&request(Kind::Marketing, &r, &p, kakao_night())),
        [
            "EMAIL SEND -> user@example.com",
            "KAKAO_ALIMTALK DEFER 2026-06-10T23:00Z KAKAO_NIGHT -> +821033334444"
        ]
    );
}

#[test]
fn the_kakao_night_window_comes_from_the_policy() {
    let r = recipient("Asia/Seoul", &[Kakao], vec![]);
    let p = quiet(None);
    let policy =
        ResolverPolicy { kakao_night: window("22:00-07:00"), kakao_night_tz: chrono_tz::Asia::Tokyo };
    assert_eq!(
        lines_with(&request(Kind::Marketing, &r, &p, kakao_night()), &policy),
        ["KAKAO_ALIMTALK SEND -> +821033334444"]
    );
    // 23:00 in Tokyo waits for 07:00 Tokyo (22:00Z).
    assert_eq!(
        lines_with(&request(Kind::Marketing, &r, &p, late_night()), &policy),
        ["KAKAO_ALIMTALK DEFER 2026-06-10T22:00Z KAKAO_NIGHT -> +821033334444"]
    );
}

#[test]
fn the_default_policy_is_twenty_fifty_to_eight_in_seoul() {
    let policy = ResolverPolicy::default();
    assert_eq!(policy.kakao_night.to_string(), "20:50-08:00");
    assert_eq!(policy.kakao_night_tz, SEOUL);
}

#[test]
fn mandatory_kakao_at_night_falls_back_to_the_kakao_number_without_sms() {
    let r = recipient("Asia/Seoul", &[Kakao], vec![]);
    let p = Preferences::default();
    for kind in [Kind::Security, Kind::Transactional] {
        assert_eq!(
            lines(&request(kind, &r, &p, kakao_night())),
            ["SMS SEND -> +821033334444 (for KAKAO_ALIMTALK)", "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"],
            "{kind}"
        );
    }
}

#[test]
fn no_fallback_is_added_when_sms_already_sends() {
    let r = recipient("Asia/Seoul", &[Sms, Kakao], vec![]);
    let p = Preferences::default();
    assert_eq!(
        lines(&request(Kind::Transactional, &r, &p, kakao_night())),
        ["SMS SEND -> +821011112222", "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"]
    );
}

#[test]
fn no_fallback_is_added_when_sms_is_already_deferred() {
    let r = recipient("Asia/Seoul", &[Sms, Kakao], vec![]);
    let p = Preferences::default();
    let req = ResolveRequest {
        send_at: Some(seoul("2026-06-10 21:30")),
        ..request(Kind::Transactional, &r, &p, afternoon())
    };
    assert_eq!(
        lines(&req),
        ["SMS DEFER 2026-06-10T12:30Z SCHEDULED -> +821011112222", "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"]
    );
}

#[test]
fn a_restriction_naming_only_kakao_permits_the_fallback_to_the_sms_number() {
    let r = recipient("Asia/Seoul", &[Email, Sms, Kakao], vec![]);
    let p = Preferences::default();
    let req =
        ResolveRequest { requested: Some(only(&[Kakao])), ..request(Kind::Security, &r, &p, kakao_night()) };
    assert_eq!(
        lines(&req),
        [
            "EMAIL SKIP CHANNEL_NOT_ALLOWED",
            "SMS SEND -> +821011112222 (for KAKAO_ALIMTALK)",
            "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"
        ]
    );
    // In the afternoon the same restriction sends Kakao and nothing else.
    let req = ResolveRequest { now: afternoon(), ..req };
    assert_eq!(
        lines(&req),
        [
            "EMAIL SKIP CHANNEL_NOT_ALLOWED",
            "SMS SKIP CHANNEL_NOT_ALLOWED",
            "KAKAO_ALIMTALK SEND -> +821033334444"
        ]
    );
}

#[test]
fn an_allow_list_allowing_kakao_permits_the_fallback() {
    let r = recipient("Asia/Seoul", &[Email, Sms, Kakao], vec![]);
    let p = allow_list(Kind::Transactional, &[Email, Kakao], None);
    assert_eq!(
        lines(&request(Kind::Transactional, &r, &p, kakao_night())),
        [
            "EMAIL SEND -> user@example.com",
            "SMS SEND -> +821011112222 (for KAKAO_ALIMTALK)",
            "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"
        ]
    );
}

#[test]
fn the_fallback_replaces_an_sms_skip_for_a_missing_number() {
    let r = recipient("Asia/Seoul", &[Kakao], vec![]);
    let p = Preferences::default();
    let req = ResolveRequest {
        requested: Some(only(&[Sms, Kakao])),
        ..request(Kind::Security, &r, &p, kakao_night())
    };
    assert_eq!(
        lines(&req),
        ["SMS SEND -> +821033334444 (for KAKAO_ALIMTALK)", "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"]
    );
}

#[test]
fn the_fallback_keeps_the_scheduled_instant_and_its_reason() {
    let r = recipient("Asia/Seoul", &[Sms, Kakao], vec![]);
    let p = Preferences::default();
    let req = ResolveRequest {
        requested: Some(only(&[Kakao])),
        send_at: Some(seoul("2026-06-10 21:30")),
        ..request(Kind::Transactional, &r, &p, afternoon())
    };
    assert_eq!(
        lines(&req),
        [
            "SMS DEFER 2026-06-10T12:30Z SCHEDULED -> +821011112222 (for KAKAO_ALIMTALK)",
            "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"
        ]
    );
}

#[test]
fn transactional_kakao_within_quiet_hours_waits_for_the_morning_instead_of_falling_back() {
    // 23:00 Seoul: quiet hours move it to 08:00, which is outside the Kakao night window.
    let r = recipient("Asia/Seoul", &[Kakao], vec![]);
    let p = Preferences::default();
    assert_eq!(
        lines(&request(Kind::Transactional, &r, &p, late_night())),
        ["KAKAO_ALIMTALK DEFER 2026-06-10T23:00Z QUIET_HOURS -> +821033334444"]
    );
}

#[test]
fn a_fallback_after_quiet_hours_elsewhere_is_deferred_with_quiet_hours() {
    // 23:00 PDT in Los Angeles (06:00Z): quiet hours end at 08:00 PDT = 15:00Z = 00:00 in Seoul,
    // inside the Kakao night, so SMS stands in at 15:00Z.
    let r = recipient("America/Los_Angeles", &[Kakao], vec![]);
    let p = Preferences::default();
    assert_eq!(
        lines(&request(Kind::Transactional, &r, &p, utc("2026-06-10T06:00:00Z"))),
        [
            "SMS DEFER 2026-06-10T15:00Z QUIET_HOURS -> +821033334444 (for KAKAO_ALIMTALK)",
            "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Rules 4 and 5 together
// ---------------------------------------------------------------------------------------------

#[test]
fn quiet_hours_ending_inside_the_kakao_night_defer_again_to_eight_in_seoul() {
    // Same instant as above for MARKETING: 15:00Z is Kakao night, so 08:00 Seoul (23:00Z), which
    // is 16:00 in Los Angeles.
    let r = recipient("America/Los_Angeles", &[Email, Kakao], vec![]);
    let p = Preferences::default();
    assert_eq!(
        lines(&request(Kind::Marketing, &r, &p, utc("2026-06-10T06:00:00Z"))),
        [
            "EMAIL DEFER 2026-06-10T15:00Z QUIET_HOURS -> user@example.com",
            "KAKAO_ALIMTALK DEFER 2026-06-10T23:00Z KAKAO_NIGHT -> +821033334444"
        ]
    );
}

#[test]
fn a_kakao_night_ending_inside_quiet_hours_elsewhere_defers_again() {
    // 21:00 Seoul = 13:00 BST in London. The Kakao night ends at 23:00Z = 00:00 BST, inside the
    // London quiet hours, which end at 08:00 BST = 07:00Z.
    let r = recipient("Europe/London", &[Email, Kakao], vec![]);
    let p = Preferences::default();
    assert_eq!(
        lines(&request(Kind::Service, &r, &p, kakao_night())),
        [
            "EMAIL SEND -> user@example.com",
            "KAKAO_ALIMTALK DEFER 2026-06-11T07:00Z QUIET_HOURS -> +821033334444"
        ]
    );
}

#[test]
fn windows_overlapping_in_one_zone_are_applied_until_the_instant_is_stable() {
    // Kakao night 20:50-08:00 then quiet hours 07:00-09:00, both in Seoul: 21:00 -> 08:00 -> 09:00.
    let r = recipient("Asia/Seoul", &[Kakao], vec![]);
    let p = quiet(Some("07:00-09:00"));
    assert_eq!(
        lines(&request(Kind::Marketing, &r, &p, kakao_night())),
        ["KAKAO_ALIMTALK DEFER 2026-06-11T00:00Z QUIET_HOURS -> +821033334444"]
    );
}

#[test]
fn windows_covering_the_whole_day_skip_optional_kakao_as_kakao_night() {
    // Quiet hours 07:00-21:00 and the Kakao night 20:50-08:00 leave no minute for Kakao.
    let r = recipient("Asia/Seoul", &[Email, Kakao], vec![]);
    let p = quiet(Some("07:00-21:00"));
    assert_eq!(
        lines(&request(Kind::Marketing, &r, &p, afternoon())),
        ["EMAIL DEFER 2026-06-10T12:00Z QUIET_HOURS -> user@example.com", "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"]
    );
    // A mandatory kind falls back to SMS once quiet hours end at 21:00, inside the Kakao night.
    assert_eq!(
        lines(&request(Kind::Transactional, &r, &p, afternoon())),
        [
            "EMAIL DEFER 2026-06-10T12:00Z QUIET_HOURS -> user@example.com",
            "SMS DEFER 2026-06-10T12:00Z QUIET_HOURS -> +821033334444 (for KAKAO_ALIMTALK)",
            "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// sendAt and rule 6: expiry
// ---------------------------------------------------------------------------------------------

#[test]
fn send_at_defers_as_scheduled_and_later_rules_push_it_further() {
    let r = recipient("Asia/Seoul", &[Email, Kakao], vec![]);
    let p = Preferences::default();
    let cases = [
        (
            "in the past",
            Kind::Service,
            afternoon() - TimeDelta::hours(1),
            ["EMAIL SEND -> user@example.com", "KAKAO_ALIMTALK SEND -> +821033334444"],
        ),
        (
            "exactly now",
            Kind::Service,
            afternoon(),
            ["EMAIL SEND -> user@example.com", "KAKAO_ALIMTALK SEND -> +821033334444"],
        ),
        (
            "in two hours",
            Kind::Service,
            afternoon() + TimeDelta::hours(2),
            [
                "EMAIL DEFER 2026-06-10T07:00Z SCHEDULED -> user@example.com",
                "KAKAO_ALIMTALK DEFER 2026-06-10T07:00Z SCHEDULED -> +821033334444",
            ],
        ),
        (
            "into the Kakao night",
            Kind::Marketing,
            kakao_night(),
            [
                "EMAIL DEFER 2026-06-10T12:00Z SCHEDULED -> user@example.com",
                "KAKAO_ALIMTALK DEFER 2026-06-10T23:00Z KAKAO_NIGHT -> +821033334444",
            ],
        ),
        (
            "into quiet hours",
            Kind::Transactional,
            late_night(),
            [
                "EMAIL DEFER 2026-06-10T23:00Z QUIET_HOURS -> user@example.com",
                "KAKAO_ALIMTALK DEFER 2026-06-10T23:00Z QUIET_HOURS -> +821033334444",
            ],
        ),
    ];
    for (name, kind, send_at, expected) in cases {
        let req = ResolveRequest { send_at: Some(send_at), ..request(kind, &r, &p, afternoon()) };
        assert_eq!(lines(&req), expected, "{name}");
    }
}

#[test]
fn security_scheduled_into_the_night_is_deferred_only_until_send_at() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = Preferences::default();
    let req = ResolveRequest { send_at: Some(late_night()), ..request(Kind::Security, &r, &p, afternoon()) };
    assert_eq!(lines(&req), ["EMAIL DEFER 2026-06-10T14:00Z SCHEDULED -> user@example.com"]);
}

#[test]
fn expiry_at_or_before_the_dispatch_instant_skips_as_expired() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = Preferences::default();
    let deferred = "EMAIL DEFER 2026-06-10T23:00Z QUIET_HOURS -> user@example.com";
    let cases = [
        // A deferral to 08:00 Seoul (23:00Z).
        ("expires before the deferral ends", late_night(), utc("2026-06-10T22:59:00Z"), "EMAIL SKIP EXPIRED"),
        (
            "expires exactly when the deferral ends",
            late_night(),
            utc("2026-06-10T23:00:00Z"),
            "EMAIL SKIP EXPIRED",
        ),
        ("expires after the deferral ends", late_night(), utc("2026-06-10T23:00:01Z"), deferred),
        // An immediate send.
        ("already expired", afternoon(), afternoon() - TimeDelta::minutes(1), "EMAIL SKIP EXPIRED"),
        ("expires right now", afternoon(), afternoon(), "EMAIL SKIP EXPIRED"),
        (
            "expires a second from now",
            afternoon(),
            afternoon() + TimeDelta::seconds(1),
            "EMAIL SEND -> user@example.com",
        ),
    ];
    for (name, now, expires_at, expected) in cases {
        let req = ResolveRequest { expires_at: Some(expires_at), ..request(Kind::Marketing, &r, &p, now) };
        assert_eq!(lines(&req), [expected], "{name}");
    }
}

#[test]
fn a_send_at_past_the_expiry_skips_as_expired() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = Preferences::default();
    let req = ResolveRequest {
        send_at: Some(afternoon() + TimeDelta::hours(2)),
        expires_at: Some(afternoon() + TimeDelta::hours(1)),
        ..request(Kind::Security, &r, &p, afternoon())
    };
    assert_eq!(lines(&req), ["EMAIL SKIP EXPIRED"]);
}

#[test]
fn expiry_turns_kakao_night_deferrals_and_fallbacks_into_expired() {
    let r = recipient("Asia/Seoul", &[Kakao], vec![]);
    let p = quiet(None);
    let expires_at = Some(seoul("2026-06-11 07:00"));
    let req = ResolveRequest { expires_at, ..request(Kind::Marketing, &r, &p, kakao_night()) };
    assert_eq!(lines(&req), ["KAKAO_ALIMTALK SKIP EXPIRED"]);
    // The fallback for a mandatory kind would go at 21:30, after the expiry at 21:15.
    let req = ResolveRequest {
        send_at: Some(seoul("2026-06-10 21:30")),
        expires_at: Some(seoul("2026-06-10 21:15")),
        ..request(Kind::Transactional, &r, &p, afternoon())
    };
    assert_eq!(lines(&req), ["SMS SKIP EXPIRED (for KAKAO_ALIMTALK)", "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"]);
}

#[test]
fn an_expired_push_fan_out_is_one_skip() {
    let r = recipient(
        "Asia/Seoul",
        &[],
        vec![device(1, true, "2026-01-01T00:00:00Z"), device(2, true, "2026-01-02T00:00:00Z")],
    );
    let p = Preferences::default();
    let req = ResolveRequest {
        expires_at: Some(seoul("2026-06-11 07:00")),
        ..request(Kind::Service, &r, &p, late_night())
    };
    assert_eq!(lines(&req), ["PUSH SKIP EXPIRED"]);
}

// ---------------------------------------------------------------------------------------------
// Resolution helpers and reasons
// ---------------------------------------------------------------------------------------------

#[test]
fn a_resolution_splits_deliveries_from_skips() {
    let r = recipient(
        "Asia/Seoul",
        &[Email, Sms, Kakao],
        vec![device(1, true, "2026-01-01T00:00:00Z"), device(2, true, "2026-01-02T00:00:00Z")],
    );
    let p = Preferences::default();
    let req = ResolveRequest {
        requested: Some(only(&[Push, Kakao])),
        ..request(Kind::Security, &r, &p, kakao_night())
    };
    let res = resolve(&req, &ResolverPolicy::default());
    assert_eq!(res.deliveries().count(), 3); // two devices and the SMS fallback
    assert_eq!(
        res.skipped().map(line).collect::<Vec<_>>(),
        ["EMAIL SKIP CHANNEL_NOT_ALLOWED", "KAKAO_ALIMTALK SKIP KAKAO_NIGHT"]
    );
    assert_eq!(res.channels_to_send(), only(&[Push, Sms]));
    assert!(!res.is_suppressed());
    assert_eq!(res.suppression_reason(), None);
}

#[test]
fn the_suppression_reason_is_the_first_skip_in_canonical_order() {
    let p = Preferences::default();
    let cases = [
        ("opted out", Kind::Marketing, recipient("Asia/Seoul", &[Email], vec![]), None, Reason::OptedOut),
        (
            "push not requested comes before email without an address",
            Kind::Service,
            recipient("Asia/Seoul", &[Push], vec![]),
            Some(only(&[Email])),
            Reason::ChannelNotAllowed,
        ),
        ("no device", Kind::Service, recipient("Asia/Seoul", &[Push], vec![]), None, Reason::NoActiveDevice),
        (
            "no address",
            Kind::Service,
            recipient("Asia/Seoul", &[], vec![]),
            Some(only(&[Slack])),
            Reason::NoAddress,
        ),
    ];
    for (name, kind, r, requested, reason) in cases {
        let p = if kind == Kind::Marketing { opted_out(Kind::Marketing) } else { p.clone() };
        let req = ResolveRequest { requested, ..request(kind, &r, &p, afternoon()) };
        let res = resolve(&req, &ResolverPolicy::default());
        assert!(res.is_suppressed(), "{name}");
        assert_eq!(res.suppression_reason(), Some(reason), "{name}");
        assert!(res.channels_to_send().is_empty(), "{name}");
    }
}

#[test]
fn a_deferral_is_not_a_suppression() {
    let r = recipient("Asia/Seoul", &[Email], vec![]);
    let p = Preferences::default();
    let res = resolve(&request(Kind::Marketing, &r, &p, late_night()), &ResolverPolicy::default());
    assert!(!res.is_suppressed());
    assert_eq!(res.channels_to_send(), only(&[Email]));
}

#[test]
fn every_reason_is_produced_by_some_scenario() {
    let policy = ResolverPolicy::default();
    let everyone = everyone();
    let kakao_only = recipient("Asia/Seoul", &[Kakao], vec![]);
    let nobody = recipient("Asia/Seoul", &[Push], vec![]);
    let defaults = Preferences::default();
    let marketing_out = opted_out(Kind::Marketing);
    let requests = [
        request(Kind::Marketing, &everyone, &marketing_out, afternoon()),
        ResolveRequest {
            requested: Some(only(&[Email])),
            ..request(Kind::Service, &nobody, &defaults, afternoon())
        },
        request(Kind::Service, &nobody, &defaults, afternoon()),
        request(Kind::Service, &everyone, &defaults, late_night()),
        request(Kind::Security, &kakao_only, &defaults, kakao_night()),
        ResolveRequest {
            expires_at: Some(afternoon()),
            ..request(Kind::Service, &everyone, &defaults, afternoon())
        },
        ResolveRequest {
            send_at: Some(afternoon() + TimeDelta::hours(1)),
            ..request(Kind::Service, &everyone, &defaults, afternoon())
        },
    ];
    let produced: BTreeSet<Reason> = requests
        .iter()
        .flat_map(|req| resolve(req, &policy).decisions)
        .filter_map(|d| d.outcome.reason())
        .collect();
    assert_eq!(produced, Reason::ALL.iter().copied().collect::<BTreeSet<_>>());
}

#[test]
fn reasons_use_their_wire_names() {
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "OPTED_OUT",
            "CHANNEL_NOT_ALLOWED",
            "NO_ADDRESS",
            "NO_ACTIVE_DEVICE",
            "QUIET_HOURS",
            "KAKAO_NIGHT",
            "EXPIRED",
            "SCHEDULED"
        ]
    );
    assert_eq!("KAKAO_NIGHT".parse::<Reason>(), Ok(Reason::KakaoNight));
    assert_eq!(serde_json::to_string(&Reason::NoActiveDevice).unwrap(), "\"NO_ACTIVE_DEVICE\"");
}

#[test]
fn outcomes_report_whether_they_deliver_and_why() {
    let until = afternoon();
    assert!(Outcome::Send.is_delivery());
    assert!(Outcome::Defer { until, reason: Reason::Scheduled }.is_delivery());
    assert!(!Outcome::Skip(Reason::Expired).is_delivery());
    assert_eq!(Outcome::Send.reason(), None);
    assert_eq!(Outcome::Defer { until, reason: Reason::QuietHours }.reason(), Some(Reason::QuietHours));
    assert_eq!(Outcome::Skip(Reason::NoAddress).reason(), Some(Reason::NoAddress));
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Everything one resolution depends on, owned.
#[derive(Debug, Clone)]
struct Scenario {
    kind: Kind,
    requested: Option<ChannelSet>,
    recipient: Recipient,
    preferences: Preferences,
    policy: ResolverPolicy,
    now: DateTime<Utc>,
    send_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl Scenario {
    fn request(&self) -> ResolveRequest<'_> {
        ResolveRequest {
            kind: self.kind,
            requested: self.requested,
            recipient: &self.recipient,
            preferences: &self.preferences,
            now: self.now,
            send_at: self.send_at,
            expires_at: self.expires_at,
        }
    }

    fn resolve(&self) -> Resolution {
        resolve(&self.request(), &self.policy)
    }

    fn candidates(&self) -> ChannelSet {
        let mut set: ChannelSet = self.recipient.contacts.iter().map(|c| c.channel).collect();
        if !self.recipient.devices.is_empty() {
            set.insert(Push);
        }
        self.requested.unwrap_or(ChannelSet::EMPTY).iter().for_each(|c| set.insert(c));
        set
    }

    /// The instant a SEND or DEFER dispatches at.
    fn instant(&self, outcome: Outcome) -> Option<DateTime<Utc>> {
        match outcome {
            Outcome::Send => Some(self.now),
            Outcome::Defer { until, .. } => Some(until),
            Outcome::Skip(_) => None,
        }
    }
}

fn channel_set(mask: u8) -> ChannelSet {
    Channel::CANONICAL.into_iter().filter(|c| mask & (1 << c.index()) != 0).collect()
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        SEOUL,
        chrono_tz::America::New_York,
        chrono_tz::America::Los_Angeles,
        chrono_tz::Europe::Berlin,
        chrono_tz::Europe::London,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::UTC,
    ])
}

fn any_window() -> impl Strategy<Value = DailyWindow> {
    (0u32..1440, 1u32..1440).prop_map(|(start, len)| {
        let end = (start + len) % 1440;
        let t = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap();
        DailyWindow::new(t(start), t(end)).unwrap()
    })
}

fn any_recipient() -> impl Strategy<Value = Recipient> {
    (zone(), 0u8..64, prop::collection::vec((any::<bool>(), 0i64..10_000), 0..4)).prop_map(
        |(tz, listed, devices)| {
            let devices = devices
                .into_iter()
                .enumerate()
                .map(|(n, (active, minutes))| Device {
                    registered_at: utc("2026-01-01T00:00:00Z") + TimeDelta::minutes(minutes),
                    ..device(n as u32, active, "2026-01-01T00:00:00Z")
                })
                .collect();
            let mut r = recipient("UTC", &channel_set(listed).to_vec(), devices);
            r.timezone = Timezone::new(tz);
            r
        },
    )
}

fn any_preferences() -> impl Strategy<Value = Preferences> {
    (prop::collection::vec(prop::option::of((any::<bool>(), 0u8..64)), 4), prop::option::of(any_window()))
        .prop_map(|(entries, quiet_hours)| {
            let kinds = Kind::ALL
                .iter()
                .zip(entries)
                .filter_map(|(kind, entry)| {
                    entry.map(|(allowed, mask)| {
                        let allowed = allowed || kind.is_mandatory();
                        (*kind, KindPreference { allowed, channels: channel_set(mask) })
                    })
                })
                .collect();
            Preferences::new(kinds, quiet_hours).unwrap()
        })
}

fn any_policy() -> impl Strategy<Value = ResolverPolicy> {
    prop_oneof![
        Just(ResolverPolicy::default()),
        (any_window(), zone())
            .prop_map(|(kakao_night, kakao_night_tz)| ResolverPolicy { kakao_night, kakao_night_tz }),
    ]
}

fn any_scenario() -> impl Strategy<Value = Scenario> {
    let start = utc("2024-01-01T00:00:00Z");
    (
        prop::sample::select(Kind::ALL.to_vec()),
        prop::option::of(0u8..64),
        any_recipient(),
        any_preferences(),
        any_policy(),
        0i64..6 * 366 * 86_400,
        prop::option::of(-3_000i64..4_000),
        prop::option::of(-3_000i64..6_000),
    )
        .prop_map(move |(kind, requested, recipient, preferences, policy, now, send_at, expires_at)| {
            let now = start + TimeDelta::seconds(now);
            Scenario {
                kind,
                requested: requested.map(channel_set),
                recipient,
                preferences,
                policy,
                now,
                send_at: send_at.map(|m| now + TimeDelta::minutes(m)),
                expires_at: expires_at.map(|m| now + TimeDelta::minutes(m)),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decisions_are_in_canonical_order(s in any_scenario()) {
        let order: Vec<usize> = s.resolve().decisions.iter().map(|d| d.channel.index()).collect();
        prop_assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    }

    #[test]
    fn every_decision_is_for_a_candidate_or_is_the_sms_fallback(s in any_scenario()) {
        let candidates = s.candidates();
        for d in s.resolve().decisions {
            let fallback = d.channel == Sms && d.fallback_for == Some(Kakao) && candidates.contains(Kakao);
            prop_assert!(candidates.contains(d.channel) || fallback, "{}", line(&d));
        }
    }

    #[test]
    fn each_candidate_gets_one_decision_and_push_one_per_active_device(s in any_scenario()) {
        let res = s.resolve();
        for channel in s.candidates().iter() {
            let count = res.decisions.iter().filter(|d| d.channel == channel).count();
            let push_deliveries = res.deliveries().filter(|d| d.channel == Push).count();
            if channel == Push && push_deliveries > 0 {
                prop_assert_eq!(count, s.recipient.active_devices().len());
            } else {
                prop_assert_eq!(count, 1, "{}", channel);
            }
        }
    }

    #[test]
    fn deferrals_are_always_later_than_now(s in any_scenario()) {
        for d in s.resolve().decisions {
            if let Outcome::Defer { until, .. } = d.outcome {
                prop_assert!(until > s.now, "{}", line(&d));
            }
        }
    }

    #[test]
    fn targets_are_present_exactly_on_deliveries(s in any_scenario()) {
        for d in s.resolve().decisions {
            prop_assert_eq!(d.target.is_some(), d.outcome.is_delivery(), "{}", line(&d));
        }
    }

    #[test]
    fn an_opted_out_optional_kind_is_never_delivered(s in any_scenario()) {
        let res = s.resolve();
        if !s.kind.is_mandatory() && !s.preferences.allows_kind(s.kind) {
            prop_assert!(res.decisions.iter().all(|d| d.outcome == Outcome::Skip(Reason::OptedOut)));
        } else {
            prop_assert!(res.decisions.iter().all(|d| d.outcome != Outcome::Skip(Reason::OptedOut)));
        }
    }

    #[test]
    fn security_is_never_held_by_quiet_hours(s in any_scenario()) {
        let s = Scenario { kind: Kind::Security, ..s };
        for d in s.resolve().decisions {
            prop_assert_ne!(d.outcome.reason(), Some(Reason::QuietHours), "{}", line(&d));
        }
    }

    #[test]
    fn no_kakao_delivery_is_dispatched_inside_the_kakao_night(s in any_scenario()) {
        for d in s.resolve().deliveries().filter(|d| d.channel == Kakao) {
            let at = s.instant(d.outcome).unwrap();
            prop_assert!(!s.policy.kakao_night.contains(at, s.policy.kakao_night_tz), "{} at {}", line(d), at);
        }
    }

    #[test]
    fn deliveries_respect_send_at_expiry_and_quiet_hours(s in any_scenario()) {
        let tz = s.recipient.timezone.tz();
        for d in s.resolve().deliveries() {
            let at = s.instant(d.outcome).unwrap();
            prop_assert!(at >= s.send_at.unwrap_or(s.now));
            prop_assert!(s.expires_at.is_none_or(|e| at < e), "{} at {}", line(d), at);
            if s.kind != Kind::Security {
                let quiet = s.preferences.quiet_hours().is_some_and(|w| w.contains(at, tz));
                prop_assert!(!quiet, "{} at {}", line(d), at);
            }
        }
    }

    #[test]
    fn sms_fallbacks_only_stand_in_for_mandatory_kakao_at_night(s in any_scenario()) {
        let res = s.resolve();
        for d in res.decisions.iter().filter(|d| d.fallback_for.is_some()) {
            prop_assert_eq!(d.channel, Sms);
            prop_assert!(s.kind.is_mandatory());
            let kakao = res.decisions.iter().find(|k| k.channel == Kakao).map(|k| k.outcome);
            prop_assert_eq!(kakao, Some(Outcome::Skip(Reason::KakaoNight)));
        }
    }

    #[test]
    fn suppression_matches_the_absence_of_deliveries(s in any_scenario()) {
        let res = s.resolve();
        prop_assert_eq!(res.is_suppressed(), res.channels_to_send().is_empty());
        let first_skip = res.skipped().next().and_then(|d| d.outcome.reason());
        prop_assert_eq!(res.suppression_reason(), if res.is_suppressed() { first_skip } else { None });
    }
}
