//! Ports: the traits the application needs from the outside world.
//!
//! Every port is an object-safe async trait (`async_trait`), `Send + Sync`, wired as
//! `Arc<dyn Port>`. Each method's doc says which error it returns for which condition;
//! business outcomes come back in `Ok` values, infrastructure trouble as [`PortError`].
//!
//! [`PortError`]: crate::error::PortError

mod audit;
mod callback_log;
mod clock;
mod delivery_store;
mod health;
mod idempotency;
mod jobs;
mod metrics;
mod notification_store;
mod outbox;
mod queue;
mod rate_limiter;
mod recipient_store;
mod sender;
mod template_store;

pub use audit::{AuditAction, AuditEntry, AuditFilter, AuditLog};
pub use callback_log::{CallbackLog, Remembered};
pub use clock::{Clock, Entropy, SystemClock, SystemEntropy};
pub use delivery_store::{
    ClaimedDelivery, DeliveryRecord, DeliveryStore, DeliveryUpdate, DispatchResult, DlqCursor, DlqFilter,
    DlqStatRow, DlqStore, Expectation, JobStep, UpdateOutcome,
};
pub use health::HealthProbe;
pub use idempotency::{Completion, IdempotencyStore, Reservation, ReservationToken, StoredResponse};
pub use jobs::{BulkAction, BulkJob, JobState, JobStore};
pub use metrics::{
    DuplicateCause, Exposition, GaugeSource, MetricEvent, Metrics, NoMetrics, PROMETHEUS_TEXT, ReplaySource,
    SendVerdict, vendor_outcome,
};
pub use notification_store::{
    AcceptKey, AcceptOutcome, NewNotification, NotificationCursor, NotificationFilter, NotificationRecord,
    NotificationStore, NotificationWithDeliveries, SkippedChannel,
};
pub use outbox::{Outbox, OutboxEvent};
pub use queue::{DeliveryQueue, QueueError, QueueMessage, ReceivedMessage};
pub use rate_limiter::{RateDecision, RateLimiter};
pub use recipient_store::{DeviceRegistration, DeviceStore, PutOutcome, RecipientRecord, RecipientStore};
pub use sender::{ChannelSender, DispatchRequest, SendError, SendErrorKind, SenderRegistry, VendorReceipt};
pub use template_store::{TemplateFilter, TemplateRecord, TemplateStore, TemplateVersion};
