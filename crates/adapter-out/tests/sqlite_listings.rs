//! Listings on SQLite: notifications newest first and the DLQ oldest first, over cursors whose
//! timestamps tie, with every filter, checked against the in-memory fake; DLQ counts and stats.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use hub_application::fakes::InMemoryStore;
use hub_application::ports::{
    DlqCursor, DlqFilter, DlqStore, NewNotification, NotificationCursor, NotificationFilter,
    NotificationStore,
};
use hub_domain::delivery::ErrorClass;
use hub_domain::{Channel, Kind};

/// Accepts `ids` (all at `created_at`) with alternating recipients and kinds.
async fn accept_many<S: NotificationStore + ?Sized>(
    store: &S,
    ids: impl IntoIterator<Item = u128>,
    created_at: DateTime<Utc>,
) {
    for n in ids {
        let mut new: NewNotification = new_notification(n, created_at);
        if n % 2 == 0 {
            new.notification.recipient_id = rid("bob");
            new.notification.kind = Kind::Marketing;
        }
        store.accept(new).await.unwrap();
    }
}

/// Pages through a listing two at a time, returning the ids in order.
async fn list_all<S: NotificationStore + ?Sized>(
    store: &S,
    filter: &NotificationFilter,
) -> Vec<hub_domain::NotificationId> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = NotificationStore::list(store, filter, after, 2).await.unwrap();
        if page.is_empty() {
            return seen;
        }
        let last = &page.last().unwrap().notification;
        after = Some(NotificationCursor { created_at: last.created_at, id: last.id });
        seen.extend(page.iter().map(|n| n.notification.id));
    }
}

#[tokio::test]
async fn notification_pages_never_skip_or_repeat_equal_timestamps() {
    let (_dir, store) = temp_store().await;
    let fake = InMemoryStore::new();
    for s in [&store as &dyn NotificationStore, &fake] {
        accept_many(s, 1..=5, t0()).await;
        accept_many(s, 6..=7, t0() + secs(1)).await;
        accept_many(s, 8..=8, t0() - secs(1)).await;
    }
    let all = list_all(&store, &NotificationFilter::default()).await;
    assert_eq!(all, vec![ntf(7), ntf(6), ntf(5), ntf(4), ntf(3), ntf(2), ntf(1), ntf(8)]);
    let filters = [
        NotificationFilter::default(),
        NotificationFilter { recipient_id: Some(rid("bob")), ..Default::default() },
        NotificationFilter { kind: Some(Kind::Transactional), ..Default::default() },
        NotificationFilter { from: Some(t0()), to: Some(t0() + secs(1)), ..Default::default() },
    ];
    for filter in &filters {
        assert_eq!(list_all(&store, filter).await, list_all(&fake, filter).await, "{filter:?}");
    }
    let page = NotificationStore::list(&store, &NotificationFilter::default(), None, 1).await.unwrap();
    assert_eq!(page[0].deliveries.len(), 1, "each item comes with its deliveries");
}

#[tokio::test]
async fn the_dlq_lists_oldest_first_over_equal_timestamps_and_counts_and_buckets_in_sql() {
    let (_dir, store) = temp_store().await;
    let fake = InMemoryStore::new();
    let classes = [ErrorClass::Permanent, ErrorClass::Bounced, ErrorClass::Permanent, ErrorClass::Transient];
    for n in 1..=8u128 {
        let mut new = new_notification(n, t0());
        if n % 3 == 0 {
            new.deliveries[0].channel = Channel::Sms;
            new.deliveries[0].target = hub_domain::Target::Address(
                hub_domain::Address::parse(Channel::Sms, "+821012345678").unwrap(),
            );
        }
        store.accept(new.clone()).await.unwrap();
        fake.accept(new).await.unwrap();
        // Two per instant: equal exhausted_at values.
        let when = t0() + secs(1800 * ((n as i64 - 1) / 2));
        exhaust(&store, n, when, classes[(n % 4) as usize]).await;
        exhaust(&fake, n, when, classes[(n % 4) as usize]).await;
    }
    let filters = [
        DlqFilter::default(),
        DlqFilter { channel: Some(Channel::Sms), ..Default::default() },
        DlqFilter { error_class: Some(ErrorClass::Permanent), ..Default::default() },
        DlqFilter { from: Some(t0() + secs(1800)), to: Some(t0() + secs(5400)), ..Default::default() },
    ];
    for filter in &filters {
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = DlqStore::list(&store, filter, after, 3).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(DlqCursor { exhausted_at: last.exhausted_at.unwrap(), id: last.id });
            pages.extend(page.into_iter().map(|d| d.id));
        }
        let expected: Vec<_> =
            DlqStore::list(&fake, filter, None, 100).await.unwrap().into_iter().map(|d| d.id).collect();
        assert_eq!(pages, expected, "{filter:?}");
        assert_eq!(store.count(filter).await.unwrap(), expected.len() as u64);
    }
    assert_eq!(store.count(&DlqFilter::default()).await.unwrap(), 8);
    for bucket in [0, 1, 3600, 7200, u64::MAX] {
        let (from, to) = (t0() - secs(7200), t0() + secs(7200));
        let stats = store.stats(from, to, bucket).await.unwrap();
        assert_eq!(stats, fake.stats(from, to, bucket).await.unwrap(), "bucket {bucket}");
    }
    let hourly = store.stats(t0(), t0() + secs(7200), 3600).await.unwrap();
    assert_eq!(hourly.iter().map(|r| r.count).sum::<u64>(), 8);
    assert!(
        hourly.windows(2).all(|w| (w[0].bucket_start, w[0].channel) <= (w[1].bucket_start, w[1].channel))
    );
    assert!(store.stats(t0(), t0(), 3600).await.unwrap().is_empty());
}
