//! [`DeviceStore`](crate::ports::DeviceStore): registration, the active-device limit, disabling.

use hub_domain::{Device, DeviceId, DeviceToken, MAX_ACTIVE_DEVICES, Platform, RecipientId};

use super::StoreParts;
use super::fixtures::*;
use crate::ports::DeviceRegistration;

fn token(n: u128) -> DeviceToken {
    DeviceToken::parse(&push_token(n)).expect("valid token")
}

/// Puts recipients with these ids.
async fn recipients(s: &StoreParts, ids: &[&str]) {
    for id in ids {
        s.recipients.put(&recipient(id, "ada@example.com"), at(0)).await.expect("put recipient");
    }
}

/// Registers token `n` for `owner` at `when` (seconds after t0), proposing device id `n`.
async fn register(s: &StoreParts, owner: &str, n: u128, when: i64) -> DeviceRegistration {
    s.devices
        .register(&recipient_id(owner), Platform::Android, &token(n), device_id(n), at(when))
        .await
        .expect("register")
}

async fn list(s: &StoreParts, owner: &str) -> Vec<Device> {
    s.devices.list(&recipient_id(owner)).await.expect("list devices")
}

fn active(devices: &[Device]) -> Vec<DeviceId> {
    devices.iter().filter(|d| d.active).map(|d| d.id).collect()
}

/// A new token is `Created` with the proposed id, active, registered now, and listed (also
/// with the recipient).
pub async fn register_creates_a_new_device_with_the_given_id(s: &StoreParts) {
    recipients(s, &["alice"]).await;
    let outcome = register(s, "alice", 1, 5).await;
    let device = Device {
        id: device_id(1),
        platform: Platform::Android,
        token: token(1),
        active: true,
        registered_at: at(5),
    };
    assert_eq!(outcome, DeviceRegistration::Created(device.clone()));
    assert_eq!(list(s, "alice").await, vec![device.clone()], "the device is listed");
    let record = s.recipients.get(&recipient_id("alice")).await.expect("get").expect("alice");
    assert_eq!(record.recipient.devices, vec![device], "the recipient carries its devices");
}

/// A token already registered to the recipient is `Existing`, keeps its id, and comes back
/// active with `registered_at = now`.
pub async fn register_of_a_known_token_returns_it_reactivated(s: &StoreParts) {
    recipients(s, &["alice"]).await;
    register(s, "alice", 1, 0).await;
    assert!(s.devices.disable(&recipient_id("alice"), device_id(1)).await.expect("disable"));

    let again = s
        .devices
        .register(&recipient_id("alice"), Platform::Android, &token(1), device_id(2), at(10))
        .await
        .expect("register");
    let device = Device {
        id: device_id(1),
        platform: Platform::Android,
        token: token(1),
        active: true,
        registered_at: at(10),
    };
    assert_eq!(again, DeviceRegistration::Existing(device.clone()), "same id, re-activated, registered now");
    assert_eq!(list(s, "alice").await, vec![device], "still one device");
}

/// A token registered to another recipient is `Moved`: same id, now the new owner's, active.
pub async fn register_moves_a_token_from_another_recipient(s: &StoreParts) {
    recipients(s, &["alice", "bob"]).await;
    register(s, "alice", 1, 0).await;
    assert!(s.devices.disable(&recipient_id("alice"), device_id(1)).await.expect("disable"));

    let moved = s
        .devices
        .register(&recipient_id("bob"), Platform::Android, &token(1), device_id(2), at(10))
        .await
        .expect("register");
    let device = Device {
        id: device_id(1),
        platform: Platform::Android,
        token: token(1),
        active: true,
        registered_at: at(10),
    };
    assert_eq!(moved, DeviceRegistration::Moved(device.clone()), "same id, active, registered now");
    assert!(list(s, "alice").await.is_empty(), "the token left its former owner");
    assert_eq!(list(s, "bob").await, vec![device], "the token belongs to the new owner");
}

/// Past ten active devices the oldest registration is disabled in the same write; devices
/// are listed oldest registration first; re-registering moves a device to the newest.
pub async fn register_keeps_at_most_ten_active_devices_disabling_the_oldest(s: &StoreParts) {
    recipients(s, &["alice", "bob"]).await;
    register(s, "bob", 100, 0).await;
    for n in 1..=11 {
        let outcome = register(s, "alice", n, i64::try_from(n).expect("small")).await;
        assert!(outcome.device().active, "a newly registered device is active");
    }
    let devices = list(s, "alice").await;
    let order: Vec<DeviceId> = devices.iter().map(|d| d.id).collect();
    assert_eq!(order, (1..=11).map(device_id).collect::<Vec<_>>(), "oldest registration first");
    assert_eq!(active(&devices), (2..=11).map(device_id).collect::<Vec<_>>(), "the oldest is disabled");
    assert_eq!(active(&devices).len(), MAX_ACTIVE_DEVICES);

    let back = register(s, "alice", 1, 20).await;
    assert!(matches!(back, DeviceRegistration::Existing(ref d) if d.active && d.registered_at == at(20)));
    let devices = list(s, "alice").await;
    let order: Vec<DeviceId> = devices.iter().map(|d| d.id).collect();
    let expected: Vec<DeviceId> = (2..=11).chain([1]).map(device_id).collect();
    assert_eq!(order, expected, "the re-registered device is now the newest");
    let expected_active: Vec<DeviceId> = (3..=11).chain([1]).map(device_id).collect();
    assert_eq!(active(&devices), expected_active, "now the second-oldest is disabled");
    assert_eq!(active(&list(s, "bob").await), vec![device_id(100)], "other recipients are not affected");
}

/// Disable works only for the owning recipient (`false` otherwise, nothing changes) and keeps
/// the device listed, inactive.
pub async fn disable_needs_the_owning_recipient(s: &StoreParts) {
    recipients(s, &["alice", "bob"]).await;
    register(s, "alice", 1, 0).await;
    let (alice, bob): (RecipientId, RecipientId) = (recipient_id("alice"), recipient_id("bob"));

    assert!(!s.devices.disable(&bob, device_id(1)).await.expect("disable"), "not bob's device");
    assert_eq!(active(&list(s, "alice").await), vec![device_id(1)], "still active");
    assert!(!s.devices.disable(&alice, device_id(9)).await.expect("disable"), "an unknown device");

    assert!(s.devices.disable(&alice, device_id(1)).await.expect("disable"), "alice's device");
    let devices = list(s, "alice").await;
    assert_eq!(devices.len(), 1, "a disabled device stays listed");
    assert!(!devices[0].active, "and is inactive");
    assert!(
        s.devices.disable(&alice, device_id(1)).await.expect("disable"),
        "disabling again still finds it"
    );
}

/// Disable by id (a vendor's "unregistered") works for any known device; `false` when unknown.
pub async fn disable_by_id_disables_any_known_device(s: &StoreParts) {
    recipients(s, &["alice"]).await;
    register(s, "alice", 1, 0).await;
    register(s, "alice", 2, 1).await;
    assert!(s.devices.disable_by_id(device_id(2)).await.expect("disable_by_id"));
    assert_eq!(active(&list(s, "alice").await), vec![device_id(1)], "only device 2 is disabled");
    assert!(!s.devices.disable_by_id(device_id(9)).await.expect("disable_by_id"), "an unknown device");
}
