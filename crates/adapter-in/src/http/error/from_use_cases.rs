//! Use-case errors to `ApiError`, through each error's `code()`; only the variants that carry
//! extra members (field, headers) or need another status are matched by name.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use hub_application::ErrorCode;
use hub_application::use_cases::notifications::NotificationError;
use hub_application::use_cases::recipients::RecipientUseCaseError;
use hub_application::use_cases::send::SendError;
use hub_application::use_cases::templates::TemplateUseCaseError;
use hub_domain::Kind;

use super::ApiError;

/// `field: message` messages of the use cases name the field before the colon.
pub(super) fn field_prefix(message: &str) -> Option<String> {
    let (field, _) = message.split_once(": ")?;
    let looks_like_field = !field.is_empty()
        && field.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'));
    looks_like_field.then(|| field.to_owned())
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Validation(message) => {
                let mut api = ApiError::new(ErrorCode::ValidationFailed, message.clone());
                api.field = field_prefix(&message);
                api
            }
            SendError::InFlight => ApiError::new(ErrorCode::IdempotencyInFlight, error.to_string())
                .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
            SendError::KeyReused => ApiError::new(ErrorCode::IdempotencyKeyReused, error.to_string()),
            SendError::RateLimited { channel, policy, retry_after } => {
                ApiError::rate_limited(channel, policy, retry_after)
            }
            SendError::Port(port) => ApiError::from_port(&port),
        }
    }
}

impl From<NotificationError> for ApiError {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::Port(port) => ApiError::from_port(&port),
            NotificationError::Validation(message) => {
                let mut api = ApiError::new(ErrorCode::ValidationFailed, message.clone());
                api.field = field_prefix(&message);
                api
            }
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

impl From<RecipientUseCaseError> for ApiError {
    fn from(error: RecipientUseCaseError) -> Self {
        match error {
            RecipientUseCaseError::Port(port) => ApiError::from_port(&port),
            RecipientUseCaseError::Validation { field, message } => ApiError::validation(field, message),
            RecipientUseCaseError::MandatoryKind(kind) => mandatory_kind(kind),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

fn mandatory_kind(kind: Kind) -> ApiError {
    ApiError::new(
        ErrorCode::MandatoryKind,
        format!("{kind} notifications are mandatory and cannot be opted out of"),
    )
    .with_field(format!("kinds.{kind}.allowed"))
}

impl From<TemplateUseCaseError> for ApiError {
    fn from(error: TemplateUseCaseError) -> Self {
        match error {
            TemplateUseCaseError::Port(port) => ApiError::from_port(&port),
            TemplateUseCaseError::Validation { field, message } => ApiError::validation(field, message),
            // TEMPLATE_NOT_FOUND is 422 when a send names a missing template, but an unknown
            // template id in a template URL is a missing resource: 404.
            TemplateUseCaseError::NotFound(_) => ApiError::new(error.code(), error.to_string())
                .with_status(StatusCode::NOT_FOUND, "template-not-found"),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}
