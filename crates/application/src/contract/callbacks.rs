//! [`CallbackLog`](crate::ports::CallbackLog): the `webhook-id`s of vendor callbacks already taken.

use super::StoreParts;
use super::fixtures::*;
use crate::ports::Remembered;

async fn remember(s: &StoreParts, vendor: &str, id: &str, now: i64, keep_until: i64) -> Remembered {
    s.callbacks.remember(vendor, id, at(now), at(keep_until)).await.expect("remember")
}

/// The first `remember` of an id records it; every later one before `keep_until` is a replay.
pub async fn remember_records_a_new_id_once_and_reports_replays(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 600).await, Remembered::New, "a new id");
    assert_eq!(remember(s, "ses", "msg_1", 1, 601).await, Remembered::AlreadySeen, "a replay");
    assert_eq!(
        remember(s, "ses", "msg_1", 599, 1199).await,
        Remembered::AlreadySeen,
        "still a replay one second before the record expires"
    );
}

/// A record whose `keep_until` has passed counts as absent: the id is taken again and kept
/// until the new `keep_until`.
pub async fn an_expired_record_counts_as_absent_and_is_renewed(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 600).await, Remembered::New);
    assert_eq!(remember(s, "ses", "msg_1", 600, 1200).await, Remembered::New, "expired at keep_until");
    assert_eq!(
        remember(s, "ses", "msg_1", 1000, 1600).await,
        Remembered::AlreadySeen,
        "the renewed record lives until its new keep_until"
    );
}

/// Records are per `(vendor, webhook_id)`: the same id from another vendor is another callback.
pub async fn vendors_and_ids_are_independent(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 600).await, Remembered::New);
    assert_eq!(remember(s, "twilio", "msg_1", 0, 600).await, Remembered::New, "another vendor");
    assert_eq!(remember(s, "ses", "msg_2", 0, 600).await, Remembered::New, "another id");
    assert_eq!(remember(s, "ses", "MSG_1", 0, 600).await, Remembered::New, "ids are case-sensitive");
}

/// `forget` deletes the record, so the vendor's retry is taken; unknown ids are ignored.
pub async fn forget_lets_the_id_be_taken_again(s: &StoreParts) {
    assert_eq!(remember(s, "ses", "msg_1", 0, 600).await, Remembered::New);
    assert_eq!(remember(s, "ses", "msg_2", 0, 600).await, Remembered::New);
    s.callbacks.forget("ses", "msg_1").await.expect("forget");
    s.callbacks.forget("ses", "never-seen").await.expect("forgetting an unknown id is fine");
    s.callbacks.forget("twilio", "msg_2").await.expect("forget");
    assert_eq!(remember(s, "ses", "msg_1", 1, 601).await, Remembered::New, "forgotten");
    assert_eq!(remember(s, "ses", "msg_2", 1, 601).await, Remembered::AlreadySeen, "another vendor's forget");
}

/// `purge_expired` deletes records with `keep_until <= now` only, at most `limit`.
pub async fn purge_deletes_only_expired_records(s: &StoreParts) {
    for (id, keep_until) in [("a", 100), ("b", 200), ("c", 300), ("d", 400)] {
        assert_eq!(remember(s, "ses", id, 0, keep_until).await, Remembered::New);
    }
    assert_eq!(s.callbacks.purge_expired(at(300), 2).await.expect("purge"), 2, "the limit");
    assert_eq!(s.callbacks.purge_expired(at(300), 10).await.expect("purge"), 1, "the third expired record");
    assert_eq!(s.callbacks.purge_expired(at(300), 10).await.expect("purge"), 0, "nothing left to purge");
    assert_eq!(
        remember(s, "ses", "d", 350, 950).await,
        Remembered::AlreadySeen,
        "the live record survived the purge"
    );
}
