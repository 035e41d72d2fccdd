//! [`DeliveryStore::claim_many`](crate::ports::DeliveryStore::claim_many) and
//! [`DeliveryStore::record_results`](crate::ports::DeliveryStore::record_results): a
//! dispatcher's batch, each item claimed and stored on its own.

use chrono::{DateTime, Utc};
use futures::future::join_all;
use hub_domain::Channel;
use hub_domain::delivery::{DeliveryState, DeliveryStatus, ErrorClass, Try};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::{ClaimedDelivery, DeliveryRecord, DispatchResult, Expectation};

/// The result of the first try of a claimed delivery: `state` with `attempt`.
fn result_of(claimed: &ClaimedDelivery, state: DeliveryState, attempt: Try) -> DispatchResult {
    DispatchResult {
        id: claimed.id,
        channel: claimed.channel,
        expected: Expectation { status: DeliveryStatus::Dispatching, tries: claimed.state.tries },
        state,
        attempt,
        vendor_message_id: None,
        last_error_class: None,
    }
}

/// The claimed deliveries ordered by id.
async fn claim_sorted(
    s: &StoreParts,
    ids: &[hub_domain::DeliveryId],
    now: DateTime<Utc>,
) -> Vec<ClaimedDelivery> {
    let lease = now + chrono::TimeDelta::seconds(30);
    let mut claimed = s.deliveries.claim_many(ids, now, lease).await.expect("claim_many");
    claimed.sort_by_key(|c| c.id);
    claimed
}

/// Each due PENDING delivery named is claimed once, as `claim` would: DISPATCHING, tries + 1,
/// leased. An id given twice, an unknown id and a delivery not yet due are not claimed, and
/// nothing else changes.
pub async fn claim_many_claims_each_due_pending_delivery_once(s: &StoreParts) {
    let (_, due) = seed(s, 1, &[Channel::Email, Channel::Sms], at(0)).await;
    let (_, later) = seed(s, 2, &[Channel::Email], at(60)).await;
    let ids = [due[1].id, due[0].id, due[1].id, delivery_id(999), later[0].id];

    let claimed = claim_sorted(s, &ids, at(5)).await;
    let expected: Vec<ClaimedDelivery> = due
        .iter()
        .map(|d| {
            let state = DeliveryState {
                status: DeliveryStatus::Dispatching,
                tries: 1,
                not_before: d.state.not_before,
                lease_until: Some(at(35)),
            };
            ClaimedDelivery::from(DeliveryRecord { state, ..d.clone() })
        })
        .collect();
    assert_eq!(claimed, expected, "both due deliveries, each once");
    for c in &claimed {
        let now = stored(s, c.id).await;
        assert_eq!((now.state, now.updated_at), (c.state, at(5)), "the claim of {} is stored", c.id);
    }
    assert_eq!(stored(s, later[0].id).await, later[0], "the delivery not yet due is untouched");

    let again = s.deliveries.claim_many(&ids, at(6), at(36)).await.expect("claim_many");
    assert!(again.is_empty(), "claimed deliveries are not claimed again, got {again:?}");
    assert!(s.deliveries.claim_many(&[], at(6), at(36)).await.expect("claim_many").is_empty());
}

/// Dispatchers whose batches overlap (duplicate queue messages) claim each delivery exactly
/// once between them, whatever order their batches list the ids in, and none of them fails.
pub async fn overlapping_claim_many_calls_claim_each_delivery_exactly_once(s: &StoreParts) {
    let channels = [Channel::Email, Channel::Sms, Channel::Push, Channel::Slack, Channel::InApp];
    let mut ids = Vec::new();
    for n in 1..=4 {
        ids.extend(seed(s, n, &channels, at(0)).await.1.into_iter().map(|d| d.id));
    }
    let batches: Vec<Vec<_>> = (0..8)
        .map(|k| {
            let mut batch = ids.clone();
            batch.rotate_left(k * 3 % ids.len());
            if k % 2 == 1 {
                batch.reverse();
            }
            batch
        })
        .collect();
    let lease = at(31);
    let claims = join_all(batches.iter().map(|b| s.deliveries.claim_many(b, at(1), lease))).await;
    let mut claimed: Vec<_> = claims
        .into_iter()
        .flat_map(|c| c.expect("an overlapping claim_many must not fail"))
        .map(|c| c.id)
        .collect();
    claimed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(claimed, expected, "every delivery claimed exactly once over all batches");
}

/// Each result applies or not on its own: matching ones are stored with their try (after the
/// delivery's earlier tries), the vendor id, error class, `exhausted_at` and `queued_at` rules
/// of `update`; one whose expectation no longer holds, or whose delivery is unknown, is `false`
/// and changes nothing.
pub async fn record_results_applies_each_matching_result_on_its_own(s: &StoreParts) {
    let (_, d) = seed(s, 1, &[Channel::Email, Channel::Sms, Channel::Push, Channel::Slack], at(0)).await;
    assert_eq!(s.deliveries.enqueue_due(at(1), at(-300), 10).await.expect("enqueue_due"), 4);
    // The Slack delivery already failed once: its second try must follow the first.
    let first = claim_sorted(s, &[d[3].id], at(2)).await;
    let retry_state = DeliveryState { tries: 1, ..DeliveryState::pending(at(2)) };
    let failed = failed_try(at(2), ErrorClass::Transient);
    let first_result = result_of(&first[0], retry_state, failed.clone());
    let applied = s.deliveries.record_results(&[first_result], at(2)).await.expect("record_results");
    assert_eq!(applied, vec![true]);

    let claimed = claim_sorted(s, &[d[0].id, d[1].id, d[2].id, d[3].id], at(3)).await;
    let [email, sms, push, slack] = claimed.as_slice() else { panic!("four claims, got {claimed:?}") };
    assert_eq!(slack.state.tries, 2, "the Slack delivery's second try");
    let sent =
        |c: &ClaimedDelivery| DeliveryState { status: DeliveryStatus::Sent, lease_until: None, ..c.state };
    let mut results = vec![
        DispatchResult {
            vendor_message_id: Some("vendor-1".to_owned()),
            ..result_of(email, sent(email), sent_try(at(4)))
        },
        DispatchResult {
            last_error_class: Some(ErrorClass::Timeout),
            ..result_of(
                sms,
                DeliveryState { tries: 1, ..DeliveryState::pending(at(60)) },
                failed_try(at(4), ErrorClass::Timeout),
            )
        },
        DispatchResult {
            expected: Expectation { status: DeliveryStatus::Dispatching, tries: 0 },
            ..result_of(push, sent(push), sent_try(at(4)))
        },
        DispatchResult {
            last_error_class: Some(ErrorClass::Permanent),
            ..result_of(
                slack,
                DeliveryState { status: DeliveryStatus::Exhausted, lease_until: None, ..slack.state },
                failed_try(at(4), ErrorClass::Permanent),
            )
        },
    ];
    let mut unknown = results[0].clone();
    unknown.id = delivery_id(999);
    results.push(unknown);

    let applied = s.deliveries.record_results(&results, at(5)).await.expect("record_results");
    assert_eq!(applied, vec![true, true, false, true, false], "in the order given");

    let email_now = stored(s, email.id).await;
    let expected_email = DeliveryRecord {
        state: sent(email),
        tries: vec![sent_try(at(4))],
        vendor_message_id: Some("vendor-1".to_owned()),
        queued_at: Some(at(1)),
        updated_at: at(5),
        ..d[0].clone()
    };
    assert_eq!(email_now, expected_email, "SENT with its try and vendor id");

    let sms_now = stored(s, sms.id).await;
    assert_eq!(sms_now.state, DeliveryState { tries: 1, ..DeliveryState::pending(at(60)) });
    assert_eq!(sms_now.tries, vec![failed_try(at(4), ErrorClass::Timeout)]);
    assert_eq!(sms_now.last_error_class, Some(ErrorClass::Timeout));
    assert_eq!(sms_now.queued_at, None, "PENDING again: the due scheduler queues it when due");

    let push_now = stored(s, push.id).await;
    assert_eq!(
        (push_now.state, push_now.tries.len(), push_now.updated_at),
        (push.state, 0, at(3)),
        "unchanged"
    );

    let slack_now = stored(s, slack.id).await;
    assert_eq!(slack_now.state.status, DeliveryStatus::Exhausted);
    assert_eq!(slack_now.tries, vec![failed, failed_try(at(4), ErrorClass::Permanent)], "appended in order");
    assert_eq!(slack_now.exhausted_at, Some(at(5)), "EXHAUSTED now: in the DLQ");
    assert_eq!(slack_now.last_error_class, Some(ErrorClass::Permanent));

    let again = s.deliveries.record_results(&results[..2], at(6)).await.expect("record_results");
    assert_eq!(again, vec![false, false], "a result is stored once");
    assert!(s.deliveries.record_results(&[], at(6)).await.expect("record_results").is_empty());
}
