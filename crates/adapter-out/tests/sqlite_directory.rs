//! RecipientStore, DeviceStore, TemplateStore and AuditLog on SQLite.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use hub_application::fakes::InMemoryStore;
use hub_application::ports::{
    AuditAction, AuditEntry, AuditFilter, AuditLog, DeviceRegistration, DeviceStore, NotificationStore,
    PutOutcome, RecipientStore, TemplateFilter, TemplateRecord, TemplateStore,
};
use hub_domain::delivery::{DeliveryState, DeliveryStatus};
use hub_domain::preferences::{KindPreference, Preferences};
use hub_domain::recipient::parse_contacts;
use hub_domain::template::TemplateKey;
use hub_domain::{
    AuditId, Channel, ChannelSet, DailyWindow, DeviceId, DeviceToken, Kind, Locale, Platform, Recipient,
    Target, TemplateId, Timezone,
};

fn t0() -> DateTime<Utc> {
    at("2026-01-15T03:00:00Z")
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn recipient(id: &str, email: &str) -> Recipient {
    Recipient {
        id: rid(id),
        contacts: parse_contacts([
            (Channel::Email, Some(email)),
            (Channel::Push, None),
            (Channel::Sms, Some("+821012345678")),
        ])
        .unwrap(),
        locale: Locale::parse("ko-kr").unwrap(),
        timezone: Timezone::parse("Asia/Seoul").unwrap(),
        devices: Vec::new(),
    }
}

fn token(c: char) -> DeviceToken {
    DeviceToken::parse(&c.to_string().repeat(40)).unwrap()
}

fn device_id(n: u128) -> DeviceId {
    DeviceId::from_parts(1_700_000_000_000, n)
}

#[tokio::test]
async fn a_recipient_is_created_replaced_and_keeps_devices_and_preferences() {
    let (_dir, store) = temp_store().await;
    let alice = recipient("alice", "alice@example.com");
    assert_eq!(store.put(&alice, t0()).await.unwrap(), PutOutcome::Created);
    let stored = RecipientStore::get(&store, &rid("alice")).await.unwrap().unwrap();
    assert_eq!(stored.recipient, alice);
    assert_eq!((stored.preferences, stored.created_at, stored.updated_at), (None, t0(), t0()));

    let mut kinds = BTreeMap::new();
    kinds.insert(Kind::Marketing, KindPreference { allowed: false, channels: ChannelSet::EMPTY });
    let prefs = Preferences::new(kinds, Some(DailyWindow::parse("23:00-07:30").unwrap())).unwrap();
    assert!(store.put_preferences(&rid("alice"), &prefs, t0() + secs(1)).await.unwrap());
    assert!(!store.put_preferences(&rid("nobody"), &prefs, t0()).await.unwrap());
    store.register(&rid("alice"), Platform::Ios, &token('a'), device_id(1), t0()).await.unwrap();

    let mut changed = recipient("alice", "new@example.com");
    changed.contacts.reverse();
    changed.timezone = Timezone::parse("Europe/Berlin").unwrap();
    assert_eq!(store.put(&changed, t0() + secs(2)).await.unwrap(), PutOutcome::Replaced);
    let stored = RecipientStore::get(&store, &rid("alice")).await.unwrap().unwrap();
    assert_eq!(stored.recipient.contacts, changed.contacts, "replaced, in the order given");
    assert_eq!(stored.recipient.timezone, changed.timezone);
    assert_eq!(stored.recipient.devices.len(), 1, "devices are kept");
    assert_eq!(stored.preferences, Some(prefs), "preferences are kept");
    assert_eq!((stored.created_at, stored.updated_at), (t0(), t0() + secs(2)));
    assert_eq!(RecipientStore::get(&store, &rid("nobody")).await.unwrap(), None);
}

#[tokio::test]
async fn erasure_removes_the_person_masks_history_and_cancels_what_was_not_sent() {
    let (_dir, store) = temp_store().await;
    let fake = InMemoryStore::new();
    let alice = recipient("alice", "alice@example.com");
    let mut new = new_notification(1, t0());
    let mut sent = new.deliveries[0].clone();
    sent.id = dlv(2);
    sent.state = DeliveryState { status: DeliveryStatus::Sent, ..sent.state };
    let mut push = new.deliveries[0].clone();
    push.id = dlv(3);
    push.channel = Channel::Push;
    push.target = Target::Device { id: device_id(1), token: "a".repeat(40) };
    new.deliveries.extend([sent, push]);
    for s in [&store as &dyn AllStoresDyn, &fake] {
        s.put(&alice, t0()).await.unwrap();
        s.register(&rid("alice"), Platform::Android, &token('a'), device_id(1), t0()).await.unwrap();
        s.accept(new.clone()).await.unwrap();
        assert!(!s.erase(&rid("nobody"), t0()).await.unwrap());
        assert!(s.erase(&rid("alice"), t0() + secs(5)).await.unwrap());
    }
    assert_eq!(RecipientStore::get(&store, &rid("alice")).await.unwrap(), None);
    assert!(DeviceStore::list(&store, &rid("alice")).await.unwrap().is_empty(), "devices are gone");
    let history = NotificationStore::get(&store, ntf(1)).await.unwrap().unwrap();
    assert_eq!(history, NotificationStore::get(&fake, ntf(1)).await.unwrap().unwrap(), "same as the oracle");
    let statuses: Vec<_> = history.deliveries.iter().map(|d| d.state.status).collect();
    assert_eq!(statuses, vec![DeliveryStatus::Cancelled, DeliveryStatus::Sent, DeliveryStatus::Cancelled]);
    for d in &history.deliveries {
        assert!(matches!(&d.target, Target::Erased { masked } if masked.contains("***")), "{:?}", d.target);
        assert_eq!(d.updated_at, t0() + secs(5));
    }
    assert_eq!(store.put(&alice, t0() + secs(6)).await.unwrap(), PutOutcome::Created, "a new person now");
}

/// The ports the erasure test needs, on both stores, as one object type.
trait AllStoresDyn: RecipientStore + DeviceStore + NotificationStore {}
impl<T: RecipientStore + DeviceStore + NotificationStore> AllStoresDyn for T {}

#[tokio::test]
async fn devices_are_registered_moved_reactivated_and_capped_at_ten_active() {
    let (_dir, store) = temp_store().await;
    let (alice, bob) = (rid("alice"), rid("bob"));
    let created = store.register(&alice, Platform::Android, &token('a'), device_id(1), t0()).await.unwrap();
    assert!(matches!(created, DeviceRegistration::Created(ref d) if d.id == device_id(1) && d.active));
    assert!(store.disable(&alice, device_id(1)).await.unwrap());
    assert!(!store.disable(&bob, device_id(1)).await.unwrap(), "not bob's");
    let again =
        store.register(&alice, Platform::Ios, &token('a'), device_id(2), t0() + secs(1)).await.unwrap();
    assert_eq!(
        again,
        DeviceRegistration::Existing(hub_domain::Device {
            id: device_id(1),
            platform: Platform::Ios,
            token: token('a'),
            active: true,
            registered_at: t0() + secs(1),
        }),
        "re-activated, new_id unused"
    );
    let moved = store.register(&bob, Platform::Ios, &token('a'), device_id(3), t0() + secs(2)).await.unwrap();
    assert!(matches!(moved, DeviceRegistration::Moved(ref d) if d.id == device_id(1)));
    assert!(DeviceStore::list(&store, &alice).await.unwrap().is_empty());

    for (i, c) in "bcdefghijklm".chars().enumerate() {
        let n = i as i64 + 10;
        store.register(&alice, Platform::Web, &token(c), device_id(n as u128), t0() + secs(n)).await.unwrap();
    }
    let devices = DeviceStore::list(&store, &alice).await.unwrap();
    assert_eq!(devices.len(), 12);
    assert!(devices.windows(2).all(|w| w[0].registered_at <= w[1].registered_at), "oldest first");
    let active: Vec<_> = devices.iter().map(|d| d.active).collect();
    assert_eq!(active, [vec![false, false], vec![true; 10]].concat(), "the two oldest were disabled");
    assert!(store.disable_by_id(device_id(21)).await.unwrap());
    assert!(!store.disable_by_id(device_id(99)).await.unwrap());
    let record = RecipientStore::get(&store, &alice).await.unwrap();
    assert!(record.is_none(), "devices alone do not make a recipient");
}

fn template(n: u128, key: &str, locale: &str, channel: Channel) -> TemplateRecord {
    TemplateRecord {
        id: TemplateId::from_parts(1_700_000_000_000, n),
        key: TemplateKey::parse(key).unwrap(),
        locale: Locale::parse(locale).unwrap(),
        channel,
        title: Some("Order {{order}}".into()),
        body: "Your order {{order}} shipped".into(),
        version: 1,
        created_at: t0(),
        updated_at: t0(),
    }
}

#[tokio::test]
async fn templates_are_unique_per_key_locale_channel_and_keep_their_versions() {
    let (_dir, store) = temp_store().await;
    let fake = InMemoryStore::new();
    let all = [
        template(1, "order.shipped", "en", Channel::Sms),
        template(2, "order.shipped", "en", Channel::Push),
        template(3, "order.shipped", "en", Channel::Email),
        template(4, "order.shipped", "ko", Channel::Push),
        template(5, "account.locked", "en", Channel::InApp),
    ];
    for t in &all {
        assert!(store.create(t).await.unwrap());
        assert!(fake.create(t).await.unwrap());
    }
    let duplicate = template(6, "order.shipped", "en", Channel::Sms);
    assert!(!store.create(&duplicate).await.unwrap());
    assert_eq!(TemplateStore::get(&store, duplicate.id).await.unwrap(), None, "nothing written");
    assert_eq!(store.versions(duplicate.id).await.unwrap(), None);

    let filters = [
        TemplateFilter::default(),
        TemplateFilter { key: Some(TemplateKey::parse("order.shipped").unwrap()), ..Default::default() },
        TemplateFilter { channel: Some(Channel::Push), ..Default::default() },
        TemplateFilter { locale: Some(Locale::parse("en").unwrap()), ..Default::default() },
    ];
    for filter in &filters {
        let ids = |v: Vec<TemplateRecord>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(store.search(filter, 10).await.unwrap()), ids(fake.search(filter, 10).await.unwrap()));
    }
    let ordered: Vec<Channel> =
        store.search(&filters[3], 10).await.unwrap().iter().skip(1).map(|t| t.channel).collect();
    assert_eq!(ordered, vec![Channel::Push, Channel::Email, Channel::Sms], "canonical channel order");
    assert_eq!(store.search(&TemplateFilter::default(), 2).await.unwrap().len(), 2);

    let id = all[0].id;
    let updated = store.update(id, None, "v2 {{order}}", t0() + secs(60)).await.unwrap().unwrap();
    assert_eq!((updated.version, updated.title.as_deref(), updated.updated_at), (2, None, t0() + secs(60)));
    assert_eq!(updated.created_at, t0());
    assert_eq!(TemplateStore::get(&store, id).await.unwrap(), Some(updated.clone()));
    let found = store.find(&all[0].key, &all[0].locale, Channel::Sms).await.unwrap();
    assert_eq!(found, Some(updated));
    assert_eq!(store.find(&all[0].key, &Locale::parse("fr").unwrap(), Channel::Sms).await.unwrap(), None);
    let versions = store.versions(id).await.unwrap().unwrap();
    assert_eq!(
        versions.iter().map(|v| (v.version, v.created_at)).collect::<Vec<_>>(),
        vec![(1, t0()), (2, t0() + secs(60))]
    );
    assert_eq!(versions[0].title.as_deref(), Some("Order {{order}}"));
    let unknown = TemplateId::from_parts(9, 9);
    assert_eq!(store.update(unknown, None, "x", t0()).await.unwrap(), None);

    assert!(store.delete(id).await.unwrap());
    assert!(!store.delete(id).await.unwrap());
    assert_eq!(TemplateStore::get(&store, id).await.unwrap(), None);
    assert_eq!(store.versions(id).await.unwrap(), None);
    assert!(
        store.create(&template(7, "order.shipped", "en", Channel::Sms)).await.unwrap(),
        "the triple is free again"
    );
}

fn entry(n: u128, at: DateTime<Utc>, action: AuditAction) -> AuditEntry {
    AuditEntry {
        id: AuditId::from_parts(1_700_000_000_000, n),
        at,
        actor: "ops".into(),
        action,
        target: Some(format!("dlv_{n}")),
        filter: Some(serde_json::json!({ "channel": "EMAIL" })),
        counts: (n % 2 == 0).then(|| serde_json::json!({ "estimatedCount": n })),
        outcome: "OK".into(),
    }
}

#[tokio::test]
async fn the_audit_trail_pages_newest_first_over_equal_times() {
    let (_dir, store) = temp_store().await;
    let fake = InMemoryStore::new();
    for n in 1..=7u128 {
        let action = if n % 3 == 0 { AuditAction::DlqDiscard } else { AuditAction::DlqReplay };
        let e = entry(n, t0() + secs((n as i64) / 3), action);
        store.record(e.clone()).await.unwrap();
        fake.record(e).await.unwrap();
    }
    let filters = [
        AuditFilter::default(),
        AuditFilter { action: Some(AuditAction::DlqReplay), ..Default::default() },
        AuditFilter { from: Some(t0() + secs(1)), to: Some(t0() + secs(2)), ..Default::default() },
    ];
    for filter in &filters {
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = AuditLog::list(&store, filter, after, 2).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.at, last.id));
            paged.extend(page);
        }
        assert_eq!(paged, AuditLog::list(&fake, filter, None, 100).await.unwrap(), "{filter:?}");
    }
    let newest = AuditLog::list(&store, &AuditFilter::default(), None, 1).await.unwrap();
    assert_eq!(newest, vec![entry(7, t0() + secs(2), AuditAction::DlqReplay)], "read back whole");
}
