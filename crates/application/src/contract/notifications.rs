//! [`NotificationStore`](crate::ports::NotificationStore): atomic accept, get and listing.

use chrono::{DateTime, Utc};
use hub_domain::resolver::Reason;
use hub_domain::{Channel, Kind, NotificationId, Priority};

use super::StoreParts;
use super::fixtures::*;
use crate::error::PortError;
use crate::ports::{
    AcceptOutcome, NotificationCursor, NotificationFilter, NotificationRecord, SkippedChannel,
};

/// Ids of a full listing, page by page (`page` items each), following the cursor.
async fn list_ids(s: &StoreParts, filter: &NotificationFilter, page: usize) -> Vec<NotificationId> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let items = s.notifications.list(filter, after, page).await.expect("list notifications");
        assert!(items.len() <= page, "list returned {} items for a limit of {page}", items.len());
        let Some(last) = items.last() else { return ids };
        after =
            Some(NotificationCursor { created_at: last.notification.created_at, id: last.notification.id });
        ids.extend(items.iter().map(|n| n.notification.id));
        assert!(ids.len() <= 100, "listing does not end (a cursor that does not advance?)");
    }
}

/// Stores notification `n` for `recipient` at `created_at` with one EMAIL delivery.
async fn stored_notification(
    s: &StoreParts,
    n: u128,
    recipient: &str,
    kind: Kind,
    created_at: DateTime<Utc>,
) -> NotificationRecord {
    let record = notification(n, recipient, kind, created_at);
    let d = delivery(&record, n * 100, Channel::Email);
    accept(s, new_notification(record.clone(), vec![d])).await;
    record
}

/// Accept writes the notification (every field) and all its deliveries; get returns them in
/// creation order, and each delivery is readable on its own.
pub async fn accept_then_get_returns_the_notification_with_all_its_deliveries(s: &StoreParts) {
    let mut record = notification(1, "alice", Kind::Security, t0());
    record.priority = Priority::High;
    record.expires_at = Some(at(3600));
    record.metadata =
        serde_json::json!({ "orderId": "o-1", "items": [1, 2], "gift": false }).as_object().cloned();
    record.skipped = vec![SkippedChannel { channel: Channel::Slack, reason: Reason::NoAddress }];
    let email = delivery(&record, 10, Channel::Email);
    let mut sms = delivery(&record, 11, Channel::Sms);
    sms.fallback_for = Some(Channel::KakaoAlimtalk);
    sms.lms = true;
    sms.title = None;
    let mut push = delivery(&record, 12, Channel::Push);
    push.state.not_before = at(600);
    push.defer_reason = Some(Reason::QuietHours);
    let deliveries = vec![email, sms, push];
    accept(s, new_notification(record.clone(), deliveries.clone())).await;

    let got = s.notifications.get(record.id).await.expect("get").expect("the accepted notification");
    assert_eq!(got.notification, record, "the notification reads back exactly as accepted");
    assert_eq!(got.deliveries, deliveries, "all deliveries read back exactly, in creation order");
    for d in &deliveries {
        assert_eq!(&stored(s, d.id).await, d, "DeliveryStore::get of delivery {}", d.id);
    }
}

/// The outbox rows given to accept are stored as given and claimable by the relay.
pub async fn accept_writes_the_given_outbox_rows(s: &StoreParts) {
    let record = notification(1, "alice", Kind::Transactional, t0());
    let email = delivery(&record, 10, Channel::Email);
    let inbox = delivery(&record, 11, Channel::InApp);
    let events = vec![outbox_event(&email, 1, t0()), outbox_event(&inbox, 2, t0())];
    let mut new = new_notification(record, vec![email, inbox]);
    new.outbox = events.clone();
    accept(s, new).await;

    assert_eq!(s.outbox.backlog().await.expect("backlog"), (2, Some(t0())), "two unpublished rows");
    let claimed = s.outbox.claim(at(1), at(31), 10).await.expect("claim outbox");
    assert_eq!(claimed, events, "the relay claims exactly the rows accept was given");
}

/// Get of an id never accepted is `Ok(None)`.
pub async fn get_of_an_unknown_notification_is_none(s: &StoreParts) {
    stored_notification(s, 1, "alice", Kind::Service, t0()).await;
    let got = s.notifications.get(notification_id(2)).await.expect("get");
    assert!(got.is_none(), "unknown notification id must be None, got {got:?}");
}

/// The listing is newest first, carries each notification's deliveries and stops at `limit`.
pub async fn list_is_newest_first_with_deliveries_and_honours_the_limit(s: &StoreParts) {
    let old = stored_notification(s, 1, "alice", Kind::Service, at(0)).await;
    let new = stored_notification(s, 2, "alice", Kind::Service, at(20)).await;
    let middle = stored_notification(s, 3, "alice", Kind::Service, at(10)).await;

    let all = s.notifications.list(&NotificationFilter::default(), None, 10).await.expect("list");
    let ids: Vec<NotificationId> = all.iter().map(|n| n.notification.id).collect();
    assert_eq!(ids, vec![new.id, middle.id, old.id], "newest created_at first");
    for item in &all {
        let expected = s.notifications.get(item.notification.id).await.expect("get").expect("stored");
        assert_eq!(item, &expected, "a listed notification carries all its deliveries");
        assert_eq!(item.deliveries.len(), 1);
    }
    let two = s.notifications.list(&NotificationFilter::default(), None, 2).await.expect("list");
    assert_eq!(two.len(), 2, "limit 2 returns two items");
}

/// Equal `created_at` values are ordered by id descending, and paging with the cursor returns
/// every notification exactly once.
pub async fn list_pages_over_equal_timestamps_without_skipping_or_repeating(s: &StoreParts) {
    for (n, created) in [(1, 0), (2, 10), (3, 10), (4, 10), (5, 20), (6, 10)] {
        stored_notification(s, n, "alice", Kind::Marketing, at(created)).await;
    }
    let expected: Vec<NotificationId> = [5, 6, 4, 3, 2, 1].into_iter().map(notification_id).collect();
    for page in [1, 2, 4] {
        let ids = list_ids(s, &NotificationFilter::default(), page).await;
        assert_eq!(ids, expected, "pages of {page} over (created_at DESC, id DESC)");
    }
}

/// Recipient and kind filters keep only matching notifications.
pub async fn list_filters_by_recipient_and_kind(s: &StoreParts) {
    stored_notification(s, 1, "alice", Kind::Marketing, at(0)).await;
    stored_notification(s, 2, "bob", Kind::Marketing, at(1)).await;
    stored_notification(s, 3, "alice", Kind::Security, at(2)).await;
    stored_notification(s, 4, "bob", Kind::Security, at(3)).await;
    let ids = |v: &[u128]| v.iter().map(|n| notification_id(*n)).collect::<Vec<_>>();

    let alice = NotificationFilter { recipient_id: Some(recipient_id("alice")), ..Default::default() };
    assert_eq!(list_ids(s, &alice, 10).await, ids(&[3, 1]), "recipient filter");
    let security = NotificationFilter { kind: Some(Kind::Security), ..Default::default() };
    assert_eq!(list_ids(s, &security, 10).await, ids(&[4, 3]), "kind filter");
    let both = NotificationFilter { kind: Some(Kind::Marketing), ..alice };
    assert_eq!(list_ids(s, &both, 10).await, ids(&[1]), "recipient and kind together");
    let nobody = NotificationFilter { recipient_id: Some(recipient_id("carol")), ..Default::default() };
    assert_eq!(list_ids(s, &nobody, 10).await, ids(&[]), "a recipient without notifications");
}

/// `from` keeps notifications created at or after it, `to` those created strictly before it.
pub async fn list_filter_from_is_inclusive_and_to_is_exclusive(s: &StoreParts) {
    for n in 0..5 {
        stored_notification(s, n + 1, "alice", Kind::Service, at(i64::try_from(n).expect("small") * 10))
            .await;
    }
    let ids = |v: &[u128]| v.iter().map(|n| notification_id(*n)).collect::<Vec<_>>();
    let window = NotificationFilter { from: Some(at(10)), to: Some(at(30)), ..Default::default() };
    assert_eq!(list_ids(s, &window, 10).await, ids(&[3, 2]), "[from, to) = [t0+10s, t0+30s)");
    let from = NotificationFilter { from: Some(at(30)), ..Default::default() };
    assert_eq!(list_ids(s, &from, 10).await, ids(&[5, 4]), "from alone is inclusive");
    let to = NotificationFilter { to: Some(at(10)), ..Default::default() };
    assert_eq!(list_ids(s, &to, 10).await, ids(&[1]), "to alone is exclusive");
}

/// A key already used in its scope returns `DuplicateKey` with the first notification and
/// its fingerprint, and writes nothing: no notification, no delivery, no outbox row.
pub async fn accept_refuses_a_duplicate_key_and_writes_nothing(s: &StoreParts) {
    let first = notification(1, "alice", Kind::Transactional, t0());
    let first_delivery = delivery(&first, 10, Channel::Email);
    let mut new = new_notification(first.clone(), vec![first_delivery.clone()]);
    new.key = Some(accept_key("shop", "order-1", "first body"));
    new.outbox = vec![outbox_event(&first_delivery, 1, t0())];
    accept(s, new).await;

    let second = notification(2, "bob", Kind::Service, at(5));
    let second_delivery = delivery(&second, 20, Channel::Sms);
    let mut dup = new_notification(second.clone(), vec![second_delivery.clone()]);
    dup.key = Some(accept_key("shop", "order-1", "another body"));
    dup.outbox = vec![outbox_event(&second_delivery, 2, at(5))];
    let outcome = s.notifications.accept(dup).await.expect("accept");
    assert_eq!(
        outcome,
        AcceptOutcome::DuplicateKey { existing: first.id, fingerprint: fingerprint("first body") },
        "a key already used in the scope names the earlier notification and its fingerprint"
    );

    assert!(s.notifications.get(second.id).await.expect("get").is_none(), "no notification written");
    assert!(s.deliveries.get(second_delivery.id).await.expect("get").is_none(), "no delivery written");
    assert_eq!(s.outbox.backlog().await.expect("backlog").0, 1, "no outbox row written");
    let listed = s.notifications.list(&NotificationFilter::default(), None, 10).await.expect("list");
    assert_eq!(listed.len(), 1, "only the first notification is listed");
    assert_eq!(stored(s, first_delivery.id).await, first_delivery, "the first delivery is untouched");
}

/// Keys are unique per scope only: the same key in another scope, or no key, is accepted.
pub async fn the_same_key_in_another_scope_is_accepted(s: &StoreParts) {
    let first = notification(1, "alice", Kind::Transactional, t0());
    let mut new = new_notification(first.clone(), vec![delivery(&first, 10, Channel::Email)]);
    new.key = Some(accept_key("shop", "order-1", "body"));
    accept(s, new).await;

    let other = notification(2, "alice", Kind::Transactional, t0());
    let mut new = new_notification(other.clone(), vec![delivery(&other, 20, Channel::Email)]);
    new.key = Some(accept_key("billing", "order-1", "body"));
    accept(s, new).await;

    for n in [3, 4] {
        let unkeyed = notification(n, "alice", Kind::Transactional, t0());
        accept(s, new_notification(unkeyed.clone(), vec![delivery(&unkeyed, n * 10, Channel::Email)])).await;
    }
    let listed = s.notifications.list(&NotificationFilter::default(), None, 10).await.expect("list");
    assert_eq!(listed.len(), 4, "all four notifications are stored");
}

/// Accept with a notification or delivery id already stored fails with `Unexpected` and,
/// being one transaction, writes nothing — in particular its idempotency key stays free.
pub async fn accept_with_a_duplicate_id_fails_and_writes_nothing(s: &StoreParts) {
    let first = stored_notification(s, 1, "alice", Kind::Service, t0()).await;
    let first_delivery = stored(s, delivery_id(100)).await;

    let reused = notification(3, "carol", Kind::Service, at(4));
    let mut taken = delivery(&reused, 100, Channel::Push);
    taken.notification_id = reused.id;
    let mut new = new_notification(reused.clone(), vec![taken]);
    new.key = Some(accept_key("shop", "order-2", "body"));
    match s.notifications.accept(new).await {
        Err(PortError::Unexpected(_)) => {}
        other => panic!("accepting a duplicate delivery id must fail with Unexpected, got {other:?}"),
    }
    assert!(s.notifications.get(reused.id).await.expect("get").is_none(), "no notification written");
    assert_eq!(stored(s, first_delivery.id).await, first_delivery, "the stored delivery is untouched");

    let mut clash = notification(1, "bob", Kind::Marketing, at(5));
    clash.id = first.id;
    let clash_delivery = delivery(&clash, 20, Channel::Sms);
    let mut new = new_notification(clash, vec![clash_delivery.clone()]);
    new.key = Some(accept_key("shop", "order-2", "body"));
    new.outbox = vec![outbox_event(&clash_delivery, 1, at(5))];
    match s.notifications.accept(new).await {
        Err(PortError::Unexpected(_)) => {}
        other => panic!("accepting a duplicate notification id must fail with Unexpected, got {other:?}"),
    }

    let got = s.notifications.get(first.id).await.expect("get").expect("the first notification");
    assert_eq!(got.notification, first, "the stored notification is untouched");
    assert_eq!(got.deliveries.len(), 1, "no delivery was added to it");
    assert!(s.deliveries.get(clash_delivery.id).await.expect("get").is_none(), "no delivery written");
    assert_eq!(s.outbox.backlog().await.expect("backlog").0, 0, "no outbox row written");

    let retry = notification(2, "bob", Kind::Marketing, at(6));
    let mut new = new_notification(retry.clone(), vec![delivery(&retry, 30, Channel::Sms)]);
    new.key = Some(accept_key("shop", "order-2", "body"));
    let outcome = s.notifications.accept(new).await.expect("accept");
    assert_eq!(outcome, AcceptOutcome::Accepted, "the key of the failed accept was not kept");
}
