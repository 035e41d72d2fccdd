use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::preferences::Preferences;
use hub_domain::{Device, DeviceId, DeviceToken, Platform, Recipient, RecipientId};

use crate::error::PortError;

/// A stored recipient with its preferences.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientRecord {
    /// The recipient, including all of its devices (active and disabled).
    pub recipient: Recipient,
    /// Stored preferences; `None` means the defaults.
    pub preferences: Option<Preferences>,
    /// First creation.
    pub created_at: DateTime<Utc>,
    /// Last change of the profile.
    pub updated_at: DateTime<Utc>,
}

/// Whether a PUT created or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// It did not exist (201).
    Created,
    /// It existed and was replaced (200).
    Replaced,
}

/// Recipients and their preferences.
#[async_trait]
pub trait RecipientStore: Send + Sync + std::fmt::Debug {
    /// The recipient with devices and preferences; `Ok(None)` when unknown (or erased).
    async fn get(&self, id: &RecipientId) -> Result<Option<RecipientRecord>, PortError>;

    /// Creates or replaces the recipient's profile (contacts, locale, timezone). Devices and
    /// preferences are kept on replace; `recipient.devices` is ignored.
    async fn put(&self, recipient: &Recipient, now: DateTime<Utc>) -> Result<PutOutcome, PortError>;

    /// Erases the recipient's addresses, devices and preferences (delivery history stays, with
    /// targets masked as `Target::Erased`) and cancels its PENDING deliveries, so nothing is
    /// sent to an erased recipient. Returns `false` when the recipient was unknown.
    async fn erase(&self, id: &RecipientId, now: DateTime<Utc>) -> Result<bool, PortError>;

    /// Stores the full preference document. Returns `false` when the recipient is unknown.
    async fn put_preferences(
        &self,
        id: &RecipientId,
        preferences: &Preferences,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError>;
}

/// What a device registration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRegistration {
    /// A new token (201).
    Created(Device),
    /// The token was already registered to this recipient (200); re-activated if it was disabled.
    Existing(Device),
    /// The token belonged to another recipient and moved here, active (200).
    Moved(Device),
}

impl DeviceRegistration {
    /// The device as stored now.
    pub fn device(&self) -> &Device {
        match self {
            DeviceRegistration::Created(d)
            | DeviceRegistration::Existing(d)
            | DeviceRegistration::Moved(d) => d,
        }
    }
}

/// Push devices.
#[async_trait]
pub trait DeviceStore: Send + Sync + std::fmt::Debug {
    /// Registers `token` for `recipient` (which must exist — the use case checks), re-activating
    /// or moving it as needed, with `registered_at = now`; `new_id` is used only when the token
    /// is new. In the same transaction, disables the oldest active devices of the recipient
    /// beyond [`hub_domain::MAX_ACTIVE_DEVICES`].
    async fn register(
        &self,
        recipient: &RecipientId,
        platform: Platform,
        token: &DeviceToken,
        new_id: DeviceId,
        now: DateTime<Utc>,
    ) -> Result<DeviceRegistration, PortError>;

    /// The recipient's devices, active and disabled, oldest registration first.
    async fn list(&self, recipient: &RecipientId) -> Result<Vec<Device>, PortError>;

    /// Disables one device of the recipient; `false` when it does not exist for that recipient.
    async fn disable(&self, recipient: &RecipientId, id: DeviceId) -> Result<bool, PortError>;

    /// Disables a device after a vendor "unregistered" answer; `false` when unknown.
    async fn disable_by_id(&self, id: DeviceId) -> Result<bool, PortError>;
}
