//! `/api/v1/templates` handlers (SPEC §5.3).

use axum::Json;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hub_domain::{Channel, TemplateId};

use super::HttpState;
use super::dto::formats;
use super::dto::templates::{
    CreateTemplateRequest, SearchTemplatesQuery, TemplateDto, TemplateListDto, TemplateVersionsDto,
    UpdateTemplateRequest,
};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, param, path_id};
use super::openapi::responses as r;

fn template_id(raw: &str) -> Result<TemplateId, ApiError> {
    path_id("id", raw, TemplateId::parse)
}

/// Registers a template (version 1).
#[utoipa::path(
    post,
    path = "/api/v1/templates",
    operation_id = "createTemplate",
    tag = "templates",
    request_body = CreateTemplateRequest,
    responses(
        (status = 201, description = "Registered.", body = TemplateDto,
            headers(("Location" = String, description = "/api/v1/templates/{templateId}"))),
        (status = 400, response = r::BadRequest),
        (status = 409, response = r::TemplateExists),
        (status = 413, response = r::PayloadTooLarge),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn create(
    State(state): State<HttpState>,
    ApiJson { body, .. }: ApiJson<CreateTemplateRequest>,
) -> Result<Response, ApiError> {
    let template = state.app().create_template(body.into_command()).await?;
    let mut response = (StatusCode::CREATED, Json(TemplateDto::from(&template))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/templates/{}", template.id)) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// Searches templates by exact key, channel and locale.
#[utoipa::path(
    get,
    path = "/api/v1/templates",
    operation_id = "searchTemplates",
    tag = "templates",
    params(SearchTemplatesQuery),
    responses(
        (status = 200, description = "Matching templates.", body = TemplateListDto),
        (status = 400, response = r::BadRequest),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn search(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<SearchTemplatesQuery>,
) -> Result<Json<TemplateListDto>, ApiError> {
    let channel = param::<Channel>("channel", query.channel)?;
    let found = state.app().search_templates(query.key.as_deref(), channel, query.locale.as_deref()).await?;
    Ok(Json(TemplateListDto::new(&found)))
}

/// A template at its newest version.
#[utoipa::path(
    get,
    path = "/api/v1/templates/{id}",
    operation_id = "getTemplate",
    tag = "templates",
    params(("id" = formats::TemplateId, Path, description = "Template id (`tpl_…`)")),
    responses(
        (status = 200, description = "The template.", body = TemplateDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::TemplateNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn get(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TemplateDto>, ApiError> {
    let template = state.app().get_template(template_id(&id)?).await?;
    Ok(Json(TemplateDto::from(&template)))
}

/// Makes a new version; sends use the newest.
#[utoipa::path(
    put,
    path = "/api/v1/templates/{id}",
    operation_id = "updateTemplate",
    tag = "templates",
    params(("id" = formats::TemplateId, Path, description = "Template id (`tpl_…`)")),
    request_body = UpdateTemplateRequest,
    responses(
        (status = 200, description = "The new version.", body = TemplateDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::TemplateNotFound),
        (status = 413, response = r::PayloadTooLarge),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn update(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
    ApiJson { body, .. }: ApiJson<UpdateTemplateRequest>,
) -> Result<Json<TemplateDto>, ApiError> {
    let id = template_id(&id)?;
    let template = state.app().update_template(id, body.title, body.body).await?;
    Ok(Json(TemplateDto::from(&template)))
}

/// Deletes a template and its versions.
#[utoipa::path(
    delete,
    path = "/api/v1/templates/{id}",
    operation_id = "deleteTemplate",
    tag = "templates",
    params(("id" = formats::TemplateId, Path, description = "Template id (`tpl_…`)")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::TemplateNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn delete(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.app().delete_template(template_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version of a template, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/templates/{id}/versions",
    operation_id = "listTemplateVersions",
    tag = "templates",
    params(("id" = formats::TemplateId, Path, description = "Template id (`tpl_…`)")),
    responses(
        (status = 200, description = "The versions.", body = TemplateVersionsDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::TemplateNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn versions(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TemplateVersionsDto>, ApiError> {
    let id = template_id(&id)?;
    let versions = state.app().template_versions(id).await?;
    Ok(Json(TemplateVersionsDto::new(id, &versions)))
}
