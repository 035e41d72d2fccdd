//! `POST /api/v1/callbacks/{vendor}` (SPEC §5.5): delivery reports from vendors, signed per
//! Standard Webhooks and verified over the raw body bytes before anything else is read.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use hub_application::ErrorCode;
use hub_application::use_cases::callbacks::{CallbackError, WEBHOOK_TOLERANCE};
use serde_json::Value;

use super::HttpState;
use super::dto::callbacks::{CallbackReceiptDto, CallbackRequest};
use super::error::ApiError;
use super::extract::{ApiPath, from_value};
use super::openapi::responses as r;

/// Largest accepted callback body (64 KiB); larger bodies are answered 413.
pub const CALLBACK_BODY_LIMIT: usize = 64 * 1024;

/// The one detail of every 401: it must not say which check failed.
const INVALID_SIGNATURE_DETAIL: &str = "the callback signature could not be verified";

/// Seconds a vendor is asked to wait when the delivery's dispatch result is not stored yet.
const NOT_YET_RECORDED_RETRY_AFTER: u64 = 5;

/// Seconds a vendor is asked to wait when the same `webhook-id` is being applied. A constant,
/// not the rest of the claim: the usual cause is a concurrent delivery that finishes within
/// milliseconds, after which the retry is a replay (200) or, if that apply failed, applied.
/// Only after a crash does the claim stay until it expires (at most
/// [`WEBHOOK_CLAIM`](hub_application::use_cases::callbacks::WEBHOOK_CLAIM)); the vendor's
/// retries until then are answered 503 again, and none is lost.
const IN_FLIGHT_RETRY_AFTER: u64 = 5;

/// Applies a vendor's delivery report, once per `webhook-id`.
#[utoipa::path(
    post,
    path = "/api/v1/callbacks/{vendor}",
    operation_id = "receiveCallback",
    tag = "callbacks",
    params(
        ("vendor" = String, Path, description = "The vendor, as named in `NH_CALLBACK_SECRETS`"),
        ("webhook-id" = String, Header, description = "Unique message id (the replay key), at most 256 visible ASCII characters"),
        ("webhook-timestamp" = String, Header, description = "Unix seconds; refused when more than 5 minutes off the clock either way"),
        ("webhook-signature" = String, Header,
            description = "Space-separated `v1,<base64 HMAC-SHA256>` entries over the raw bytes `{webhook-id}.{webhook-timestamp}.{body}`, \
                keyed with the base64-decoded part of the vendor's `whsec_…` secret; other version tags are ignored"),
    ),
    request_body = CallbackRequest,
    responses(
        (status = 200, description = "Taken: `APPLIED` (the delivery moved), `UNCHANGED` (it was not SENT, e.g. \
            already terminal) or `REPLAYED` (this `webhook-id` was applied before: nothing was done again).",
            body = CallbackReceiptDto),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::InvalidSignature),
        (status = 404, response = r::DeliveryNotFound),
        (status = 413, response = r::CallbackPayloadTooLarge),
        (status = 500, response = r::Internal),
        (status = 503, response = r::CallbackUnavailable),
    )
)]
pub(crate) async fn receive(
    State(state): State<HttpState>,
    ApiPath(vendor): ApiPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CallbackReceiptDto>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(CALLBACK_BODY_LIMIT)
        } else {
            ApiError::validation("body", "the request body could not be read")
        }
    })?;
    let now = state.app().deps().clock.now();
    let verified = state
        .callback_secrets()
        .verify(&vendor, &headers, &body, now, WEBHOOK_TOLERANCE)
        .map_err(|refusal| {
            tracing::debug!(vendor = ?vendor, reason = %refusal, "callback refused");
            ApiError::new(ErrorCode::InvalidSignature, INVALID_SIGNATURE_DETAIL)
        })?;
    // Only now is the body parsed: the signature covered the bytes as they came.
    let value: Value = serde_json::from_slice(&body).map_err(ApiError::malformed_json)?;
    if !value.is_object() {
        return Err(ApiError::validation("", "the request body must be a JSON object"));
    }
    let callback = from_value::<CallbackRequest>(value)?.try_into_callback(&vendor)?;
    let outcome = state.app().apply_signed_callback(&verified.webhook_id, callback).await?;
    Ok(Json(CallbackReceiptDto::from(&outcome)))
}

impl From<CallbackError> for ApiError {
    fn from(error: CallbackError) -> Self {
        match error {
            CallbackError::Port(port) => ApiError::from_port(&port),
            CallbackError::NotYetRecorded => ApiError::new(error.code(), error.to_string())
                .with_header(RETRY_AFTER, HeaderValue::from(NOT_YET_RECORDED_RETRY_AFTER)),
            CallbackError::InFlight => ApiError::new(error.code(), error.to_string())
                .with_header(RETRY_AFTER, HeaderValue::from(IN_FLIGHT_RETRY_AFTER)),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}
