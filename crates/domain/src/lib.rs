//! The notification-hub domain: values, rules and state machines of SPEC §3 and §5.
//!
//! Everything here is pure: no I/O, no async, no clock and no randomness of its own.
//! Time and random numbers are passed in by the caller.

pub mod address;
pub mod channel;
pub mod delivery;
pub mod idempotency;
pub mod ids;
pub mod kind;
pub mod preferences;
pub mod rate_limit;
pub mod recipient;
pub mod resolver;
pub mod retry;
pub mod status;
pub mod template;
pub mod time_window;

pub use address::{Address, AddressError, E164, EmailAddress, SlackTarget, Target, mask};
pub use channel::{Channel, ChannelSet};
pub use delivery::{
    DeliveryEvent, DeliveryState, DeliveryStatus, ErrorClass, FailureClass, IllegalReason, IllegalTransition,
    ReceiptStatus, Try, TryOutcome,
};
pub use idempotency::{Fingerprint, IdempotencyKey, IdempotencyKeyError};
pub use ids::{AuditId, DeliveryId, DeviceId, EventId, IdParseError, JobId, NotificationId, TemplateId};
pub use kind::{Kind, Priority, UnknownVariant};
pub use preferences::{KindPreference, Preferences, PreferencesError};
pub use rate_limit::{BucketDecision, BucketPolicy, BucketState, RateLimits};
pub use recipient::{
    Contact, Device, DeviceToken, Locale, MAX_ACTIVE_DEVICES, Platform, Recipient, RecipientError,
    RecipientId, Timezone,
};
pub use resolver::{Decision, Outcome, Reason, Resolution, ResolveRequest, ResolverPolicy};
pub use retry::{
    DurationParseError, FixedRandom, RandomSource, RetryPolicy, RetryPolicyError, format_duration,
    parse_duration,
};
pub use status::{DeliverySummary, NotificationStatus, derive_status};
pub use template::{Payload, PayloadValue, RenderedContent, TemplateError, TemplateKey};
pub use time_window::{DailyWindow, WindowError};
