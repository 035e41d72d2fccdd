//! The send use case's command, answers and errors, and the command's own checks (SPEC §5.1
//! limits) — everything the HTTP adapter builds and reads; the flow lives in `send.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::rate_limit::BucketPolicy;
use hub_domain::resolver::Reason;
use hub_domain::status::NotificationStatus;
use hub_domain::template::{Payload, TemplateKey};
use hub_domain::{Channel, ChannelSet, DeliveryId, Kind, NotificationId, Priority, RecipientId};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, PortError};
use crate::ports::SkippedChannel;

/// Maximum title length of a direct send.
pub const MAX_TITLE_CHARS: usize = 200;
/// Maximum body length of a direct send.
pub const MAX_BODY_CHARS: usize = 4000;
/// Maximum serialized size of `metadata`.
pub const MAX_METADATA_BYTES: usize = 4096;

/// What to send: literal text or a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Literal title and body, used on every channel.
    Direct {
        /// Title (≤ 200 chars).
        title: Option<String>,
        /// Body (≤ 4000 chars).
        body: String,
    },
    /// A template per channel, rendered with the payload.
    Template {
        /// Template key.
        key: TemplateKey,
        /// Variables.
        payload: Payload,
    },
}

/// A caller's send request, already parsed from its DTO.
#[derive(Debug, Clone)]
pub struct SendCommand {
    /// Caller scope of the idempotency key.
    pub scope: String,
    /// The `Idempotency-Key`.
    pub idempotency_key: IdempotencyKey,
    /// Fingerprint of the request body.
    pub fingerprint: Fingerprint,
    /// Who.
    pub recipient_id: RecipientId,
    /// What kind.
    pub kind: Kind,
    /// What.
    pub content: Content,
    /// Restrict to these channels.
    pub channels: Option<ChannelSet>,
    /// Not before.
    pub send_at: Option<DateTime<Utc>>,
    /// Drop deliveries that could not go out before.
    pub expires_at: Option<DateTime<Utc>>,
    /// Lane.
    pub priority: Priority,
    /// Echoed metadata.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One delivery in the accept answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptDelivery {
    /// Its id.
    pub delivery_id: DeliveryId,
    /// Channel.
    pub channel: Channel,
    /// Masked address.
    pub address: String,
    /// Status (PENDING at accept).
    pub status: hub_domain::delivery::DeliveryStatus,
    /// Earliest dispatch.
    pub not_before: DateTime<Utc>,
    /// Why it was deferred, if it was.
    pub reason: Option<Reason>,
}

/// The answer to an accepted (202) or suppressed (200) send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendReceipt {
    /// The notification.
    pub notification_id: NotificationId,
    /// Derived status at accept time.
    pub status: NotificationStatus,
    /// Deliveries created.
    pub deliveries: Vec<ReceiptDelivery>,
    /// Channels skipped, with reasons.
    pub skipped: Vec<SkippedChannel>,
    /// Why nothing is sent, when suppressed.
    pub suppression_reason: Option<Reason>,
}

/// A business rejection that is stored with the key and replayed like a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// Stable code (RECIPIENT_NOT_FOUND, TEMPLATE_NOT_FOUND, TEMPLATE_VARIABLE_MISSING, VALIDATION_FAILED).
    pub code: ErrorCode,
    /// Human-readable detail.
    pub detail: String,
    /// The missing template variable, for TEMPLATE_VARIABLE_MISSING.
    pub variable: Option<String>,
}

/// The outcome stored under the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SendOutcome {
    /// 202: deliveries were created.
    Accepted(SendReceipt),
    /// 200: every channel was skipped.
    Suppressed(SendReceipt),
    /// 4xx: rejected after the request started executing.
    Rejected(Rejection),
}

/// A send's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// What happened.
    pub outcome: SendOutcome,
    /// `true` when this is the stored outcome of an earlier request with the same key.
    pub replayed: bool,
}

/// Failures of a send that are NOT stored with the key (the caller may retry with it).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request is invalid (400 VALIDATION_FAILED); nothing was reserved.
    #[error("{0}")]
    Validation(String),
    /// The same key is being processed (409, `Retry-After: 1`).
    #[error("a request with this Idempotency-Key is still in flight")]
    InFlight,
    /// The key was used with a different body (422).
    #[error("this Idempotency-Key was used with a different request body")]
    KeyReused,
    /// A bucket is empty (429); nothing was consumed and the key was released.
    #[error("rate limit exceeded for channel {channel}")]
    RateLimited {
        /// The binding channel.
        channel: Channel,
        /// Its policy.
        policy: BucketPolicy,
        /// Until one token is back.
        retry_after: Duration,
    },
    /// A store, cache or limiter failed; the key was released.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl SendError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            SendError::Validation(_) => ErrorCode::ValidationFailed,
            SendError::InFlight => ErrorCode::IdempotencyInFlight,
            SendError::KeyReused => ErrorCode::IdempotencyKeyReused,
            SendError::RateLimited { .. } => ErrorCode::RateLimited,
            SendError::Port(e) => e.code(),
        }
    }
}

impl SendCommand {
    pub(super) fn validate(&self) -> Result<(), SendError> {
        // No store keeps NUL in text (PostgreSQL refuses it): refuse it up front on every
        // backend, rather than accept on SQLite and fail on PostgreSQL.
        let nul = |field: &str| SendError::Validation(format!("{field}: NUL characters are not allowed"));
        match &self.content {
            Content::Direct { title, body } => {
                if title.as_deref().is_some_and(|t| t.contains('\0')) {
                    return Err(nul("title"));
                }
                if body.contains('\0') {
                    return Err(nul("body"));
                }
            }
            Content::Template { payload, .. } => {
                let has_nul = |s: &str| s.contains('\0');
                if payload.iter().any(|(k, v)| {
                    has_nul(k) || matches!(v, hub_domain::template::PayloadValue::String(s) if has_nul(s))
                }) {
                    return Err(nul("payload"));
                }
            }
        }
        if let Content::Direct { title, body } = &self.content {
            if title.as_ref().is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS) {
                return Err(SendError::Validation(format!("title: at most {MAX_TITLE_CHARS} characters")));
            }
            if body.trim().is_empty() {
                return Err(SendError::Validation("body: must not be blank".into()));
            }
            if body.chars().count() > MAX_BODY_CHARS {
                return Err(SendError::Validation(format!("body: at most {MAX_BODY_CHARS} characters")));
            }
        }
        if let Some(meta) = &self.metadata {
            let size = serde_json::to_vec(meta).map(|v| v.len()).unwrap_or(usize::MAX);
            if size > MAX_METADATA_BYTES {
                return Err(SendError::Validation(format!("metadata: at most {MAX_METADATA_BYTES} bytes")));
            }
        }
        if self.channels.is_some_and(|c| c.is_empty()) {
            return Err(SendError::Validation("channels: must name at least one channel when given".into()));
        }
        if let (Some(send_at), Some(expires_at)) = (self.send_at, self.expires_at) {
            if expires_at <= send_at {
                return Err(SendError::Validation("expiresAt: must be after sendAt".into()));
            }
        }
        Ok(())
    }
}
