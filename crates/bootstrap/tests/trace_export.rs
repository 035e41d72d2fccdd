//! With `NH_OTEL_ENDPOINT` set, an HTTP request's span reaches the OTLP/HTTP collector in the
//! caller's trace, with the trace and span ids its JSON log lines show (ADR 0026).

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Collector, Logs, batch_thread_running, contains};
use hub_adapter_in::{HttpState, router};
use hub_application::fakes::FakeHub;
use notification_hub::config::Config;
use notification_hub::telemetry;
use tower::ServiceExt;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

fn raw(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test]
async fn a_request_span_reaches_the_collector_with_the_trace_id_its_logs_show() {
    let collector = Collector::start();
    let url = collector.url();
    let config = Config::load(None, &|name| match name {
        "NH_OTEL_ENDPOINT" => Some(url.clone()),
        "NH_LOG_FORMAT" => Some("json".to_owned()),
        _ => None,
    })
    .unwrap();
    let logs = Logs::default();
    let writer = logs.clone();
    let (subscriber, telemetry) = telemetry::subscriber(&config, move || writer.clone()).unwrap();
    assert!(telemetry.is_exporting());
    assert_ne!(batch_thread_running(true), Some(false), "the exporter runs on the SDK's batch thread");

    // A request whose handler logs: readiness with the store down warns inside the span.
    let hub = FakeHub::new();
    hub.store.set_unavailable(true);
    let state = HttpState::new(hub.app.clone()).with_trace_export(telemetry::trace_export(&config).unwrap());
    let request = Request::get("/health/ready")
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01"))
        .body(Body::empty())
        .unwrap();
    let guard = tracing::subscriber::set_default(subscriber);
    let response = router(state).oneshot(request).await.unwrap();
    drop(guard);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let line = logs
        .json_lines()
        .into_iter()
        .find(|line| line["message"] == "dependency not ready")
        .expect("the readiness warning is logged");
    assert_eq!(line["span"]["name"], "request");
    assert_eq!(line["span"]["trace_id"], TRACE_ID, "{line}");
    let span_id = line["span"]["span_id"].as_str().expect("a logged span id").to_owned();
    assert_eq!(span_id.len(), 16);
    assert_ne!(span_id, CALLER_SPAN_ID, "the request span is the caller's child, not the caller");

    // Batches are sent every 5 s; shutting down sends what is left now.
    telemetry.shutdown(Duration::from_secs(10));
    assert_ne!(batch_thread_running(false), Some(true), "shutdown stops the batch thread");
    assert_eq!(collector.paths(), ["/v1/traces"]);
    let body = collector.bodies("/v1/traces").concat();
    // Protobuf carries ids as raw bytes: the trace id, the request span's own id (the logged
    // one) and its parent, the caller's span.
    assert!(contains(&body, &raw(TRACE_ID)), "the trace id is exported");
    assert!(contains(&body, &raw(&span_id)), "the logged span id is the exported span's");
    assert!(contains(&body, &raw(CALLER_SPAN_ID)), "the caller's span is the parent");
    assert!(contains(&body, b"notification-hub"), "service.name");
    assert!(contains(&body, b"/health/ready"), "the route attribute");
}
