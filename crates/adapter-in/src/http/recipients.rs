//! `/api/v1/recipients` handlers: profiles, preferences (SPEC §5.2) and devices (SPEC §5.4).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hub_application::ports::{DeviceRegistration, PutOutcome};
use hub_domain::{DeviceId, RecipientId};

use super::HttpState;
use super::dto::formats;
use super::dto::recipients::{
    DeviceDto, DeviceListDto, PreferencesDto, PreferencesRequest, PutRecipientRequest, RecipientDto,
    RegisterDeviceRequest,
};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, path_id};
use super::openapi::responses as r;

fn recipient_id(raw: &str) -> Result<RecipientId, ApiError> {
    path_id("id", raw, RecipientId::parse)
}

/// Creates or replaces a recipient's profile (devices and preferences are kept).
#[utoipa::path(
    put,
    path = "/api/v1/recipients/{id}",
    operation_id = "putRecipient",
    tag = "recipients",
    params(("id" = formats::RecipientId, Path,
        description = "Recipient id (1–128 characters, no whitespace or `/`)")),
    request_body = PutRecipientRequest,
    responses(
        (status = 201, description = "Created.", body = RecipientDto),
        (status = 200, description = "Replaced.", body = RecipientDto),
        (status = 400, response = r::BadRequest),
        (status = 413, response = r::PayloadTooLarge),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn put(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
    ApiJson { body, .. }: ApiJson<PutRecipientRequest>,
) -> Result<(StatusCode, Json<RecipientDto>), ApiError> {
    let id = recipient_id(&id)?;
    let (outcome, stored) = state.app().put_recipient(body.into_command(id)).await?;
    let status = match outcome {
        PutOutcome::Created => StatusCode::CREATED,
        PutOutcome::Replaced => StatusCode::OK,
    };
    Ok((status, Json(RecipientDto::from(&stored))))
}

/// A recipient with its devices.
#[utoipa::path(
    get,
    path = "/api/v1/recipients/{id}",
    operation_id = "getRecipient",
    tag = "recipients",
    params(("id" = formats::RecipientId, Path, description = "Recipient id")),
    responses(
        (status = 200, description = "The recipient.", body = RecipientDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::RecipientNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn get(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RecipientDto>, ApiError> {
    let record = state.app().get_recipient(&recipient_id(&id)?).await?;
    Ok(Json(RecipientDto::from(&record)))
}

/// Erases a recipient's addresses, devices and preferences; delivery history stays, masked.
#[utoipa::path(
    delete,
    path = "/api/v1/recipients/{id}",
    operation_id = "deleteRecipient",
    tag = "recipients",
    params(("id" = formats::RecipientId, Path, description = "Recipient id")),
    responses(
        (status = 204, description = "Erased."),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::RecipientNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn delete(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.app().delete_recipient(&recipient_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The stored preference document (the defaults when never set).
#[utoipa::path(
    get,
    path = "/api/v1/recipients/{id}/preferences",
    operation_id = "getPreferences",
    tag = "recipients",
    params(("id" = formats::RecipientId, Path, description = "Recipient id")),
    responses(
        (status = 200, description = "The preferences.", body = PreferencesDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::RecipientNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn get_preferences(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PreferencesDto>, ApiError> {
    let preferences = state.app().get_preferences(&recipient_id(&id)?).await?;
    Ok(Json(PreferencesDto::from(&preferences)))
}

/// Replaces the preference document and answers the full stored document.
#[utoipa::path(
    put,
    path = "/api/v1/recipients/{id}/preferences",
    operation_id = "putPreferences",
    tag = "recipients",
    params(("id" = formats::RecipientId, Path, description = "Recipient id")),
    request_body = PreferencesRequest,
    responses(
        (status = 200, description = "The stored preferences.", body = PreferencesDto),
        (status = 400, response = r::PreferencesBadRequest),
        (status = 404, response = r::RecipientNotFound),
        (status = 413, response = r::PayloadTooLarge),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn put_preferences(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
    ApiJson { body, .. }: ApiJson<PreferencesRequest>,
) -> Result<Json<PreferencesDto>, ApiError> {
    let id = recipient_id(&id)?;
    let preferences = state.app().put_preferences(&id, body.try_into_command()?).await?;
    Ok(Json(PreferencesDto::from(&preferences)))
}

/// Registers a push device; a token of another recipient moves here.
#[utoipa::path(
    post,
    path = "/api/v1/recipients/{id}/devices",
    operation_id = "registerDevice",
    tag = "recipients",
    params(("id" = formats::RecipientId, Path, description = "Recipient id")),
    request_body = RegisterDeviceRequest,
    responses(
        (status = 201, description = "A new token.", body = DeviceDto),
        (status = 200, description = "The token was known (re-activated) or moved from another recipient.",
            body = DeviceDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::RecipientNotFound),
        (status = 413, response = r::PayloadTooLarge),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn register_device(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
    ApiJson { body, .. }: ApiJson<RegisterDeviceRequest>,
) -> Result<(StatusCode, Json<DeviceDto>), ApiError> {
    let id = recipient_id(&id)?;
    let registration = state.app().register_device(&id, body.platform.into(), &body.token).await?;
    let status = match registration {
        DeviceRegistration::Created(_) => StatusCode::CREATED,
        DeviceRegistration::Existing(_) | DeviceRegistration::Moved(_) => StatusCode::OK,
    };
    Ok((status, Json(DeviceDto::from(registration.device()))))
}

/// The recipient's devices, active and disabled.
#[utoipa::path(
    get,
    path = "/api/v1/recipients/{id}/devices",
    operation_id = "listDevices",
    tag = "recipients",
    params(("id" = formats::RecipientId, Path, description = "Recipient id")),
    responses(
        (status = 200, description = "The devices.", body = DeviceListDto),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::RecipientNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn list_devices(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeviceListDto>, ApiError> {
    let devices = state.app().list_devices(&recipient_id(&id)?).await?;
    Ok(Json(DeviceListDto::new(&devices)))
}

/// Disables one of the recipient's devices.
#[utoipa::path(
    delete,
    path = "/api/v1/recipients/{id}/devices/{deviceId}",
    operation_id = "disableDevice",
    tag = "recipients",
    params(
        ("id" = formats::RecipientId, Path, description = "Recipient id"),
        ("deviceId" = formats::DeviceId, Path, description = "Device id (`dev_…`)"),
    ),
    responses(
        (status = 204, description = "Disabled."),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::DeviceNotFound),
        (status = 500, response = r::Internal),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn disable_device(
    State(state): State<HttpState>,
    ApiPath((id, device)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = recipient_id(&id)?;
    let device = path_id("deviceId", &device, DeviceId::parse)?;
    state.app().disable_device(&id, device).await?;
    Ok(StatusCode::NO_CONTENT)
}
