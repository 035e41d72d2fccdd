//! Routes, fallbacks and the edge that finishes every error as problem+json.

use std::any::Any;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hub_application::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;

use super::error::{ApiError, PROBLEM_JSON, Problem};
use super::{
    HttpState, admin, callbacks, health, metrics, notifications, openapi, recipients, templates, trace,
};

/// The HTTP API of SPEC §5.1–§5.4 and §5.7 over `state`.
///
/// Every error answer is `application/problem+json` with `instance` set to the request path:
/// handler and extractor errors, unknown routes (404), wrong methods (405 with `Allow`),
/// oversized bodies (413) and panics (500, logged). Every request but `/metrics` is timed by
/// route template, method and status.
pub fn router(state: HttpState) -> Router {
    let body_limit = state.body_limit();
    let routes = Router::new()
        .route("/api/v1/notifications", post(notifications::send).get(notifications::list))
        .route("/api/v1/notifications/{id}", get(notifications::get))
        .route("/api/v1/notifications/{id}/cancel", post(notifications::cancel))
        .route(
            "/api/v1/recipients/{id}",
            get(recipients::get).put(recipients::put).delete(recipients::delete),
        )
        .route(
            "/api/v1/recipients/{id}/preferences",
            get(recipients::get_preferences).put(recipients::put_preferences),
        )
        .route(
            "/api/v1/recipients/{id}/devices",
            get(recipients::list_devices).post(recipients::register_device),
        )
        .route(
            "/api/v1/recipients/{id}/devices/{deviceId}",
            axum::routing::delete(recipients::disable_device),
        )
        .route("/api/v1/templates", get(templates::search).post(templates::create))
        .route("/api/v1/templates/{id}", get(templates::get).put(templates::update).delete(templates::delete))
        .route("/api/v1/templates/{id}/versions", get(templates::versions))
        .route(
            "/api/v1/callbacks/{vendor}",
            post(callbacks::receive).layer(DefaultBodyLimit::max(callbacks::CALLBACK_BODY_LIMIT)),
        )
        .route("/api/v1/openapi.json", get(openapi::serve))
        .merge(admin::routes(&state))
        .merge(probe_routes())
        .layer(DefaultBodyLimit::max(body_limit));
    finish(routes, state)
}

/// Only the operations routes of SPEC §5.7 — the probes (`/health/live`, `/health/ready`,
/// `/health/startup`) and `/metrics` — for a process without the API role (relay/worker
/// replicas still need liveness, readiness and their dispatch metrics scraped). Everything
/// else answers 404 problem+json.
pub fn probes_router(state: HttpState) -> Router {
    finish(probe_routes(), state)
}

fn probe_routes() -> Router<HttpState> {
    Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/health/startup", get(health::startup))
        .route(metrics::METRICS_PATH, get(metrics::scrape))
}

/// The fallbacks, the panic catcher, the problem+json edge, the request timer (so it sees the
/// final status) and the request span (outermost, so every log line of the request has its
/// trace ids), then the state.
fn finish(routes: Router<HttpState>, state: HttpState) -> Router {
    routes
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(problem_edge))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(middleware::from_fn_with_state(state.clone(), trace::request_span))
        .with_state(state)
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a handler panicked".to_owned());
    ApiError::internal(format!("panic: {message}")).into_response()
}

/// Sets `instance` on every problem and turns bare error answers (from axum or a layer) into
/// problems, so no error leaves without the problem+json shape.
async fn problem_edge(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let problem = match response.extensions().get::<Problem>() {
        Some(problem) => problem.clone(),
        // Probes answer 503 with their own JSON document on purpose.
        None if is_json(&response) => return response,
        None if status.is_client_error() || status.is_server_error() => {
            if status.is_server_error() {
                tracing::error!(status = status.as_u16(), path = %path, "a request failed without an ApiError");
            }
            bare_error(status).problem()
        }
        None => return response,
    };
    let problem = Problem { instance: Some(path), status: status.as_u16(), ..problem };
    let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.extensions.insert(problem);
    Response::from_parts(parts, Body::from(body))
}

fn is_json(response: &Response) -> bool {
    response.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// The problem for an error answer that did not come from an `ApiError`.
fn bare_error(status: StatusCode) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::no_route(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::ValidationFailed, "the request body is too large")
                .with_status(status, "payload-too-large")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(),
        StatusCode::SERVICE_UNAVAILABLE => {
            ApiError::new(ErrorCode::DependencyUnavailable, "the service is unavailable; retry later")
        }
        s if s.is_server_error() => ApiError::new(ErrorCode::Internal, "an unexpected error occurred"),
        s => {
            ApiError::new(ErrorCode::ValidationFailed, "the request is invalid").with_status(s, "bad-request")
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn call(router: Router, path: &str) -> (StatusCode, Option<String>, serde_json::Value) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, content_type, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn edge(router: Router) -> Router {
        router.layer(CatchPanicLayer::custom(panic_response)).layer(middleware::from_fn(problem_edge))
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_500_problem_without_the_panic_message() {
        async fn boom() -> &'static str {
            panic!("secret detail")
        }
        let router = edge(Router::new().route("/boom", get(boom)));
        let (status, content_type, body) = call(router, "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(body["code"], "INTERNAL");
        assert_eq!(body["instance"], "/boom");
        assert!(!body.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn a_bare_error_answer_becomes_a_problem_with_the_same_status() {
        let router = edge(Router::new().route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT })));
        let (status, content_type, body) = call(router, "/teapot").await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(body["status"], 418);
        assert_eq!(body["code"], "VALIDATION_FAILED");
    }

    #[tokio::test]
    async fn a_json_error_answer_is_left_alone() {
        let handler = || async {
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "status": "DOWN" })))
        };
        let router = edge(Router::new().route("/probe", get(handler)));
        let (status, content_type, body) = call(router, "/probe").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert_eq!(body, serde_json::json!({ "status": "DOWN" }));
    }
}
