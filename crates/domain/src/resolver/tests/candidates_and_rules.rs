//! The happy path, candidates and rules 1–4.

use super::*;

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
