//! DLQ and bulk use-case errors to `ApiError` (through each error's `code()`); validation
//! messages are `field: message`, so the field is named in the problem.

use hub_application::use_cases::bulk::BulkError;
use hub_application::use_cases::dlq::DlqError;

use crate::http::error::ApiError;

/// `limit: must be …` → 400 naming `limit`; a message without a field name stays whole.
fn validation(message: &str) -> ApiError {
    match message.split_once(": ") {
        Some((field, rest)) if !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric()) => {
            ApiError::validation(field, rest)
        }
        _ => ApiError::validation("", message),
    }
}

impl From<DlqError> for ApiError {
    fn from(error: DlqError) -> Self {
        match error {
            DlqError::Validation(message) => validation(&message),
            DlqError::Port(port) => ApiError::from_port(&port),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

impl From<BulkError> for ApiError {
    fn from(error: BulkError) -> Self {
        match error {
            BulkError::Validation(message) => validation(&message),
            BulkError::Port(port) => ApiError::from_port(&port),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}
