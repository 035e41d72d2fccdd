//! `GET /metrics` over HTTP with the Prometheus adapter: what a send leaves in the series, and
//! labels that stay bounded whatever the paths.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use common::*;
use hub_adapter_in::HttpState;
use hub_adapter_in::http::probes_router;
use hub_adapter_out::prometheus::PrometheusMetrics;
use hub_application::fakes::{FakeHub, FakeParts, InMemoryStore, deps_over};
use hub_application::{App, Settings};
use serde_json::json;
use tower::ServiceExt;

/// The router over fakes, with metrics going to a Prometheus registry.
fn api() -> Api {
    let parts = FakeParts::new();
    let store = Arc::new(InMemoryStore::new());
    let mut deps = deps_over(store.clone(), &parts);
    deps.metrics = Arc::new(PrometheusMetrics::new());
    let app = App::new(deps, Settings::default());
    let FakeParts { clock, queue, idempotency, limiter, sender, metrics } = parts;
    let hub = FakeHub { app: app.clone(), clock, store, idempotency, limiter, queue, sender, metrics };
    let state = HttpState::new(app);
    state.mark_started();
    Api::with_state(hub, state)
}

/// `GET /metrics`, asserted 200 in the Prometheus text format; returns the body.
async fn scrape(api: &Api) -> String {
    let reply = api.get("/metrics").await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    reply.text()
}

#[track_caller]
fn assert_line(body: &str, line: &str) {
    assert!(body.lines().any(|l| l == line), "no line `{line}` in:\n{body}");
}

#[tokio::test]
async fn after_a_send_the_metrics_show_the_accepted_count_and_the_latency_of_its_route() {
    let api = api();
    api.recipient("alice", json!([{ "type": "EMAIL", "address": "alice@example.com" }])).await;
    let hello = json!({ "recipientId": "alice", "kind": "TRANSACTIONAL", "body": "Your order shipped" });
    api.send("k1", &hello).await.ok(202);
    api.send("k1", &hello).await.ok(202);

    let body = scrape(&api).await;
    assert_line(&body, r#"nh_notifications_total{kind="TRANSACTIONAL",outcome="accepted",code=""} 1"#);
    assert_line(&body, r#"nh_notifications_total{kind="TRANSACTIONAL",outcome="replayed",code=""} 1"#);
    assert_line(&body, r#"nh_idempotent_replays_total{source="cache"} 1"#);
    let send = r#"route="/api/v1/notifications",method="POST",status="202""#;
    assert_line(&body, &format!(r#"nh_http_request_duration_seconds_bucket{{{send},le="10"}} 2"#));
    assert_line(&body, &format!("nh_http_request_duration_seconds_count{{{send}}} 2"));
    assert_line(&body, "nh_outbox_backlog 1");
    assert_line(&body, r#"nh_queue_depth{channel="EMAIL"} 0"#);
    assert!(!body.contains("alice"), "no recipient id in a label:\n{body}");
    assert!(!body.contains("route=\"/metrics\""), "the scrape does not time itself:\n{body}");

    assert_eq!(api.hub.drain().await, 1);
    let body = scrape(&api).await;
    assert_line(&body, "nh_outbox_backlog 0");
    assert_line(&body, "nh_outbox_lag_seconds 0.0");
    assert_line(&body, r#"nh_deliveries_total{channel="EMAIL",state="SENT"} 1"#);
    assert_line(&body, r#"nh_dispatch_duration_seconds_count{channel="EMAIL",outcome="sent"} 1"#);
    assert_line(&body, r#"nh_dlq_size{channel="EMAIL"} 0"#);
}

#[tokio::test]
async fn paths_with_ids_share_their_route_template_and_unknown_paths_share_one_label() {
    let api = api();
    for path in [
        "/api/v1/notifications/ntf_01JAAAAAAAAAAAAAAAAAAAAAAA",
        "/api/v1/notifications/ntf_01JBBBBBBBBBBBBBBBBBBBBBBB",
        "/no/such/path/1",
        "/no/such/path/2",
    ] {
        assert_eq!(api.get(path).await.status.as_u16(), 404, "{path}");
    }
    let body = scrape(&api).await;
    let one = r#"route="/api/v1/notifications/{id}",method="GET",status="404""#;
    assert_line(&body, &format!("nh_http_request_duration_seconds_count{{{one}}} 2"));
    assert_line(
        &body,
        r#"nh_http_request_duration_seconds_count{route="unmatched",method="GET",status="404"} 2"#,
    );
    assert!(!body.contains("ntf_01J") && !body.contains("/no/such"), "no raw path in a label:\n{body}");
    let routes = body.lines().filter(|l| l.starts_with("nh_http_request_duration_seconds_count{")).count();
    assert_eq!(routes, 2, "one series per route, method and status:\n{body}");
}

#[tokio::test]
async fn a_replica_without_the_api_role_serves_the_metrics_too() {
    let api = api();
    let router = probes_router(api.state.clone());
    let response = router.oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body = String::from_utf8(bytes.to_vec()).unwrap();
    assert_line(&body, "# TYPE nh_deliveries_total counter");
}
