//! `ApiError`: every failure as an RFC 9457 `application/problem+json` answer with a stable
//! `code` (SPEC §5.8). Use-case errors map through their `code()`, extractor rejections through
//! the constructors here; 5xx bodies never carry the cause, which is logged once, here.

use std::time::Duration;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hub_application::ErrorCode;
use hub_application::PortError;
use hub_application::use_cases::send::Rejection;
use hub_domain::Channel;
use hub_domain::rate_limit::BucketPolicy;
use serde::Serialize;
use utoipa::ToSchema;

mod from_use_cases;

use from_use_cases::field_prefix;

/// The media type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// Prefix of every problem `type` URI; the rest is the code in kebab case.
pub(crate) const PROBLEM_BASE: &str = "https://notification-hub.dev/problems/";

/// The JSON body of an error (RFC 9457), with the hub's `code` and optional extension members.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct Problem {
    /// A stable URI naming the problem type, e.g. `https://notification-hub.dev/problems/rate-limited`.
    #[serde(rename = "type")]
    pub(crate) problem_type: String,
    /// A short summary of the problem type.
    pub(crate) title: String,
    /// The HTTP status code.
    pub(crate) status: u16,
    /// What went wrong with this request.
    pub(crate) detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) instance: Option<String>,
    /// The stable error code (SPEC §5.8).
    #[schema(schema_with = error_code_schema)]
    pub(crate) code: &'static str,
    /// The offending request field, header or parameter, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    /// The binding channel, for RATE_LIMITED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) channel: Option<&'static str>,
    /// The missing template variable, for TEMPLATE_VARIABLE_MISSING.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) variable: Option<String>,
}

fn error_code_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
        .description(Some("Stable error code (SPEC §5.8)."))
        .build()
}

/// A failure on its way to becoming a problem+json response (boxed: it travels in every `Err`).
#[derive(Debug)]
pub(crate) struct ApiError(Box<Details>);

/// What an [`ApiError`] carries.
#[derive(Debug)]
pub(crate) struct Details {
    status: StatusCode,
    code: ErrorCode,
    /// Overrides the type slug derived from the code (413, 415).
    slug: Option<&'static str>,
    detail: String,
    field: Option<String>,
    channel: Option<Channel>,
    variable: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The internal cause of a 5xx: logged, never shown.
    cause: Option<String>,
}

impl std::ops::Deref for ApiError {
    type Target = Details;

    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

impl ApiError {
    /// An error with the status of its code.
    pub(crate) fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError(Box::new(Details {
            status: StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            slug: None,
            detail: detail.into(),
            field: None,
            channel: None,
            variable: None,
            headers: Vec::new(),
            cause: None,
        }))
    }

    /// 400 VALIDATION_FAILED naming the field.
    pub(crate) fn validation(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        let detail = if field.is_empty() { message.to_string() } else { format!("{field}: {message}") };
        let mut error = ApiError::new(ErrorCode::ValidationFailed, detail);
        error.field = (!field.is_empty()).then_some(field);
        error
    }

    /// 400 MALFORMED_JSON.
    pub(crate) fn malformed_json(message: impl std::fmt::Display) -> Self {
        ApiError::new(ErrorCode::MalformedJson, format!("the request body is not valid JSON: {message}"))
    }

    /// 415: the body is not JSON by its `Content-Type`.
    pub(crate) fn unsupported_media_type() -> Self {
        ApiError::new(ErrorCode::ValidationFailed, "Content-Type must be application/json")
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
            .with_field("Content-Type")
    }

    /// 413: the body is over the limit.
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        ApiError::new(ErrorCode::ValidationFailed, format!("the request body is larger than {limit} bytes"))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large")
    }

    /// 404 NOT_FOUND for a path no route serves.
    pub(crate) fn no_route() -> Self {
        ApiError::new(ErrorCode::NotFound, "no resource is served at this path")
    }

    /// 405 METHOD_NOT_ALLOWED; the router adds the `Allow` header.
    pub(crate) fn method_not_allowed() -> Self {
        ApiError::new(ErrorCode::MethodNotAllowed, "this method is not allowed here; see the Allow header")
    }

    /// 500 INTERNAL with a cause for the log only.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = ApiError::new(ErrorCode::Internal, "an unexpected error occurred");
        error.cause = Some(cause.to_string());
        error
    }

    /// Changes the status and the type slug (for 413, 415 and 404 of templates).
    pub(crate) fn with_status(mut self, status: StatusCode, slug: &'static str) -> Self {
        self.status = status;
        self.slug = Some(slug);
        self
    }

    /// Names the offending field.
    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds a response header.
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The body without `instance` (the router's edge adds the request path).
    pub(crate) fn problem(&self) -> Problem {
        let slug = self.slug.map(str::to_owned).unwrap_or_else(|| slug_of(self.code));
        Problem {
            problem_type: format!("{PROBLEM_BASE}{slug}"),
            title: title_of(self.code).to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            instance: None,
            code: self.code.as_str(),
            field: self.field.clone(),
            channel: self.channel.map(Channel::as_str),
            variable: self.variable.clone(),
        }
    }

    /// A dependency or internal failure: generic text for the caller, the cause for the log.
    pub(crate) fn from_port(error: &PortError) -> Self {
        let mut api = match error {
            PortError::Unavailable(_) => {
                ApiError::new(ErrorCode::DependencyUnavailable, "a dependency is unavailable; retry later")
            }
            PortError::Unexpected(_) => ApiError::new(ErrorCode::Internal, "an unexpected error occurred"),
        };
        api.cause = Some(format!("{error:#}"));
        api
    }

    /// A business rejection stored with the idempotency key; rendered the same way every time.
    pub(crate) fn from_rejection(rejection: &Rejection) -> Self {
        let mut error = ApiError::new(rejection.code, rejection.detail.clone());
        error.variable = rejection.variable.clone();
        if rejection.code == ErrorCode::ValidationFailed {
            error.field = field_prefix(&rejection.detail);
        }
        error
    }

    /// 429 with `Retry-After`, `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
    pub(crate) fn rate_limited(channel: Channel, policy: BucketPolicy, retry_after: Duration) -> Self {
        let wait = whole_seconds(retry_after);
        let window = whole_seconds(policy.period());
        let name = channel.as_str().to_ascii_lowercase();
        let mut error = ApiError::new(
            ErrorCode::RateLimited,
            format!("rate limit of {policy} exceeded for channel {channel}; retry in {wait} s"),
        );
        error.channel = Some(channel);
        error
            .with_header(RETRY_AFTER, HeaderValue::from(wait))
            .with_header(
                HeaderName::from_static("ratelimit-policy"),
                header_text(&format!("\"{name}\";q={};w={window}", policy.capacity())),
            )
            .with_header(
                HeaderName::from_static("ratelimit"),
                header_text(&format!("\"{name}\";r=0;t={wait}")),
            )
    }
}

/// Whole seconds, rounded up, at least 1 (for `Retry-After` and the rate-limit headers).
pub(crate) fn whole_seconds(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

fn header_text(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""))
}

/// The `type` slug of a code: `RATE_LIMITED` → `rate-limited`.
pub(crate) fn slug_of(code: ErrorCode) -> String {
    code.as_str().to_ascii_lowercase().replace('_', "-")
}

/// The `title` of a code.
pub(crate) const fn title_of(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::ValidationFailed => "The request is invalid",
        ErrorCode::MalformedJson => "The request body is not valid JSON",
        ErrorCode::IdempotencyKeyRequired => "An Idempotency-Key header is required",
        ErrorCode::IdempotencyInFlight => "A request with this Idempotency-Key is still in flight",
        ErrorCode::IdempotencyKeyReused => "The Idempotency-Key was used with a different request",
        ErrorCode::RecipientNotFound => "Recipient not found",
        ErrorCode::NotificationNotFound => "Notification not found",
        ErrorCode::DeliveryNotFound => "Delivery not found",
        ErrorCode::TemplateNotFound => "Template not found",
        ErrorCode::TemplateExists => "The template already exists",
        ErrorCode::TemplateVariableMissing => "A template variable is missing",
        ErrorCode::MandatoryKind => "Mandatory kinds cannot be opted out of",
        ErrorCode::RateLimited => "Rate limit exceeded",
        ErrorCode::InvalidSignature => "Invalid signature",
        ErrorCode::Unauthorized => "Unauthorized",
        ErrorCode::IllegalDlqOperation => "Illegal DLQ operation",
        ErrorCode::JobNotFound => "Job not found",
        ErrorCode::MethodNotAllowed => "Method not allowed",
        ErrorCode::NotFound => "Not found",
        ErrorCode::DependencyUnavailable => "A dependency is unavailable",
        ErrorCode::Internal => "Internal error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let this = *self.0;
        if this.status.is_server_error() {
            let cause = this.cause.as_deref().unwrap_or("-");
            if this.code == ErrorCode::DependencyUnavailable {
                tracing::warn!(
                    code = this.code.as_str(),
                    status = this.status.as_u16(),
                    cause,
                    "request failed"
                );
            } else {
                tracing::error!(
                    code = this.code.as_str(),
                    status = this.status.as_u16(),
                    cause,
                    "request failed"
                );
            }
        }
        let mut response = render_problem(&problem);
        *response.status_mut() = this.status;
        for (name, value) in this.headers {
            response.headers_mut().append(name, value);
        }
        response.extensions_mut().insert(problem);
        response
    }
}

/// Serializes a problem as the body of a response (status 200 until the caller sets it).
pub(crate) fn render_problem(problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = body.into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_code_has_its_own_type_uri_and_a_title() {
        let slugs: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| slug_of(*c)).collect();
        assert_eq!(slugs.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            let problem = ApiError::new(*code, "x").problem();
            assert!(problem.problem_type.starts_with(PROBLEM_BASE));
            assert!(!problem.title.is_empty());
            assert_eq!(problem.status, code.http_status());
            assert_eq!(problem.code, code.as_str());
        }
        assert_eq!(slug_of(ErrorCode::RateLimited), "rate-limited");
    }

    #[test]
    fn waits_are_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(11_001)), 12);
        assert_eq!(whole_seconds(Duration::from_secs(12)), 12);
    }

    #[test]
    fn rate_limited_names_the_channel_and_sets_the_draft_headers() {
        let policy = BucketPolicy::parse("5/60s").unwrap();
        let error = ApiError::rate_limited(Channel::Sms, policy, Duration::from_millis(11_500));
        let headers: Vec<(String, String)> =
            error.headers.iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned())).collect();
        assert!(headers.contains(&("retry-after".into(), "12".into())));
        assert!(headers.contains(&("ratelimit-policy".into(), "\"sms\";q=5;w=60".into())));
        assert!(headers.contains(&("ratelimit".into(), "\"sms\";r=0;t=12".into())));
        assert_eq!(error.problem().channel, Some("SMS"));
    }

    #[test]
    fn use_case_messages_name_their_field() {
        assert_eq!(field_prefix("title: at most 200 characters"), Some("title".into()));
        assert_eq!(field_prefix("channels[1].address: bad"), Some("channels[1].address".into()));
        assert_eq!(field_prefix("no template x for channel EMAIL"), None);
    }

    #[test]
    fn internal_errors_do_not_show_their_cause() {
        let error =
            ApiError::from_port(&PortError::Unexpected(std::io::Error::other("db at 10.0.0.1").into()));
        let problem = error.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("10.0.0.1"));
    }
}
