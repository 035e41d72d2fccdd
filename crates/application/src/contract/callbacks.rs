//! [`CallbackLog`](crate::ports::CallbackLog): the `webhook-id`s of vendor callbacks claimed or
//! already taken.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use super::StoreParts;
use super::fixtures::*;
use crate::ports::Remembered;

async fn remember(s: &StoreParts, vendor: &str, id: &str, now: i64, claim_until: i64) -> Remembered {
    s.callbacks.remember(vendor, id, at(now), at(claim_until)).await.expect("remember")
}

async fn settle(s: &StoreParts, vendor: &str, id: &str, keep_until: i64) {
    s.callbacks.settle(vendor, id, at(keep_until)).await.expect("settle");
}

/// Runs the futures together (polling each in turn until all are done), so their store calls
/// overlap, and returns their outputs in order. Plain `std`: the checks have no runtime.
async fn all<'a, T>(futures: Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>) -> Vec<T> {
    let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                if let Poll::Ready(value) = future.as_mut().poll(cx) {
                    *output = Some(value);
                    *slot = None;
                }
            }
        }
        if futures.iter().all(Option::is_none) { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// The first `remember` of an id claims it; every later one before the claim ends finds it in
/// flight, and does not extend the claim.
pub async fn remember_claims_a_new_id_once_and_reports_it_in_flight(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 30).await, Remembered::New, "a new id is claimed");
    assert_eq!(remember(s, "ses", "msg_1", 1, 31).await, Remembered::InFlight, "claimed, not settled");
    assert_eq!(
        remember(s, "ses", "msg_1", 29, 59).await,
        Remembered::InFlight,
        "still in flight one second before the claim ends"
    );
    assert_eq!(
        remember(s, "ses", "msg_1", 30, 60).await,
        Remembered::New,
        "the claim ended at its first claim_until: the later calls did not extend it"
    );
}

/// `settle` turns the claim into a settled record kept until the given `keep_until` (not the
/// claim's end): every `remember` before then is a replay.
pub async fn settle_turns_a_claim_into_a_replay_until_keep_until(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 30).await, Remembered::New);
    settle(s, "ses", "msg_1", 600).await;
    assert_eq!(remember(s, "ses", "msg_1", 1, 31).await, Remembered::AlreadySeen, "a replay");
    assert_eq!(
        remember(s, "ses", "msg_1", 599, 629).await,
        Remembered::AlreadySeen,
        "still a replay after the claim would have ended, one second before keep_until"
    );
    assert_eq!(remember(s, "ses", "msg_1", 600, 630).await, Remembered::New, "expired at keep_until");
    assert_eq!(
        remember(s, "ses", "msg_1", 601, 631).await,
        Remembered::InFlight,
        "renewed as an unsettled claim, not as a settled record"
    );
}

/// An expired record, claim or settled, counts as absent: the id is claimed again until the
/// new `claim_until`. A claim settled after it expired (a slow apply) is still settled.
pub async fn an_expired_record_counts_as_absent_and_is_claimed_again(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 30).await, Remembered::New);
    assert_eq!(
        remember(s, "ses", "msg_1", 30, 60).await,
        Remembered::New,
        "a claim never settled (its applier crashed) expires at claim_until"
    );
    assert_eq!(remember(s, "ses", "msg_1", 59, 89).await, Remembered::InFlight, "until the new claim_until");
    settle(s, "ses", "msg_1", 600).await;
    assert_eq!(remember(s, "ses", "msg_1", 60, 90).await, Remembered::AlreadySeen, "settled");

    assert_eq!(remember(s, "ses", "msg_2", 0, 30).await, Remembered::New);
    settle(s, "ses", "msg_2", 100).await;
    assert_eq!(remember(s, "ses", "msg_2", 100, 130).await, Remembered::New, "an expired settled record");

    assert_eq!(remember(s, "ses", "msg_3", 0, 30).await, Remembered::New);
    settle(s, "ses", "msg_3", 700).await;
    assert_eq!(
        remember(s, "ses", "msg_3", 650, 680).await,
        Remembered::AlreadySeen,
        "settling an expired claim (still stored) keeps it until keep_until"
    );
}

/// `settle` of an id that is not recorded (never claimed, forgotten, or another vendor's)
/// succeeds and records nothing.
pub async fn settle_of_an_unknown_id_is_harmless(s: &StoreParts) {
    settle(s, "ses", "never-seen", 600).await;
    assert_eq!(remember(s, "ses", "never-seen", 1, 31).await, Remembered::New, "settle recorded nothing");

    assert_eq!(remember(s, "ses", "msg_1", 0, 30).await, Remembered::New);
    s.callbacks.forget("ses", "msg_1").await.expect("forget");
    settle(s, "ses", "msg_1", 600).await;
    assert_eq!(remember(s, "ses", "msg_1", 1, 31).await, Remembered::New, "a forgotten id stays forgotten");

    assert_eq!(remember(s, "ses", "msg_2", 0, 30).await, Remembered::New);
    settle(s, "twilio", "msg_2", 600).await;
    assert_eq!(remember(s, "ses", "msg_2", 1, 31).await, Remembered::InFlight, "another vendor's settle");
    assert_eq!(remember(s, "twilio", "msg_2", 1, 31).await, Remembered::New, "and nothing recorded for it");
}

/// Concurrent `remember`s of one id (a vendor retry racing the first, another replica): exactly
/// one claims it, the others find it in flight.
pub async fn concurrent_remembers_of_one_id_claim_it_exactly_once(s: &StoreParts) {
    for (round, now) in [("a fresh id", 0), ("an expired claim", 30)] {
        let calls = (0..8)
            .map(|_| {
                let future: Pin<Box<dyn Future<Output = Remembered> + Send + '_>> =
                    Box::pin(remember(s, "ses", "msg_1", now, now + 30));
                future
            })
            .collect();
        let outcomes = all(calls).await;
        let new = outcomes.iter().filter(|o| **o == Remembered::New).count();
        assert_eq!(new, 1, "{round}: exactly one claim in {outcomes:?}");
        assert!(
            outcomes.iter().all(|o| matches!(o, Remembered::New | Remembered::InFlight)),
            "{round}: the others are in flight: {outcomes:?}"
        );
    }
}

/// Records are per `(vendor, webhook_id)`: the same id from another vendor is another callback.
pub async fn vendors_and_ids_are_independent(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 30).await, Remembered::New);
    assert_eq!(remember(s, "twilio", "msg_1", 0, 30).await, Remembered::New, "another vendor");
    assert_eq!(remember(s, "ses", "msg_2", 0, 30).await, Remembered::New, "another id");
    assert_eq!(remember(s, "ses", "MSG_1", 0, 30).await, Remembered::New, "ids are case-sensitive");
    settle(s, "ses", "msg_1", 600).await;
    assert_eq!(remember(s, "ses", "msg_1", 1, 31).await, Remembered::AlreadySeen);
    assert_eq!(remember(s, "twilio", "msg_1", 1, 31).await, Remembered::InFlight, "settled per vendor");
    assert_eq!(remember(s, "ses", "msg_2", 1, 31).await, Remembered::InFlight, "settled per id");
}

/// `forget` deletes the record, claim or settled, so the vendor's retry is taken; unknown ids
/// are ignored.
pub async fn forget_lets_the_id_be_taken_again(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 30).await, Remembered::New);
    assert_eq!(remember(s, "ses", "msg_2", 0, 30).await, Remembered::New);
    assert_eq!(remember(s, "ses", "msg_3", 0, 30).await, Remembered::New);
    settle(s, "ses", "msg_3", 600).await;
    s.callbacks.forget("ses", "msg_1").await.expect("forget");
    s.callbacks.forget("ses", "msg_3").await.expect("forget");
    s.callbacks.forget("ses", "never-seen").await.expect("forgetting an unknown id is fine");
    s.callbacks.forget("twilio", "msg_2").await.expect("forget");
    assert_eq!(remember(s, "ses", "msg_1", 1, 31).await, Remembered::New, "a forgotten claim");
    assert_eq!(remember(s, "ses", "msg_3", 1, 31).await, Remembered::New, "a forgotten settled record");
    assert_eq!(remember(s, "ses", "msg_2", 1, 31).await, Remembered::InFlight, "another vendor's forget");
}

/// `purge_expired` deletes records with `keep_until <= now` only, claims and settled ones alike,
/// at most `limit`.
pub async fn purge_deletes_only_expired_records(s: &StoreParts) {
    for (id, claim_until) in [("a", 100), ("b", 200), ("c", 300), ("d", 400), ("e", 30)] {
        assert_eq!(remember(s, "ses", id, 0, claim_until).await, Remembered::New);
    }
    settle(s, "ses", "b", 200).await;
    settle(s, "ses", "d", 400).await;
    settle(s, "ses", "e", 500).await;
    assert_eq!(s.callbacks.purge_expired(at(300), 2).await.expect("purge"), 2, "the limit");
    assert_eq!(s.callbacks.purge_expired(at(300), 10).await.expect("purge"), 1, "the third expired record");
    assert_eq!(s.callbacks.purge_expired(at(300), 10).await.expect("purge"), 0, "nothing left to purge");
    assert_eq!(
        remember(s, "ses", "d", 350, 380).await,
        Remembered::AlreadySeen,
        "the live settled record survived the purge"
    );
    assert_eq!(
        remember(s, "ses", "e", 350, 380).await,
        Remembered::AlreadySeen,
        "settling moved the record's end past its claim's"
    );
    for id in ["a", "b", "c"] {
        assert_eq!(remember(s, "ses", id, 350, 380).await, Remembered::New, "{id} was purged");
    }
}
