//! Extractors that reject through [`ApiError`]: a JSON body (kept as a `Value` too, for the
//! idempotency fingerprint), query parameters, path segments and the `Idempotency-Key` header.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use hub_application::ErrorCode;
use hub_domain::idempotency::IdempotencyKey;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::HttpState;
use super::error::ApiError;

mod objects;

/// The name of the idempotency header.
pub(crate) const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// A JSON request body: `Content-Type` checked, size limited, parsed to a [`Value`] and then to
/// the DTO `T` (unknown fields and wrong types are 400 naming the field).
#[derive(Debug)]
pub(crate) struct ApiJson<T> {
    /// The body as parsed JSON (what the idempotency fingerprint covers).
    pub(crate) value: Value,
    /// The body as its DTO.
    pub(crate) body: T,
}

impl<T: DeserializeOwned> FromRequest<HttpState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &HttpState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(state.body_limit())
            } else {
                ApiError::validation("body", "the request body could not be read")
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(ApiError::malformed_json)?;
        // `from_value` refuses arrays as structs too; the body itself gets a plainer message.
        if !value.is_object() {
            return Err(ApiError::validation("", "the request body must be a JSON object"));
        }
        let body = from_value(value.clone())?;
        Ok(ApiJson { value, body })
    }
}

/// Whether the `Content-Type` is `application/json` or `application/*+json` (parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|sub| sub.ends_with("+json") && sub.len() > 5)
}

/// Deserializes a DTO from parsed JSON, naming the offending field on failure. Structs are
/// read from JSON objects only (see [`objects`]), never from arrays by position.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(objects::ObjectsOnly(value)).map_err(|error| {
        let message = error.inner().to_string();
        let field = field_of(&error.path().to_string(), &message);
        ApiError::validation(field, tidy(&message))
    })
}

/// The field a serde error is about: its path, plus the name in an unknown/missing field message.
fn field_of(path: &str, message: &str) -> String {
    let mut field = if path == "." { String::new() } else { path.replace(".?", "").replace('?', "") };
    for prefix in ["unknown field `", "missing field `"] {
        if let Some(name) = message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()) {
            if !field.ends_with(name) {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(name);
            }
        }
    }
    field
}

/// Serde messages name Rust types (`expected struct SendRequest`); callers see JSON terms.
fn tidy(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("struct ") {
        out.push_str(&rest[..at]);
        out.push_str("a JSON object");
        rest = &rest[at + "struct ".len()..];
        rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    }
    out.push_str(rest);
    out
}

/// Query parameters as a DTO of optional strings: unknown or repeated parameters are 400.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::validation("query", "the query string is malformed"))?;
        let mut object = serde_json::Map::new();
        for (name, value) in pairs {
            if object.insert(name.clone(), Value::String(value)).is_some() {
                return Err(ApiError::validation(name, "the parameter is given more than once"));
            }
        }
        from_value(Value::Object(object)).map(ApiQuery)
    }
}

/// Path segments (`String` or a tuple of them); ids are parsed by the handler with [`path_id`].
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) if rejection.status().is_server_error() => {
                Err(ApiError::internal(rejection.body_text()))
            }
            Err(_) => {
                Err(ApiError::validation("path", "a path segment is not valid UTF-8 or not well-formed"))
            }
        }
    }
}

/// Parses a typed id from a path segment: a malformed id is 400 naming the parameter.
pub(crate) fn path_id<T, E: std::fmt::Display>(
    name: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::validation(name, e))
}

/// Parses a query parameter with `FromStr`: a bad value is 400 naming the parameter.
pub(crate) fn param<T>(name: &str, raw: Option<String>) -> Result<Option<T>, ApiError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    raw.map(|text| text.parse::<T>().map_err(|e| ApiError::validation(name, e))).transpose()
}

/// The `Idempotency-Key` header, parsed (SPEC §5.1): missing → 400 IDEMPOTENCY_KEY_REQUIRED,
/// malformed → 400 VALIDATION_FAILED naming the header.
#[derive(Debug)]
pub(crate) struct IdempotencyKeyHeader(pub(crate) IdempotencyKey);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyRequired,
                "send an Idempotency-Key header so the request can be retried safely",
            )
            .with_field(IDEMPOTENCY_KEY));
        };
        if values.next().is_some() {
            return Err(ApiError::validation(IDEMPOTENCY_KEY, "the header must be given once"));
        }
        let text = value
            .to_str()
            .map_err(|_| ApiError::validation(IDEMPOTENCY_KEY, "the header must be printable ASCII"))?;
        IdempotencyKey::parse(text)
            .map(IdempotencyKeyHeader)
            .map_err(|e| ApiError::validation(IDEMPOTENCY_KEY, e))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        h
    }

    #[test]
    fn json_media_types_are_recognised_with_parameters_and_suffixes() {
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("Application/JSON; charset=utf-8")));
        assert!(is_json(&headers("application/merge-patch+json")));
        assert!(!is_json(&headers("text/plain")));
        assert!(!is_json(&headers("application/+json")));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn serde_errors_name_the_field_and_not_the_rust_type() {
        assert_eq!(field_of(".", "unknown field `colour`, expected one of `a`"), "colour");
        assert_eq!(field_of("channels[0]", "missing field `type`"), "channels[0].type");
        assert_eq!(field_of("kind", "unknown variant `X`"), "kind");
        assert_eq!(
            tidy("invalid type: sequence, expected struct SendRequest"),
            "invalid type: sequence, expected a JSON object"
        );
    }
}
