//! Notification response shapes (SPEC §5.1): the accept receipt, the full view, pages.
//!
//! Rendering is deterministic (fixed member order, absent values as `null`), so a stored
//! `SendOutcome` renders byte for byte the same on every replay.

use chrono::{DateTime, Utc};
use hub_application::ports::{DeliveryRecord, SkippedChannel};
use hub_application::use_cases::notifications::{Cancelled, NotificationView, Page};
use hub_application::use_cases::send::{ReceiptDelivery, SendReceipt};
use hub_domain::Try;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::enums as wire;

/// A channel skipped at accept time.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SkippedChannel)]
pub(crate) struct SkippedDto {
    /// The channel.
    channel: wire::Channel,
    /// Why it was skipped.
    reason: wire::Reason,
}

impl From<&SkippedChannel> for SkippedDto {
    fn from(s: &SkippedChannel) -> Self {
        SkippedDto { channel: s.channel.into(), reason: s.reason.into() }
    }
}

/// A delivery created by a send.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReceiptDelivery)]
pub(crate) struct ReceiptDeliveryDto {
    /// Its id (`dlv_…`).
    #[schema(example = "dlv_01KF0C9F4G0000000000000002")]
    delivery_id: String,
    /// The channel.
    channel: wire::Channel,
    /// The address, masked (`al***om`).
    address: String,
    /// PENDING at accept time.
    status: wire::DeliveryStatus,
    /// Earliest dispatch.
    not_before: DateTime<Utc>,
    /// Why it was deferred (QUIET_HOURS, KAKAO_NIGHT, SCHEDULED), or null.
    reason: Option<wire::Reason>,
}

impl From<&ReceiptDelivery> for ReceiptDeliveryDto {
    fn from(d: &ReceiptDelivery) -> Self {
        ReceiptDeliveryDto {
            delivery_id: d.delivery_id.to_string(),
            channel: d.channel.into(),
            address: d.address.clone(),
            status: d.status.into(),
            not_before: d.not_before,
            reason: d.reason.map(Into::into),
        }
    }
}

/// The answer to a send: 202 (accepted) or 200 (`SUPPRESSED`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SendReceipt)]
pub(crate) struct SendReceiptDto {
    /// The notification's id (`ntf_…`).
    #[schema(example = "ntf_01KF0C9F4G0000000000000001")]
    notification_id: String,
    /// Derived status at accept time.
    status: wire::NotificationStatus,
    /// Deliveries created.
    deliveries: Vec<ReceiptDeliveryDto>,
    /// Channels skipped, with reasons.
    skipped: Vec<SkippedDto>,
    /// Why nothing is sent, when `status` is SUPPRESSED; else null.
    suppression_reason: Option<wire::Reason>,
}

impl From<&SendReceipt> for SendReceiptDto {
    fn from(r: &SendReceipt) -> Self {
        SendReceiptDto {
            notification_id: r.notification_id.to_string(),
            status: r.status.into(),
            deliveries: r.deliveries.iter().map(Into::into).collect(),
            skipped: r.skipped.iter().map(Into::into).collect(),
            suppression_reason: r.suppression_reason.map(Into::into),
        }
    }
}

/// One dispatch try.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Try)]
pub(crate) struct TryDto {
    /// When it started.
    at: DateTime<Utc>,
    /// How it ended.
    outcome: wire::TryOutcome,
    /// Why it failed, or null.
    error_class: Option<wire::ErrorClass>,
    /// The vendor's own code, or null.
    vendor_code: Option<String>,
    /// A short explanation, or null.
    detail: Option<String>,
    /// Vendor call duration, or null when it never returned.
    latency_ms: Option<u64>,
}

impl From<&Try> for TryDto {
    fn from(t: &Try) -> Self {
        TryDto {
            at: t.at,
            outcome: t.outcome.into(),
            error_class: t.error_class.map(Into::into),
            vendor_code: t.vendor_code.clone(),
            detail: t.detail.clone(),
            latency_ms: t.latency_ms,
        }
    }
}

/// A delivery with its rendered content and history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Delivery)]
pub(crate) struct DeliveryDto {
    /// Its id (`dlv_…`).
    delivery_id: String,
    /// The channel.
    channel: wire::Channel,
    /// The address, masked.
    address: String,
    /// Where it stands.
    status: wire::DeliveryStatus,
    /// Not dispatched before.
    not_before: DateTime<Utc>,
    /// Why it was deferred at accept time, or null.
    reason: Option<wire::Reason>,
    /// KAKAO_ALIMTALK when this SMS is the Kakao night fallback, else null.
    fallback_for: Option<wire::Channel>,
    /// Rendered title, or null.
    title: Option<String>,
    /// Rendered body.
    body: String,
    /// An SMS sent as LMS.
    lms: bool,
    /// Every dispatch try, oldest first.
    tries: Vec<TryDto>,
    /// The vendor's id of the accepted message, or null.
    vendor_message_id: Option<String>,
}

impl From<&DeliveryRecord> for DeliveryDto {
    fn from(d: &DeliveryRecord) -> Self {
        DeliveryDto {
            delivery_id: d.id.to_string(),
            channel: d.channel.into(),
            address: d.target.masked(),
            status: d.state.status.into(),
            not_before: d.state.not_before,
            reason: d.defer_reason.map(Into::into),
            fallback_for: d.fallback_for.map(Into::into),
            title: d.title.clone(),
            body: d.body.clone(),
            lms: d.lms,
            tries: d.tries.iter().map(Into::into).collect(),
            vendor_message_id: d.vendor_message_id.clone(),
        }
    }
}

/// A notification with its deliveries and derived status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Notification)]
pub(crate) struct NotificationDto {
    /// Its id (`ntf_…`).
    notification_id: String,
    /// The recipient.
    recipient_id: String,
    /// The kind.
    kind: wire::Kind,
    /// The priority.
    priority: wire::Priority,
    /// Derived from the deliveries, never stored.
    status: wire::NotificationStatus,
    /// When it was accepted.
    created_at: DateTime<Utc>,
    /// The caller's `expiresAt`, or null.
    expires_at: Option<DateTime<Utc>>,
    /// The caller's metadata, or null.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
    /// Every delivery, in creation order.
    deliveries: Vec<DeliveryDto>,
    /// Channels skipped at accept time.
    skipped: Vec<SkippedDto>,
}

impl From<&NotificationView> for NotificationDto {
    fn from(v: &NotificationView) -> Self {
        let n = &v.stored.notification;
        NotificationDto {
            notification_id: n.id.to_string(),
            recipient_id: n.recipient_id.to_string(),
            kind: n.kind.into(),
            priority: n.priority.into(),
            status: v.status.into(),
            created_at: n.created_at,
            expires_at: n.expires_at,
            metadata: n.metadata.clone(),
            deliveries: v.stored.deliveries.iter().map(Into::into).collect(),
            skipped: n.skipped.iter().map(Into::into).collect(),
        }
    }
}

/// A page of notifications, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NotificationPage)]
pub(crate) struct NotificationPageDto {
    /// The notifications.
    items: Vec<NotificationDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

impl From<&Page<NotificationView>> for NotificationPageDto {
    fn from(p: &Page<NotificationView>) -> Self {
        NotificationPageDto {
            items: p.items.iter().map(Into::into).collect(),
            next_cursor: p.next_cursor.clone(),
        }
    }
}

/// The notification after a cancel, with how many deliveries this call cancelled.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CancelledNotification)]
pub(crate) struct CancelledDto {
    /// The notification as it is now.
    #[serde(flatten)]
    notification: NotificationDto,
    /// Deliveries moved to CANCELLED by this call.
    cancelled: usize,
}

impl From<&Cancelled> for CancelledDto {
    fn from(c: &Cancelled) -> Self {
        CancelledDto { notification: (&c.view).into(), cancelled: c.cancelled }
    }
}
