//! Bulk DLQ replay/discard and their jobs (SPEC §5.6): a dry run unless `confirm: true`.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hub_application::ports::BulkAction;
use hub_application::use_cases::bulk::BulkCommand;
use hub_domain::JobId;

use super::auth::Actor;
use super::dto::BulkRequest;
use super::openapi::responses as ar;
use super::views::{BulkAnswer, BulkDryRunDto, BulkExecutingDto, BulkJobDto};
use crate::http::HttpState;
use crate::http::dto::formats;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, path_id};
use crate::http::openapi::responses as r;

/// Counts (dry run) or replays (`confirm: true`, as a paced job) every matching DLQ item.
#[utoipa::path(
    post,
    path = "/api/v1/admin/dlq/bulk-replay",
    operation_id = "bulkReplay",
    tag = "admin",
    security(("adminToken" = [])),
    request_body = BulkRequest,
    responses(
        (status = 200, description = "Dry run: nothing changed.", body = BulkDryRunDto),
        (status = 202, description = "A job was stored and runs in the background.", body = BulkExecutingDto,
            headers(("Location" = String, description = "/api/v1/admin/dlq/bulk-jobs/{jobId}"))),
        (status = 400, response = r::BadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn bulk_replay(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    ApiJson { body, .. }: ApiJson<BulkRequest>,
) -> Result<Response, ApiError> {
    run(&state, BulkAction::Replay, actor, body).await
}

/// Counts (dry run) or discards (`confirm: true`, as a job) every matching DLQ item; `reason`
/// is required.
#[utoipa::path(
    post,
    path = "/api/v1/admin/dlq/bulk-discard",
    operation_id = "bulkDiscard",
    tag = "admin",
    security(("adminToken" = [])),
    request_body = BulkRequest,
    responses(
        (status = 200, description = "Dry run: nothing changed.", body = BulkDryRunDto),
        (status = 202, description = "A job was stored and runs in the background.", body = BulkExecutingDto,
            headers(("Location" = String, description = "/api/v1/admin/dlq/bulk-jobs/{jobId}"))),
        (status = 400, response = ar::BulkDiscardBadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn bulk_discard(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    ApiJson { body, .. }: ApiJson<BulkRequest>,
) -> Result<Response, ApiError> {
    run(&state, BulkAction::Discard, actor, body).await
}

async fn run(
    state: &HttpState,
    action: BulkAction,
    Actor(actor): Actor,
    body: BulkRequest,
) -> Result<Response, ApiError> {
    let (filter, confirm, reason) = body.into_parts();
    let command = BulkCommand { action, filter, confirm, reason, actor: actor.to_owned() };
    let outcome = state.app().bulk(command).await?;
    Ok(match BulkAnswer::from(&outcome) {
        BulkAnswer::DryRun(dry) => (StatusCode::OK, Json(dry)).into_response(),
        BulkAnswer::Executing(job) => {
            let location = format!("/api/v1/admin/dlq/bulk-jobs/{}", job.job_id());
            let mut response = (StatusCode::ACCEPTED, Json(job)).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
    })
}

/// A bulk job's progress.
#[utoipa::path(
    get,
    path = "/api/v1/admin/dlq/bulk-jobs/{jobId}",
    operation_id = "getBulkJob",
    tag = "admin",
    security(("adminToken" = [])),
    params(("jobId" = formats::JobId, Path, description = "Job id (`job_…`)")),
    responses(
        (status = 200, description = "The job.", body = BulkJobDto),
        (status = 400, response = r::BadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 404, response = ar::JobNotFound),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn job(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BulkJobDto>, ApiError> {
    let id = path_id("jobId", &id, JobId::parse)?;
    let job = state.app().bulk_job(id).await?;
    Ok(Json(BulkJobDto::from(&job)))
}
