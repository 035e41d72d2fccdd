use super::*;
use crate::retry::FixedRandom;
use chrono::TimeZone;
use proptest::prelude::*;

use DeliveryStatus as S;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn apply(
    state: DeliveryState,
    event: DeliveryEvent,
    now: DateTime<Utc>,
) -> Result<DeliveryState, IllegalTransition> {
    state.apply(&event, now, &RetryPolicy::default(), &mut FixedRandom(0.0))
}

/// A representative state per status, with every guard satisfied at `t0()`.
fn state_in(status: DeliveryStatus) -> DeliveryState {
    let lease_until = (status == S::Dispatching).then(|| t0() - secs(1));
    DeliveryState { status, tries: 1, not_before: t0() - secs(60), lease_until }
}

/// Every event, with every receipt status and both failure classes.
fn every_event() -> Vec<DeliveryEvent> {
    use DeliveryEvent as E;
    vec![
        E::Claim { lease_until: t0() + secs(30) },
        E::VendorAccepted,
        E::VendorFailed { class: FailureClass::Transient, retry_after: None },
        E::VendorFailed { class: FailureClass::Permanent, retry_after: None },
        E::LeaseExpired,
        E::Receipt(ReceiptStatus::Delivered),
        E::Receipt(ReceiptStatus::Failed),
        E::Receipt(ReceiptStatus::Bounced),
        E::Receipt(ReceiptStatus::Unregistered),
        E::Replay,
        E::Discard,
        E::Cancel,
    ]
}

#[test]
fn every_status_and_event_pair_has_the_expected_result() {
    const X: Option<DeliveryStatus> = None;
    const PEN: Option<DeliveryStatus> = Some(S::Pending);
    const DIS: Option<DeliveryStatus> = Some(S::Dispatching);
    const SNT: Option<DeliveryStatus> = Some(S::Sent);
    const DLV: Option<DeliveryStatus> = Some(S::Delivered);
    const EXH: Option<DeliveryStatus> = Some(S::Exhausted);
    const DSC: Option<DeliveryStatus> = Some(S::Discarded);
    const CNC: Option<DeliveryStatus> = Some(S::Cancelled);
    #[rustfmt::skip]
    let table: [(DeliveryStatus, [Option<DeliveryStatus>; 12]); 7] = [
        //              Claim Accept FailT FailP Lease R:Dlv R:Fail R:Bnc R:Unr Replay Discard Cancel
        (S::Pending,     [DIS, X,     X,    X,    X,    X,    X,     X,    X,    X,     X,      CNC]),
        (S::Dispatching, [X,   SNT,   PEN,  EXH,  PEN,  X,    X,     X,    X,    X,     X,      X  ]),
        (S::Sent,        [X,   X,     X,    X,    X,    DLV,  PEN,   EXH,  EXH,  X,     X,      X  ]),
        (S::Delivered,   [X,   X,     X,    X,    X,    X,    X,     X,    X,    X,     X,      X  ]),
        (S::Exhausted,   [X,   X,     X,    X,    X,    X,    X,     X,    X,    PEN,   DSC,    X  ]),
        (S::Discarded,   [X,   X,     X,    X,    X,    X,    X,     X,    X,    X,     X,      X  ]),
        (S::Cancelled,   [X,   X,     X,    X,    X,    X,    X,     X,    X,    X,     X,      X  ]),
    ];
    assert_eq!(table.map(|(s, _)| s).as_slice(), DeliveryStatus::ALL, "one row per status, in order");

    let events = every_event();
    for (status, row) in table {
        for (event, expected) in events.iter().zip(row) {
            let before = state_in(status);
            let result = apply(before, *event, t0());
            match (expected, result) {
                (Some(want), Ok(after)) => {
                    assert_eq!(after.status, want, "{status} × {event:?}");
                    assert_eq!(after.lease_until.is_some(), want == S::Dispatching, "{status} × {event:?}");
                }
                (None, Err(err)) => assert_eq!(
                    err,
                    IllegalTransition {
                        from: status,
                        event: event.name(),
                        reason: IllegalReason::WrongStatus
                    },
                    "{status} × {event:?}"
                ),
                (want, got) => panic!("{status} × {event:?}: expected {want:?}, got {got:?}"),
            }
        }
    }
}

#[test]
fn claim_starts_a_try_and_takes_the_lease() {
    let lease_until = t0() + secs(30);
    let after = apply(DeliveryState::pending(t0()), DeliveryEvent::Claim { lease_until }, t0()).unwrap();
    assert_eq!(
        after,
        DeliveryState { status: S::Dispatching, tries: 1, not_before: t0(), lease_until: Some(lease_until) }
    );
}

#[test]
fn claim_before_not_before_is_refused_as_not_due() {
    let state = DeliveryState::pending(t0() + secs(1));
    let err = apply(state, DeliveryEvent::Claim { lease_until: t0() + secs(30) }, t0()).unwrap_err();
    assert_eq!(err.reason, IllegalReason::NotDue { not_before: t0() + secs(1) });
    assert_eq!((err.from, err.event), (S::Pending, "CLAIM"));
    assert!(
        err.to_string().starts_with("CLAIM is not allowed on a PENDING delivery: not due until"),
        "{err}"
    );
}

#[test]
fn claim_with_a_lease_that_has_already_ended_is_refused() {
    let state = DeliveryState::pending(t0());
    for lease_until in [t0(), t0() - secs(5)] {
        let err = apply(state, DeliveryEvent::Claim { lease_until }, t0()).unwrap_err();
        assert_eq!(err.reason, IllegalReason::LeaseNotInFuture { lease_until });
    }
}

#[test]
fn lease_expiry_before_the_lease_ends_is_refused() {
    let state = DeliveryState { lease_until: Some(t0() + secs(1)), ..state_in(S::Dispatching) };
    let err = apply(state, DeliveryEvent::LeaseExpired, t0()).unwrap_err();
    assert_eq!(err.reason, IllegalReason::LeaseNotExpired { lease_until: t0() + secs(1) });
}

#[test]
fn lease_expiry_requeues_at_once_keeping_the_try_count() {
    let state = DeliveryState { tries: 3, lease_until: Some(t0()), ..state_in(S::Dispatching) };
    let after = apply(state, DeliveryEvent::LeaseExpired, t0()).unwrap();
    assert_eq!(after, DeliveryState { status: S::Pending, tries: 3, not_before: t0(), lease_until: None });
}

#[test]
fn lease_expiry_on_the_last_try_exhausts() {
    let state = DeliveryState { tries: 6, ..state_in(S::Dispatching) };
    let after = apply(state, DeliveryEvent::LeaseExpired, t0()).unwrap();
    assert_eq!((after.status, after.tries, after.lease_until), (S::Exhausted, 6, None));
}

#[test]
fn transient_failure_schedules_retry_with_jitter() {
    let state = DeliveryState { tries: 2, ..state_in(S::Dispatching) };
    let event = DeliveryEvent::VendorFailed { class: FailureClass::Transient, retry_after: None };
    let policy = RetryPolicy::default();
    let after = state.apply(&event, t0(), &policy, &mut FixedRandom(0.5)).unwrap();
    // Second delay 5s, u = 0.5 → exactly 5s.
    assert_eq!(
        after,
        DeliveryState { status: S::Pending, tries: 2, not_before: t0() + secs(5), lease_until: None }
    );
    let low = state.apply(&event, t0(), &policy, &mut FixedRandom(0.0)).unwrap();
    assert_eq!(low.not_before, t0() + TimeDelta::milliseconds(4_000));
}

#[test]
fn transient_failure_honours_retry_after_within_the_clamp() {
    let state = DeliveryState { tries: 1, ..state_in(S::Dispatching) };
    let failed = |retry_after: u64| DeliveryEvent::VendorFailed {
        class: FailureClass::Transient,
        retry_after: Some(Duration::from_secs(retry_after)),
    };
    assert_eq!(apply(state, failed(0), t0()).unwrap().not_before, t0() + secs(1));
    assert_eq!(apply(state, failed(2), t0()).unwrap().not_before, t0() + secs(2));
    assert_eq!(apply(state, failed(60), t0()).unwrap().not_before, t0() + secs(2));
}

#[test]
fn permanent_failure_goes_to_the_dlq_on_the_first_try() {
    let state = DeliveryState { tries: 1, ..state_in(S::Dispatching) };
    let event = DeliveryEvent::VendorFailed { class: FailureClass::Permanent, retry_after: None };
    let after = apply(state, event, t0()).unwrap();
    assert_eq!((after.status, after.tries, after.lease_until), (S::Exhausted, 1, None));
}

#[test]
fn failed_receipt_is_retried_like_a_transient_failure() {
    let sent = DeliveryState { tries: 1, ..state_in(S::Sent) };
    let after = apply(sent, DeliveryEvent::Receipt(ReceiptStatus::Failed), t0()).unwrap();
    assert_eq!((after.status, after.not_before), (S::Pending, t0() + TimeDelta::milliseconds(800)));
    let last = DeliveryState { tries: 6, ..sent };
    assert_eq!(
        apply(last, DeliveryEvent::Receipt(ReceiptStatus::Failed), t0()).unwrap().status,
        S::Exhausted
    );
}

#[test]
fn receipts_map_to_error_classes() {
    assert_eq!(ReceiptStatus::Delivered.error_class(), None);
    assert_eq!(
        ReceiptStatus::Failed.error_class().map(ErrorClass::failure_class),
        Some(FailureClass::Transient)
    );
    assert_eq!(ReceiptStatus::Bounced.error_class(), Some(ErrorClass::Bounced));
    assert_eq!(ReceiptStatus::Unregistered.error_class(), Some(ErrorClass::Unregistered));
    for class in
        [ErrorClass::Bounced, ErrorClass::Unregistered, ErrorClass::Permanent, ErrorClass::Configuration]
    {
        assert_eq!(class.failure_class(), FailureClass::Permanent, "{class}");
    }
    for class in
        [ErrorClass::Transient, ErrorClass::Timeout, ErrorClass::RateLimited, ErrorClass::LeaseExpired]
    {
        assert_eq!(class.failure_class(), FailureClass::Transient, "{class}");
    }
}

#[test]
fn replay_resets_tries_and_is_due_at_once() {
    let exhausted = DeliveryState { tries: 6, ..state_in(S::Exhausted) };
    let after = apply(exhausted, DeliveryEvent::Replay, t0() + secs(99)).unwrap();
    assert_eq!(after, DeliveryState::pending(t0() + secs(99)));
}

#[test]
fn terminal_statuses_are_delivered_discarded_and_cancelled_but_not_exhausted() {
    let terminal: Vec<_> = DeliveryStatus::ALL.iter().copied().filter(|s| s.is_terminal()).collect();
    assert_eq!(terminal, vec![S::Delivered, S::Discarded, S::Cancelled]);
    let open: Vec<_> =
        DeliveryStatus::ALL.iter().copied().filter(|s| !s.is_final_for_notification()).collect();
    assert_eq!(open, vec![S::Pending, S::Dispatching]);
    assert!(S::Exhausted.is_final_for_notification() && S::Exhausted.is_failure());
    assert!(S::Sent.is_success() && S::Delivered.is_success() && !S::Cancelled.is_success());
    assert_eq!(serde_json::to_string(&S::Exhausted).unwrap(), "\"EXHAUSTED\"");
}

#[test]
fn transient_failures_through_the_default_schedule_exhaust_after_six_tries() {
    let policy = RetryPolicy::default();
    let mut random = FixedRandom(0.0);
    let transient = DeliveryEvent::VendorFailed { class: FailureClass::Transient, retry_after: None };
    let mut now = t0();
    let mut state = DeliveryState::pending(now);
    let mut waits = Vec::new();
    for try_number in 1..=6 {
        now = state.not_before;
        let claim = DeliveryEvent::Claim { lease_until: now + secs(30) };
        state = state.apply(&claim, now, &policy, &mut random).unwrap();
        assert_eq!(state.tries, try_number);
        now += secs(2);
        state = state.apply(&transient, now, &policy, &mut random).unwrap();
        if state.status == S::Pending {
            waits.push((state.not_before - now).num_milliseconds());
        }
    }
    assert_eq!(waits, vec![800, 4_000, 24_000, 96_000, 480_000]);
    assert_eq!((state.status, state.tries), (S::Exhausted, 6));
    let claim = DeliveryEvent::Claim { lease_until: now + secs(30) };
    assert!(state.apply(&claim, now, &policy, &mut random).is_err());

    now += secs(3600);
    state = state.apply(&DeliveryEvent::Replay, now, &policy, &mut random).unwrap();
    assert_eq!(state, DeliveryState::pending(now));
    state = state.apply(&claim_at(now), now, &policy, &mut random).unwrap();
    assert_eq!((state.status, state.tries), (S::Dispatching, 1));
    state = state.apply(&DeliveryEvent::VendorAccepted, now, &policy, &mut random).unwrap();
    assert_eq!((state.status, state.tries, state.lease_until), (S::Sent, 1, None));
}

fn claim_at(now: DateTime<Utc>) -> DeliveryEvent {
    DeliveryEvent::Claim { lease_until: now + secs(30) }
}

#[test]
fn illegal_transition_names_the_status_and_event() {
    let err = apply(state_in(S::Delivered), DeliveryEvent::Replay, t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "REPLAY is not allowed on a DELIVERED delivery: the status does not accept it"
    );
}

/// One step of a random walk: how far the clock moves, then which event is tried.
#[derive(Debug, Clone)]
struct Step {
    advance_ms: i64,
    event: DeliveryEvent,
    u: f64,
}

fn any_event() -> impl Strategy<Value = DeliveryEvent> {
    let retry_after = proptest::option::of((0u64..=1_800).prop_map(Duration::from_secs));
    prop_oneof![
        (1i64..=600).prop_map(|s| DeliveryEvent::Claim { lease_until: t0() + secs(s) }),
        Just(DeliveryEvent::VendorAccepted),
        (prop::sample::select(FailureClass::ALL), retry_after)
            .prop_map(|(class, retry_after)| DeliveryEvent::VendorFailed { class, retry_after }),
        Just(DeliveryEvent::LeaseExpired),
        prop::sample::select(ReceiptStatus::ALL).prop_map(DeliveryEvent::Receipt),
        Just(DeliveryEvent::Replay),
        Just(DeliveryEvent::Discard),
        Just(DeliveryEvent::Cancel),
    ]
}

fn any_step() -> impl Strategy<Value = Step> {
    (0i64..=900_000, any_event(), 0.0f64..1.0).prop_map(|(advance_ms, event, u)| Step {
        advance_ms,
        event,
        u,
    })
}

/// Claim leases are generated relative to `t0()`; move them to the step's clock.
fn at_clock(event: DeliveryEvent, now: DateTime<Utc>) -> DeliveryEvent {
    match event {
        DeliveryEvent::Claim { lease_until } => {
            DeliveryEvent::Claim { lease_until: now + (lease_until - t0()) }
        }
        other => other,
    }
}

fn check_reachable(state: &DeliveryState, policy: &RetryPolicy) -> Result<(), TestCaseError> {
    prop_assert!(state.tries <= policy.max_tries(), "{:?}", state);
    prop_assert_eq!(state.lease_until.is_some(), state.status == S::Dispatching, "{:?}", state);
    match state.status {
        S::Pending => prop_assert!(state.tries < policy.max_tries(), "{:?}", state),
        S::Dispatching | S::Sent | S::Delivered | S::Exhausted => {
            prop_assert!(state.tries >= 1, "{:?}", state)
        }
        S::Discarded | S::Cancelled => {}
    }
    Ok(())
}

proptest! {
    #[test]
    fn random_event_sequences_never_reach_an_impossible_state(
        steps in prop::collection::vec(any_step(), 0..120),
        schedule_len in 1usize..=5,
    ) {
        let policy = RetryPolicy::new(vec![Duration::from_secs(1); schedule_len]).unwrap();
        let mut now = t0();
        let mut state = DeliveryState::pending(now);
        for step in steps {
            now += TimeDelta::milliseconds(step.advance_ms);
            let event = at_clock(step.event, now);
            let result = state.apply(&event, now, &policy, &mut FixedRandom(step.u));
            let accepted_by = |status: DeliveryStatus| match status {
                S::Delivered | S::Discarded | S::Cancelled => false,
                S::Exhausted => matches!(event, DeliveryEvent::Replay | DeliveryEvent::Discard),
                _ => true,
            };
            match result {
                Ok(next) => {
                    prop_assert!(accepted_by(state.status), "{:?} accepted {:?}", state, event);
                    prop_assert!(next.not_before >= state.not_before.min(now));
                    state = next;
                }
                Err(err) => prop_assert_eq!(err.from, state.status),
            }
            check_reachable(&state, &policy)?;
        }
    }

    #[test]
    fn legal_walks_stay_legal_and_retries_wait_within_the_jitter_bounds(
        choices in prop::collection::vec((any::<prop::sample::Index>(), 0.0f64..1.0, 1i64..=300), 1..150),
    ) {
        let policy = RetryPolicy::default();
        let mut now = t0();
        let mut state = DeliveryState::pending(now);
        for (pick, u, lease_secs) in choices {
            let legal: Vec<DeliveryEvent> = match state.status {
                S::Pending => vec![claim_at(now.max(state.not_before)), DeliveryEvent::Cancel],
                S::Dispatching => vec![
                    DeliveryEvent::VendorAccepted,
                    DeliveryEvent::VendorFailed { class: FailureClass::Transient, retry_after: None },
                    DeliveryEvent::VendorFailed { class: FailureClass::Permanent, retry_after: None },
                    DeliveryEvent::LeaseExpired,
                ],
                S::Sent => ReceiptStatus::ALL.iter().copied().map(DeliveryEvent::Receipt).collect(),
                S::Exhausted => vec![DeliveryEvent::Replay, DeliveryEvent::Discard],
                S::Delivered | S::Discarded | S::Cancelled => break,
            };
            let event = *pick.get(&legal);
            now = match (state.status, event) {
                (S::Pending, DeliveryEvent::Claim { .. }) => now.max(state.not_before),
                (S::Dispatching, DeliveryEvent::LeaseExpired) => state.lease_until.unwrap_or(now),
                _ => now,
            };
            let event = match event {
                DeliveryEvent::Claim { .. } => DeliveryEvent::Claim { lease_until: now + secs(lease_secs) },
                other => other,
            };
            let next = state.apply(&event, now, &policy, &mut FixedRandom(u));
            prop_assert!(next.is_ok(), "{:?} refused {:?}: {:?}", state, event, next);
            let next = next.unwrap_or(state);
            let transient = matches!(
                event,
                DeliveryEvent::VendorFailed { class: FailureClass::Transient, .. }
                    | DeliveryEvent::Receipt(ReceiptStatus::Failed)
            );
            if transient && next.status == S::Pending {
                let base = TimeDelta::from_std(policy.schedule()[state.tries as usize - 1]).unwrap();
                let wait = next.not_before - now;
                prop_assert!(wait * 5 >= base * 4 && wait * 5 < base * 6, "waited {} for {}", wait, base);
            }
            state = next;
            check_reachable(&state, &policy)?;
        }
    }
}
