//! The notification-hub domain: values, rules and state machines of SPEC §3 and §5.
//!
//! Everything here is pure: no I/O, no async, no clock and no randomness of its own.
//! Time and random numbers are passed in by the caller.

pub mod address;
pub mod channel;
pub mod ids;
pub mod kind;
pub mod recipient;

pub use address::{Address, AddressError, E164, EmailAddress, SlackTarget, Target, mask};
pub use channel::{Channel, ChannelSet};
pub use ids::{AuditId, DeliveryId, DeviceId, EventId, IdParseError, JobId, NotificationId, TemplateId};
pub use kind::{Kind, Priority, UnknownVariant};
pub use recipient::{
    Contact, Device, DeviceToken, Locale, MAX_ACTIVE_DEVICES, Platform, Recipient, RecipientError,
    RecipientId, Timezone,
};
