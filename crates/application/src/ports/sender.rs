use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_domain::{Channel, DeliveryId, NotificationId, Target};

/// What a channel sender gets for one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchRequest {
    /// The delivery (vendors may use it as their idempotency key).
    pub delivery_id: DeliveryId,
    /// Its notification.
    pub notification_id: NotificationId,
    /// The channel.
    pub channel: Channel,
    /// Where to.
    pub target: Target,
    /// Rendered title.
    pub title: Option<String>,
    /// Rendered body.
    pub body: String,
    /// SMS to send as LMS.
    pub lms: bool,
    /// Try number (1 for the first).
    pub attempt: u32,
}

/// The vendor accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorReceipt {
    /// The vendor's id for it, used to match callbacks.
    pub vendor_message_id: Option<String>,
}

/// How a vendor failure must be handled; workers branch on this only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendErrorKind {
    /// Worth retrying (timeouts, 5xx, 429); `retry_after` from the vendor if it gave one.
    Transient {
        /// The vendor's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (invalid address, rejected content).
    Permanent,
    /// The push token is no longer valid: permanent, and the device is disabled.
    Unregistered,
}

/// A failed vendor call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} vendor failure{}: {detail}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct SendError {
    /// How to handle it.
    pub kind: SendErrorKind,
    /// The vendor's own error code, if any.
    pub code: Option<String>,
    /// A short description without personal data.
    pub detail: String,
}

/// Sends one message on one channel through a vendor (or the mock vendor).
#[async_trait]
pub trait ChannelSender: Send + Sync + std::fmt::Debug {
    /// Calls the vendor once, with its own timeout. Never called inside a store transaction.
    /// Errors are classified by [`SendErrorKind`].
    async fn send(&self, request: &DispatchRequest) -> Result<VendorReceipt, SendError>;
}

/// The sender for each channel.
#[derive(Debug, Clone, Default)]
pub struct SenderRegistry {
    senders: HashMap<Channel, Arc<dyn ChannelSender>>,
}

impl SenderRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the sender for a channel (replacing any earlier one).
    pub fn with(mut self, channel: Channel, sender: Arc<dyn ChannelSender>) -> Self {
        self.senders.insert(channel, sender);
        self
    }

    /// The same sender for every channel.
    pub fn uniform(sender: Arc<dyn ChannelSender>) -> Self {
        Channel::CANONICAL.into_iter().fold(Self::new(), |r, c| r.with(c, sender.clone()))
    }

    /// The sender for a channel.
    pub fn get(&self, channel: Channel) -> Option<&Arc<dyn ChannelSender>> {
        self.senders.get(&channel)
    }
}
