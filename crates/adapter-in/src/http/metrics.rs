//! `GET /metrics` (SPEC §5.7) and the middleware that times every other request.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hub_application::ports::{Exposition, MetricEvent};

use super::HttpState;

/// Where the metrics are served.
pub(crate) const METRICS_PATH: &str = "/metrics";

/// The `route` label of a request no route matched (404), so unknown paths share one series.
pub(crate) const UNMATCHED: &str = "unmatched";

/// How long a scrape waits for the gauges read from the store and queue; past it, the
/// previous values are served (a scrape must answer while a dependency hangs).
const GAUGE_TIMEOUT: Duration = Duration::from_secs(3);

/// Records each request's latency by route template, method and status. The route is the
/// template the router matched (`/api/v1/notifications/{id}`), never the raw path, so ids
/// in paths cannot multiply the series; `/metrics` itself is not recorded.
pub(crate) async fn track(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    if route.as_deref() == Some(METRICS_PATH) {
        return next.run(request).await;
    }
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    state.app().deps().metrics.record(MetricEvent::HttpRequest {
        route: route.unwrap_or_else(|| UNMATCHED.to_owned()),
        method,
        status: response.status().as_u16(),
        elapsed: started.elapsed(),
    });
    response
}

/// The method as a label: the standard ones by name, anything else (extension methods are
/// unbounded) as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    responses((status = 200,
        description = "Every series in the Prometheus text exposition format 0.0.4; the gauges (outbox lag, \
            DLQ size, queue depth) are read at the scrape. The series and their labels are listed in \
            docs/operations.md.",
        content_type = "text/plain; version=0.0.4; charset=utf-8",
        body = String))
)]
pub(crate) async fn scrape(State(state): State<HttpState>) -> Response {
    if tokio::time::timeout(GAUGE_TIMEOUT, state.app().refresh_gauges()).await.is_err() {
        tracing::warn!(timeout = ?GAUGE_TIMEOUT, "reading the gauges timed out; serving their previous values");
    }
    let Exposition { content_type, body } = state.app().deps().metrics.expose();
    let mut response = body.into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(method_label(&Method::from_bytes(b"PURGE").unwrap()), "OTHER");
        assert_eq!(method_label(&Method::from_bytes(b"X-ANYTHING-42").unwrap()), "OTHER");
    }
}
