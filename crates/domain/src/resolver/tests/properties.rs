//! Resolution helpers, reasons and properties.

use super::*;

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
