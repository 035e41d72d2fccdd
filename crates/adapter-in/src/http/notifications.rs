//! `/api/v1/notifications` handlers (SPEC §5.1).

use axum::Json;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hub_application::use_cases::send::SendOutcome;
use hub_domain::NotificationId;
use hub_domain::idempotency::Fingerprint;

use super::HttpState;
use super::dto::formats;
use super::dto::notifications::{ListNotificationsQuery, SendNotificationRequest};
use super::dto::views::{CancelledDto, NotificationDto, NotificationPageDto, SendReceiptDto};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKeyHeader, path_id};
use super::openapi::responses as r;

/// Marks a response that repeats a stored outcome.
pub(crate) const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Accepts a notification exactly once per Idempotency-Key.
#[utoipa::path(
    post,
    path = "/api/v1/notifications",
    operation_id = "sendNotification",
    tag = "notifications",
    params(
        ("Idempotency-Key" = formats::IdempotencyKey, Header,
            description = "1–255 characters, a quoted sf-string or a bare token; scoped per caller"),
    ),
    request_body = SendNotificationRequest,
    responses(
        (status = 202, description = "Accepted: deliveries were created.", body = SendReceiptDto,
            headers(
                ("Location" = String, description = "/api/v1/notifications/{notificationId}"),
                ("Idempotent-Replayed" = String, description = "`true` when this repeats a stored outcome"),
            )),
        (status = 200, description = "Every channel was skipped: `status` is SUPPRESSED with `suppressionReason`.",
            body = SendReceiptDto,
            headers(
                ("Location" = String, description = "/api/v1/notifications/{notificationId}"),
                ("Idempotent-Replayed" = String, description = "`true` when this repeats a stored outcome"),
            )),
        (status = 400, response = r::SendBadRequest),
        (status = 404, response = r::RecipientNotFound),
        (status = 409, response = r::InFlight),
        (status = 413, response = r::PayloadTooLarge),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 422, response = r::SendUnprocessable),
        (status = 429, response = r::RateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn send(
    State(state): State<HttpState>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson { value, body }: ApiJson<SendNotificationRequest>,
) -> Result<Response, ApiError> {
    let fingerprint = Fingerprint::of_json(&value);
    let command = body.try_into_command(state.scope(), key, fingerprint)?;
    let result = state.app().send(command).await?;
    let mut response = render_outcome(&result.outcome);
    if result.replayed {
        response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Renders a send outcome; the same outcome always renders to the same status, headers and
/// bytes, which is what makes replays identical.
fn render_outcome(outcome: &SendOutcome) -> Response {
    let (status, receipt) = match outcome {
        SendOutcome::Accepted(receipt) => (StatusCode::ACCEPTED, receipt),
        SendOutcome::Suppressed(receipt) => (StatusCode::OK, receipt),
        SendOutcome::Rejected(rejection) => return ApiError::from_rejection(rejection).into_response(),
    };
    let location = format!("/api/v1/notifications/{}", receipt.notification_id);
    let mut response = (status, Json(SendReceiptDto::from(receipt))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// One notification with its deliveries, tries and derived status.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/{id}",
    operation_id = "getNotification",
    tag = "notifications",
    params(("id" = formats::NotificationId, Path, description = "Notification id (`ntf_…`)")),
    responses(
        (status = 200, description = "The notification.", body = NotificationDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::NotificationNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn get(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<NotificationDto>, ApiError> {
    let id = path_id("id", &id, NotificationId::parse)?;
    let view = state.app().get_notification(id).await?;
    Ok(Json(NotificationDto::from(&view)))
}

/// Notifications, newest first, over an opaque cursor.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    operation_id = "listNotifications",
    tag = "notifications",
    params(ListNotificationsQuery),
    responses(
        (status = 200, description = "A page of notifications.", body = NotificationPageDto),
        (status = 400, response = r::BadRequest),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn list(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<ListNotificationsQuery>,
) -> Result<Json<NotificationPageDto>, ApiError> {
    let page = state.app().list_notifications(query.try_into_query()?).await?;
    Ok(Json(NotificationPageDto::from(&page)))
}

/// Cancels the deliveries not dispatched yet.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/{id}/cancel",
    operation_id = "cancelNotification",
    tag = "notifications",
    params(("id" = formats::NotificationId, Path, description = "Notification id (`ntf_…`)")),
    responses(
        (status = 200, description = "The notification after the cancel, with `cancelled`.", body = CancelledDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::NotificationNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn cancel(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CancelledDto>, ApiError> {
    let id = path_id("id", &id, NotificationId::parse)?;
    let cancelled = state.app().cancel_notification(id).await?;
    Ok(Json(CancelledDto::from(&cancelled)))
}
