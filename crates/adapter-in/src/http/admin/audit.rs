//! `GET /api/v1/admin/audit` (SPEC §5.6): every admin action and dry run, newest first.

use axum::Json;
use axum::extract::State;

use super::dto::AuditQuery;
use super::openapi::responses as ar;
use super::views::AuditPageDto;
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::http::openapi::responses as r;

/// The audit trail, newest first, over an opaque cursor.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    operation_id = "listAudit",
    tag = "admin",
    security(("adminToken" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the audit trail.", body = AuditPageDto),
        (status = 400, response = r::BadRequest),
        (status = 401, response = ar::Unauthorized),
        (status = 429, response = ar::AdminRateLimited),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn list(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPageDto>, ApiError> {
    let (filter, cursor, limit) = query.try_into_parts()?;
    let page = state.app().list_audit(filter, cursor.as_deref(), limit).await?;
    Ok(Json(AuditPageDto::from(&page)))
}
