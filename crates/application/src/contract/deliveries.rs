//! [`DeliveryStore`](crate::ports::DeliveryStore): claims and lookups.

use hub_domain::Channel;
use hub_domain::delivery::{DeliveryState, DeliveryStatus};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::{DeliveryRecord, DeliveryUpdate, Expectation};

/// `record` with everything but `updated_at` as in `expected`.
fn assert_same_but_updated_at(record: &DeliveryRecord, expected: &DeliveryRecord, what: &str) {
    let expected = DeliveryRecord { updated_at: record.updated_at, ..expected.clone() };
    assert_eq!(record, &expected, "{what}");
}

/// A due PENDING delivery is claimed once: DISPATCHING, tries + 1, leased until `lease_until`;
/// a second claim (a duplicate queue message) gets `None`.
pub async fn claim_takes_a_due_pending_delivery_once(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms], at(0)).await;
    let d = &deliveries[0];

    let claimed =
        s.deliveries.claim(d.id, at(5), at(35)).await.expect("claim").expect("a due PENDING delivery");
    let state = DeliveryState {
        status: DeliveryStatus::Dispatching,
        tries: 1,
        not_before: d.state.not_before,
        lease_until: Some(at(35)),
    };
    assert_same_but_updated_at(&claimed, &DeliveryRecord { state, ..d.clone() }, "the claimed delivery");
    assert_eq!(stored(s, d.id).await, claimed, "the claim is stored as returned");

    let again = s.deliveries.claim(d.id, at(6), at(36)).await.expect("claim");
    assert!(again.is_none(), "a second claim of the same delivery must be None, got {again:?}");
    assert_eq!(stored(s, d.id).await, claimed, "the refused claim changed nothing");
    assert_eq!(stored(s, deliveries[1].id).await, deliveries[1], "the other delivery is untouched");
}

/// A PENDING delivery is not claimed before `not_before`, and is at exactly `not_before`.
pub async fn claim_refuses_a_delivery_that_is_not_yet_due(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email], at(60)).await;
    let d = &deliveries[0];
    let early = s.deliveries.claim(d.id, at(59), at(89)).await.expect("claim");
    assert!(early.is_none(), "a claim before not_before must be None, got {early:?}");
    assert_eq!(stored(s, d.id).await, *d, "the refused claim changed nothing");

    let due = s.deliveries.claim(d.id, at(60), at(90)).await.expect("claim");
    let due = due.expect("a claim at exactly not_before succeeds (not_before <= now)");
    assert_eq!(due.state.tries, 1);
}

/// Only PENDING deliveries are claimed: not a DISPATCHING, SENT or CANCELLED one.
pub async fn claim_refuses_a_delivery_that_is_not_pending(s: &StoreParts) {
    let (record, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms], at(0)).await;
    let sent = claim(s, deliveries[0].id, at(1)).await;
    let state = DeliveryState { status: DeliveryStatus::Sent, lease_until: None, ..sent.state };
    let expected = Expectation { status: DeliveryStatus::Dispatching, tries: 1 };
    let sent = apply(s, sent.id, expected, DeliveryUpdate::state(state), at(2)).await;
    let cancelled = s.deliveries.cancel_pending(record.id, at(3)).await.expect("cancel");
    assert_eq!(cancelled, Some(1), "the SMS delivery is cancelled");

    for (id, status) in [(sent.id, "SENT"), (deliveries[1].id, "CANCELLED")] {
        let before = stored(s, id).await;
        let claim = s.deliveries.claim(id, at(10), at(40)).await.expect("claim");
        assert!(claim.is_none(), "a {status} delivery must not be claimed, got {claim:?}");
        assert_eq!(stored(s, id).await, before, "the refused claim changed nothing");
    }
}

/// Claim and get of an unknown delivery are `Ok(None)`.
pub async fn claim_and_get_of_an_unknown_delivery_are_none(s: &StoreParts) {
    seed(s, 1, &[Channel::Email], at(0)).await;
    let unknown = delivery_id(999);
    assert!(s.deliveries.get(unknown).await.expect("get").is_none(), "get of an unknown delivery");
    let claim = s.deliveries.claim(unknown, at(1), at(31)).await.expect("claim");
    assert!(claim.is_none(), "claim of an unknown delivery must be None, got {claim:?}");
}

/// A recorded vendor message id finds its delivery, on its channel or on any channel, and
/// nothing else.
pub async fn find_by_vendor_message_id_with_and_without_channel(s: &StoreParts) {
    let (_, deliveries) = seed(s, 1, &[Channel::Email, Channel::Sms], at(0)).await;
    let claimed = claim(s, deliveries[0].id, at(1)).await;
    let state = DeliveryState { status: DeliveryStatus::Sent, lease_until: None, ..claimed.state };
    let update = DeliveryUpdate {
        vendor_message_id: Some("vendor-msg-1".to_owned()),
        push_try: Some(sent_try(at(1))),
        ..DeliveryUpdate::state(state)
    };
    let expected = Expectation { status: DeliveryStatus::Dispatching, tries: 1 };
    let sent = apply(s, claimed.id, expected, update, at(2)).await;

    let find = |channel, id: &'static str| s.deliveries.find_by_vendor_message_id(channel, id);
    assert_eq!(find(None, "vendor-msg-1").await.expect("find"), Some(sent.clone()), "without a channel");
    assert_eq!(find(Some(Channel::Email), "vendor-msg-1").await.expect("find"), Some(sent), "on its channel");
    let other = find(Some(Channel::Sms), "vendor-msg-1").await.expect("find");
    assert!(other.is_none(), "the id on another channel must be None, got {other:?}");
    let unknown = find(None, "vendor-msg-2").await.expect("find");
    assert!(unknown.is_none(), "an unknown vendor id must be None, got {unknown:?}");
}
