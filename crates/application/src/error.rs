//! Errors shared by the ports, and the stable error codes of SPEC §5.8.

hub_domain::named_enum!(
    /// The stable `code` of every problem+json answer (SPEC §5.8).
    ErrorCode {
        ValidationFailed => "VALIDATION_FAILED",
        MalformedJson => "MALFORMED_JSON",
        IdempotencyKeyRequired => "IDEMPOTENCY_KEY_REQUIRED",
        IdempotencyInFlight => "IDEMPOTENCY_IN_FLIGHT",
        IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
        RecipientNotFound => "RECIPIENT_NOT_FOUND",
        NotificationNotFound => "NOTIFICATION_NOT_FOUND",
        DeliveryNotFound => "DELIVERY_NOT_FOUND",
        TemplateNotFound => "TEMPLATE_NOT_FOUND",
        TemplateExists => "TEMPLATE_EXISTS",
        TemplateVariableMissing => "TEMPLATE_VARIABLE_MISSING",
        MandatoryKind => "MANDATORY_KIND",
        RateLimited => "RATE_LIMITED",
        InvalidSignature => "INVALID_SIGNATURE",
        Unauthorized => "UNAUTHORIZED",
        IllegalDlqOperation => "ILLEGAL_DLQ_OPERATION",
        JobNotFound => "JOB_NOT_FOUND",
        MethodNotAllowed => "METHOD_NOT_ALLOWED",
        NotFound => "NOT_FOUND",
        DependencyUnavailable => "DEPENDENCY_UNAVAILABLE",
        Internal => "INTERNAL",
    }
);

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::ValidationFailed
            | ErrorCode::MalformedJson
            | ErrorCode::IdempotencyKeyRequired
            | ErrorCode::MandatoryKind => 400,
            ErrorCode::InvalidSignature | ErrorCode::Unauthorized => 401,
            ErrorCode::RecipientNotFound
            | ErrorCode::NotificationNotFound
            | ErrorCode::DeliveryNotFound
            | ErrorCode::JobNotFound
            | ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::IdempotencyInFlight | ErrorCode::TemplateExists | ErrorCode::IllegalDlqOperation => {
                409
            }
            ErrorCode::IdempotencyKeyReused
            | ErrorCode::TemplateNotFound
            | ErrorCode::TemplateVariableMissing => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::DependencyUnavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// A failure of a store, queue or cache port that is not a business outcome.
///
/// Business outcomes (not found, conflict, already exists) are returned in `Ok` values
/// so that every adapter reports them the same way; only infrastructure trouble lands here.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The backend could not be reached or timed out; the operation may be retried later.
    /// Use cases answer `DEPENDENCY_UNAVAILABLE` (503).
    #[error("dependency unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else (a bug, corrupt data); answered as `INTERNAL` (500) without details.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl PortError {
    /// Shorthand for an unavailable dependency with a message.
    pub fn unavailable(message: impl std::fmt::Display) -> Self {
        PortError::Unavailable(anyhow::anyhow!("{message}"))
    }

    /// The error code a use case answers with.
    pub const fn code(&self) -> ErrorCode {
        match self {
            PortError::Unavailable(_) => ErrorCode::DependencyUnavailable,
            PortError::Unexpected(_) => ErrorCode::Internal,
        }
    }
}
