//! [`RecipientStore`](crate::ports::RecipientStore): profiles, preferences and erasure.

use std::collections::BTreeMap;

use hub_domain::delivery::{DeliveryState, DeliveryStatus};
use hub_domain::preferences::Preferences;
use hub_domain::{Channel, Contact, Device, Kind, Platform, RecipientId, Target, Timezone};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::{DeliveryUpdate, Expectation, PutOutcome, RecipientRecord};

async fn get(s: &StoreParts, id: &RecipientId) -> Option<RecipientRecord> {
    s.recipients.get(id).await.expect("get recipient")
}

/// Put of an unknown id creates the profile (`Created`, no devices, default preferences);
/// put again replaces contacts, locale and timezone (`Replaced`), keeping `created_at`.
pub async fn put_creates_then_replaces_a_recipient(s: &StoreParts) {
    let alice = recipient("alice", "ada@example.com");
    assert_eq!(s.recipients.put(&alice, at(0)).await.expect("put"), PutOutcome::Created);
    let created = get(s, &alice.id).await.expect("the created recipient");
    let expected =
        RecipientRecord { recipient: alice.clone(), preferences: None, created_at: at(0), updated_at: at(0) };
    assert_eq!(created, expected, "the profile reads back as put");

    let changed = hub_domain::Recipient {
        contacts: vec![
            Contact::parse(Channel::Email, Some("ada@example.org")).expect("valid"),
            Contact::parse(Channel::Sms, Some("+821098765432")).expect("valid"),
        ],
        locale: locale("en-US"),
        timezone: Timezone::parse("Europe/Berlin").expect("valid timezone"),
        ..alice.clone()
    };
    assert_eq!(s.recipients.put(&changed, at(10)).await.expect("put"), PutOutcome::Replaced);
    let replaced = get(s, &alice.id).await.expect("the replaced recipient");
    let expected =
        RecipientRecord { recipient: changed, preferences: None, created_at: at(0), updated_at: at(10) };
    assert_eq!(replaced, expected, "the new profile, created_at kept, updated_at now");
}

/// Replacing a profile keeps its devices and preferences; devices given with the profile are
/// ignored.
pub async fn put_keeps_devices_and_preferences_and_ignores_given_devices(s: &StoreParts) {
    let alice = recipient("alice", "ada@example.com");
    s.recipients.put(&alice, at(0)).await.expect("put");
    let token = hub_domain::DeviceToken::parse(&push_token(1)).expect("valid token");
    s.devices.register(&alice.id, Platform::Android, &token, device_id(1), at(1)).await.expect("register");
    assert!(s.recipients.put_preferences(&alice.id, &sample_preferences(), at(2)).await.expect("prefs"));
    let registered = s.devices.list(&alice.id).await.expect("list devices");

    let bogus = Device {
        id: device_id(77),
        platform: Platform::Web,
        token: hub_domain::DeviceToken::parse(&push_token(77)).expect("valid token"),
        active: true,
        registered_at: at(3),
    };
    let replacement = hub_domain::Recipient { devices: vec![bogus], ..alice.clone() };
    assert_eq!(s.recipients.put(&replacement, at(10)).await.expect("put"), PutOutcome::Replaced);

    let record = get(s, &alice.id).await.expect("the recipient");
    assert_eq!(record.recipient.devices, registered, "the registered device is kept, the given one ignored");
    assert_eq!(s.devices.list(&alice.id).await.expect("list devices"), registered);
    assert_eq!(record.preferences, Some(sample_preferences()), "preferences are kept on replace");
}

/// Get of an unknown recipient is `Ok(None)`.
pub async fn get_of_an_unknown_recipient_is_none(s: &StoreParts) {
    s.recipients.put(&recipient("alice", "ada@example.com"), at(0)).await.expect("put");
    assert!(get(s, &recipient_id("bob")).await.is_none(), "an unknown recipient");
}

/// Erase removes the profile, devices and preferences, keeps the delivery history with every
/// target masked (`Target::Erased`) and cancels the PENDING deliveries (docs/domain-rules.md);
/// `false` for an unknown (or already erased) recipient.
pub async fn erase_removes_the_recipient_and_masks_its_delivery_history(s: &StoreParts) {
    let alice = recipient("alice", "ada@example.com");
    s.recipients.put(&alice, at(0)).await.expect("put");
    s.recipients.put(&recipient("bob", "bob@example.com"), at(0)).await.expect("put");
    let token = hub_domain::DeviceToken::parse(&push_token(1)).expect("valid token");
    s.devices.register(&alice.id, Platform::Ios, &token, device_id(1), at(1)).await.expect("register");
    s.recipients.put_preferences(&alice.id, &sample_preferences(), at(2)).await.expect("prefs");
    let (record, deliveries) = seed(s, 1, &[Channel::Email, Channel::Push, Channel::InApp], at(0)).await;
    let pushing = claim(s, deliveries[1].id, at(3)).await;
    let inbox = claim(s, deliveries[2].id, at(3)).await;
    let sent = DeliveryState { status: DeliveryStatus::Sent, lease_until: None, ..inbox.state };
    let expected = Expectation { status: DeliveryStatus::Dispatching, tries: 1 };
    apply(s, inbox.id, expected, DeliveryUpdate::state(sent), at(4)).await;
    let bobs = notification(2, "bob", Kind::Service, t0());
    let bob_delivery = delivery(&bobs, 20, Channel::Email);
    accept(s, new_notification(bobs, vec![bob_delivery.clone()])).await;

    assert!(s.recipients.erase(&alice.id, at(50)).await.expect("erase"), "alice was known");
    assert!(get(s, &alice.id).await.is_none(), "an erased recipient is gone");
    assert!(s.devices.list(&alice.id).await.expect("list devices").is_empty(), "devices are erased");
    assert!(!s.devices.disable_by_id(device_id(1)).await.expect("disable_by_id"), "the device is gone");

    let history = s.notifications.get(record.id).await.expect("get").expect("the history stays");
    assert_eq!(history.deliveries.len(), 3, "every delivery stays");
    let statuses = [DeliveryStatus::Cancelled, DeliveryStatus::Dispatching, DeliveryStatus::Sent];
    for ((before, after), status) in deliveries.iter().zip(&history.deliveries).zip(statuses) {
        assert_eq!(after.recipient_id, alice.id, "the recipient id stays on {}", before.id);
        assert_eq!(after.target, before.target.erased(), "the target of {} is masked", before.id);
        assert!(matches!(after.target, Target::Erased { .. }), "{} has an erased target", before.id);
        assert_eq!(
            after.state.status, status,
            "{}: PENDING is cancelled, others keep their status",
            before.id
        );
    }
    assert_eq!(history.deliveries[1].state.tries, pushing.state.tries);
    assert_eq!(stored(s, bob_delivery.id).await, bob_delivery, "another recipient's delivery is untouched");
    assert!(get(s, &recipient_id("bob")).await.is_some(), "another recipient stays");

    assert!(!s.recipients.erase(&alice.id, at(60)).await.expect("erase"), "already erased");
    assert!(!s.recipients.erase(&recipient_id("carol"), at(60)).await.expect("erase"), "never known");
}

/// The full preference document round-trips for a known recipient; for an unknown one
/// put_preferences is `false` and creates nothing.
pub async fn preferences_round_trip_for_a_known_recipient_only(s: &StoreParts) {
    let bob = recipient_id("bob");
    assert!(!s.recipients.put_preferences(&bob, &sample_preferences(), at(0)).await.expect("prefs"));
    assert!(get(s, &bob).await.is_none(), "preferences of an unknown recipient create nothing");

    let alice = recipient("alice", "ada@example.com");
    s.recipients.put(&alice, at(0)).await.expect("put");
    assert!(s.recipients.put_preferences(&alice.id, &sample_preferences(), at(1)).await.expect("prefs"));
    let stored_prefs = get(s, &alice.id).await.expect("alice").preferences;
    assert_eq!(stored_prefs, Some(sample_preferences()), "the document reads back as put");

    let quiet_free = Preferences::new(BTreeMap::new(), None).expect("valid preferences");
    assert!(s.recipients.put_preferences(&alice.id, &quiet_free, at(2)).await.expect("prefs"));
    let stored_prefs = get(s, &alice.id).await.expect("alice").preferences;
    assert_eq!(stored_prefs, Some(quiet_free), "the full document is replaced, no quiet hours kept");
}
