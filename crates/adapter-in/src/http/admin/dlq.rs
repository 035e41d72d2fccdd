//! `/api/v1/admin/dlq…` handlers for single deliveries and stats (SPEC §5.6).

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::HeaderValue;
use axum::http::header::ALLOW;
use axum::response::{IntoResponse, Response};
use hub_application::ErrorCode;
use hub_domain::DeliveryId;

use super::auth::Actor;
use super::dto::{DiscardRequest, DlqListQuery, DlqStatsQuery};
use super::openapi::responses as ar;
use super::views::{DlqItemDto, DlqPageDto, DlqStatsDto};
use crate::http::HttpState;
use crate::http::dto::formats;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, path_id};
use crate::http::openapi::responses as r;

/// EXHAUSTED deliveries, oldest first, over an opaque cursor.
#[utoipa::path(
    get,
    path = "/api/v1/admin/dlq",
    operation_id = "listDlq",
    tag = "admin",
    security(("adminToken" = [])),
    params(DlqListQuery),
    responses(
        (status = 200, description = "A page of the DLQ.", body = DlqPageDto),
        (status = 400, response = r::BadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn list(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<DlqListQuery>,
) -> Result<Json<DlqPageDto>, ApiError> {
    let (filter, cursor, limit) = query.try_into_parts()?;
    let page = state.app().list_dlq(filter, cursor.as_deref(), limit).await?;
    Ok(Json(DlqPageDto::from(&page)))
}

/// One delivery with its content, every try, its error class, the tries allowed and its topic
/// (any status, so an operator can follow a replay).
///
/// DLQ items are never hard-deleted: DELETE, like any method but GET, answers 405
/// METHOD_NOT_ALLOWED with `Allow: GET`; replay or discard them instead.
#[utoipa::path(
    get,
    path = "/api/v1/admin/dlq/{deliveryId}",
    operation_id = "getDlqItem",
    tag = "admin",
    security(("adminToken" = [])),
    params(("deliveryId" = formats::DeliveryId, Path, description = "Delivery id (`dlv_…`)")),
    responses(
        (status = 200, description = "The delivery.", body = DlqItemDto),
        (status = 400, response = r::BadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 404, response = ar::DeliveryNotFound),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn detail(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DlqItemDto>, ApiError> {
    let id = path_id("deliveryId", &id, DeliveryId::parse)?;
    let item = state.app().dlq_detail(id).await?;
    Ok(Json(DlqItemDto::from(&item)))
}

/// Nothing is ever hard-deleted: DELETE (and any other method but GET) answers 405 with
/// `Allow: GET`. Not an operation of the OpenAPI document: a method that is never allowed is no
/// operation, and the document's methods are what `Allow` must list (the API fuzzer checks both).
pub(crate) async fn not_allowed() -> Response {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "DLQ items are never deleted: replay or discard them (POST …/replay, POST …/discard)",
    )
    .with_header(ALLOW, HeaderValue::from_static("GET"))
    .into_response()
}

/// Replays an EXHAUSTED delivery: PENDING with tries reset, re-queued through the outbox.
#[utoipa::path(
    post,
    path = "/api/v1/admin/dlq/{deliveryId}/replay",
    operation_id = "replayDlqItem",
    tag = "admin",
    security(("adminToken" = [])),
    params(("deliveryId" = formats::DeliveryId, Path, description = "Delivery id (`dlv_…`)")),
    responses(
        (status = 200, description = "The delivery, now PENDING with its try count reset.", body = DlqItemDto),
        (status = 400, response = r::BadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 404, response = ar::DeliveryNotFound),
        (status = 409, response = ar::IllegalDlqOperation),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn replay(
    State(state): State<HttpState>,
    Extension(Actor(actor)): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DlqItemDto>, ApiError> {
    let id = path_id("deliveryId", &id, DeliveryId::parse)?;
    state.app().replay_dlq(id, actor).await?;
    let item = state.app().dlq_detail(id).await?;
    Ok(Json(DlqItemDto::from(&item)))
}

/// Discards an EXHAUSTED delivery with a reason (DISCARDED; nothing is deleted).
#[utoipa::path(
    post,
    path = "/api/v1/admin/dlq/{deliveryId}/discard",
    operation_id = "discardDlqItem",
    tag = "admin",
    security(("adminToken" = [])),
    params(("deliveryId" = formats::DeliveryId, Path, description = "Delivery id (`dlv_…`)")),
    request_body = DiscardRequest,
    responses(
        (status = 200, description = "The delivery, now DISCARDED with the reason.", body = DlqItemDto),
        (status = 400, response = r::BadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 404, response = ar::DeliveryNotFound),
        (status = 409, response = ar::IllegalDlqOperation),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn discard(
    State(state): State<HttpState>,
    Extension(Actor(actor)): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
    ApiJson { body, .. }: ApiJson<DiscardRequest>,
) -> Result<Json<DlqItemDto>, ApiError> {
    let id = path_id("deliveryId", &id, DeliveryId::parse)?;
    state.app().discard_dlq(id, &body.reason, actor).await?;
    let item = state.app().dlq_detail(id).await?;
    Ok(Json(DlqItemDto::from(&item)))
}

/// DLQ counts by time bucket, channel and error class, computed in the database.
#[utoipa::path(
    get,
    path = "/api/v1/admin/dlq/stats",
    operation_id = "getDlqStats",
    tag = "admin",
    security(("adminToken" = [])),
    params(DlqStatsQuery),
    responses(
        (status = 200, description = "Counts of the deliveries in the DLQ by bucket of `exhaustedAt`.",
            body = DlqStatsDto),
        (status = 400, response = r::BadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn stats(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<DlqStatsQuery>,
) -> Result<Json<DlqStatsDto>, ApiError> {
    let window = query.try_into_window(state.app().deps().clock.now())?;
    let rows = state.app().dlq_stats(window.from, window.to, window.bucket_seconds).await?;
    Ok(Json(DlqStatsDto::new(&window, &rows)))
}
