//! Rule 5 (the Kakao night window) and its interplay with quiet hours.

use super::*;

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
