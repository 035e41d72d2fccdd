//! Vendor callbacks (SPEC §5.5): the report a vendor posts and the answer it gets.

use hub_application::use_cases::callbacks::{CallbackOutcome, DeliveryRef, VendorCallback};
use hub_domain::DeliveryId;
use hub_domain::delivery::ReceiptStatus as DomainReceiptStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enums as wire;
use super::formats;
use crate::http::error::ApiError;

/// What the vendor reports (SPEC §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ReceiptStatus {
    /// Delivered to the device, inbox or handset (SENT → DELIVERED).
    Delivered,
    /// Not delivered this time: a transient failure, retried on the schedule.
    Failed,
    /// Bounced: permanent (EXHAUSTED).
    Bounced,
    /// The token or address no longer exists: permanent (EXHAUSTED; a push token is disabled).
    Unregistered,
}

impl From<ReceiptStatus> for DomainReceiptStatus {
    fn from(value: ReceiptStatus) -> Self {
        match value {
            ReceiptStatus::Delivered => DomainReceiptStatus::Delivered,
            ReceiptStatus::Failed => DomainReceiptStatus::Failed,
            ReceiptStatus::Bounced => DomainReceiptStatus::Bounced,
            ReceiptStatus::Unregistered => DomainReceiptStatus::Unregistered,
        }
    }
}

/// `POST /api/v1/callbacks/{vendor}`: exactly one of `deliveryId` and `vendorMessageId`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CallbackRequest {
    /// Our delivery id (`dlv_…`).
    #[schema(value_type = Option<formats::DeliveryId>)]
    delivery_id: Option<String>,
    /// The vendor's message id, as returned when the message was handed over.
    #[schema(min_length = 1, example = "mock-01KF0C9F4G0000000000000002")]
    vendor_message_id: Option<String>,
    /// What happened.
    status: ReceiptStatus,
    /// The vendor's reason text (recorded on the try for failures), at most 1000 characters.
    #[schema(max_length = 1000)]
    reason: Option<String>,
}

/// Longest accepted `reason`, in characters.
const MAX_REASON_CHARS: usize = 1000;

impl CallbackRequest {
    /// The use-case input for `vendor`.
    pub(crate) fn try_into_callback(self, vendor: &str) -> Result<VendorCallback, ApiError> {
        let delivery = match (self.delivery_id, self.vendor_message_id) {
            (Some(id), None) => DeliveryRef::Delivery(
                DeliveryId::parse(&id).map_err(|e| ApiError::validation("deliveryId", e))?,
            ),
            (None, Some(vid)) if !vid.is_empty() => DeliveryRef::VendorMessage(vid),
            (None, Some(_)) => return Err(ApiError::validation("vendorMessageId", "must not be empty")),
            _ => {
                return Err(ApiError::validation("", "give exactly one of deliveryId and vendorMessageId"));
            }
        };
        if self.reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
            return Err(ApiError::validation(
                "reason",
                format_args!("at most {MAX_REASON_CHARS} characters"),
            ));
        }
        Ok(VendorCallback {
            vendor: vendor.to_owned(),
            channel: None,
            delivery,
            status: self.status.into(),
            reason: self.reason,
        })
    }
}

/// What the callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum CallbackResult {
    /// The delivery moved to `deliveryStatus`.
    Applied,
    /// The delivery was not SENT (e.g. already terminal) and was left as `deliveryStatus`.
    Unchanged,
    /// This `webhook-id` was already taken: nothing was done again.
    Replayed,
}

/// The 200 answer to a callback.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CallbackReceipt)]
pub(crate) struct CallbackReceiptDto {
    /// What the callback did.
    result: CallbackResult,
    /// The delivery's status after the callback; null for a replay.
    delivery_status: Option<wire::DeliveryStatus>,
}

impl From<&CallbackOutcome> for CallbackReceiptDto {
    fn from(outcome: &CallbackOutcome) -> Self {
        let (result, status) = match outcome {
            CallbackOutcome::Applied(s) => (CallbackResult::Applied, Some(*s)),
            CallbackOutcome::Unchanged(s) => (CallbackResult::Unchanged, Some(*s)),
            CallbackOutcome::Replayed => (CallbackResult::Replayed, None),
        };
        CallbackReceiptDto { result, delivery_status: status.map(Into::into) }
    }
}
