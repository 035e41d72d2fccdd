//! Without `NH_OTEL_ENDPOINT` (the default) there is no exporter, no OpenTelemetry layer and
//! no batch thread, and the logs keep the caller's trace id (ADR 0026). A file of its own: the
//! thread check looks at the whole test process.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Logs, batch_thread_running};
use hub_adapter_in::{HttpState, router};
use hub_application::fakes::FakeHub;
use notification_hub::config::Config;
use notification_hub::telemetry;
use opentelemetry::trace::TraceContextExt;
use tower::ServiceExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test]
async fn without_an_endpoint_nothing_is_set_up_and_the_logs_keep_the_callers_trace_id() {
    let config = Config::load(None, &|name| (name == "NH_LOG_FORMAT").then(|| "json".to_owned())).unwrap();
    assert!(config.otel.is_none());
    assert!(telemetry::trace_export(&config).is_none());
    let logs = Logs::default();
    let writer = logs.clone();
    let (subscriber, telemetry) = telemetry::subscriber(&config, move || writer.clone()).unwrap();
    assert!(!telemetry.is_exporting());
    assert_ne!(batch_thread_running(false), Some(true), "no batch thread");

    let hub = FakeHub::new();
    hub.store.set_unavailable(true);
    let request = Request::get("/health/ready")
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .body(Body::empty())
        .unwrap();
    let guard = tracing::subscriber::set_default(subscriber);
    let response = router(HttpState::new(hub.app.clone())).oneshot(request).await.unwrap();
    // No OpenTelemetry layer: a span has no OpenTelemetry context.
    let span = tracing::info_span!("probe");
    assert!(!span.context().span().span_context().is_valid());
    drop(guard);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let line = logs
        .json_lines()
        .into_iter()
        .find(|line| line["message"] == "dependency not ready")
        .expect("the readiness warning is logged");
    assert_eq!(line["span"]["trace_id"], TRACE_ID, "{line}");
    assert_eq!(line["span"]["span_id"].as_str().map(str::len), Some(16), "{line}");
    assert_ne!(batch_thread_running(false), Some(true), "still no batch thread");
    telemetry.shutdown(std::time::Duration::from_secs(1));
}
