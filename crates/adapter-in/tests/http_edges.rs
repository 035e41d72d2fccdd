//! Probes, routing edges (404, 405) and the OpenAPI document.

mod common;

use std::collections::BTreeSet;

use axum::http::Method;
use common::*;
use hub_adapter_in::HttpState;
use hub_application::fakes::FakeHub;
use serde_json::{Value, json};

#[tokio::test]
async fn liveness_is_always_up() {
    let api = Api::new();
    assert_eq!(api.get("/health/live").await.ok(200), json!({ "status": "UP" }));
}

#[tokio::test]
async fn readiness_reports_each_dependency_and_is_503_when_one_is_down() {
    let api = Api::new();
    let up = api.get("/health/ready").await.ok(200);
    assert_eq!(up, json!({ "status": "UP", "dependencies": { "store": { "status": "UP" } } }));
    api.hub.store.set_unavailable(true);
    let down = api.get("/health/ready").await;
    assert_eq!(down.ok(503), json!({ "status": "DOWN", "dependencies": { "store": { "status": "DOWN" } } }));
    assert!(!down.text().contains("store down"));
}

#[tokio::test]
async fn startup_is_503_until_the_flag_is_set() {
    let hub = FakeHub::new();
    let state = HttpState::new(hub.app.clone());
    let flag = state.startup_flag();
    let api = Api::with_state(hub, state);
    assert_eq!(api.get("/health/startup").await.ok(503), json!({ "status": "DOWN" }));
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(api.get("/health/startup").await.ok(200), json!({ "status": "UP" }));
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let api = Api::new();
    let body = api.get("/api/v1/nothing-here").await.problem(404, "NOT_FOUND");
    assert_eq!(body["instance"], "/api/v1/nothing-here");
    api.get("/api/v1/notifications/").await.problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let api = Api::new();
    let reply = api.delete("/api/v1/notifications").await;
    reply.problem(405, "METHOD_NOT_ALLOWED");
    let allow: BTreeSet<&str> = reply.header("allow").unwrap().split(',').map(str::trim).collect();
    assert_eq!(allow, BTreeSet::from(["GET", "HEAD", "POST"]));
    let put = api.json(Method::PUT, "/health/live", &json!({})).await;
    put.problem(405, "METHOD_NOT_ALLOWED");
    assert!(put.header("allow").unwrap().contains("GET"));
}

fn operations(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    out
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_every_endpoint() {
    let api = Api::new();
    let reply = api.get("/api/v1/openapi.json").await;
    let doc = reply.ok(200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(doc["openapi"], "3.1.0");
    let expected: BTreeSet<String> = [
        "POST /api/v1/notifications",
        "GET /api/v1/notifications",
        "GET /api/v1/notifications/{id}",
        "POST /api/v1/notifications/{id}/cancel",
        "PUT /api/v1/recipients/{id}",
        "GET /api/v1/recipients/{id}",
        "DELETE /api/v1/recipients/{id}",
        "GET /api/v1/recipients/{id}/preferences",
        "PUT /api/v1/recipients/{id}/preferences",
        "POST /api/v1/recipients/{id}/devices",
        "GET /api/v1/recipients/{id}/devices",
        "DELETE /api/v1/recipients/{id}/devices/{deviceId}",
        "POST /api/v1/templates",
        "GET /api/v1/templates",
        "GET /api/v1/templates/{id}",
        "PUT /api/v1/templates/{id}",
        "DELETE /api/v1/templates/{id}",
        "GET /api/v1/templates/{id}/versions",
        "POST /api/v1/callbacks/{vendor}",
        "GET /health/live",
        "GET /health/ready",
        "GET /health/startup",
        "GET /api/v1/openapi.json",
        "GET /metrics",
        "GET /api/v1/admin/dlq",
        "GET /api/v1/admin/dlq/{deliveryId}",
        "POST /api/v1/admin/dlq/{deliveryId}/replay",
        "POST /api/v1/admin/dlq/{deliveryId}/discard",
        "GET /api/v1/admin/dlq/stats",
        "POST /api/v1/admin/dlq/bulk-replay",
        "POST /api/v1/admin/dlq/bulk-discard",
        "GET /api/v1/admin/dlq/bulk-jobs/{jobId}",
        "GET /api/v1/admin/audit",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(operations(&doc), expected);
    let send = &doc["paths"]["/api/v1/notifications"]["post"]["responses"];
    for status in ["200", "202", "400", "404", "409", "413", "415", "422", "429", "503"] {
        assert!(send.get(status).is_some(), "POST /api/v1/notifications documents {status}");
    }
    let callback = &doc["paths"]["/api/v1/callbacks/{vendor}"]["post"]["responses"];
    for status in ["200", "400", "401", "404", "413", "503"] {
        assert!(callback.get(status).is_some(), "POST /api/v1/callbacks/{{vendor}} documents {status}");
    }
    let limited = &doc["components"]["responses"]["RateLimited"];
    assert!(
        limited["content"]["application/problem+json"]["schema"]["$ref"]
            .as_str()
            .unwrap()
            .ends_with("/Problem")
    );
    assert!(limited["headers"].get("RateLimit-Policy").is_some());
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"].as_array().unwrap();
    assert!(codes.contains(&json!("RATE_LIMITED")));
}

#[test]
fn every_operation_has_its_own_operation_id() {
    let doc: Value = serde_json::to_value(hub_adapter_in::openapi()).unwrap();
    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id =
                op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(seen.insert(id.to_owned()), "{method} {path}: operationId {id} is used twice");
        }
    }
}

#[test]
fn the_openapi_enums_spell_the_wire_names() {
    let doc: Value = serde_json::to_value(hub_adapter_in::openapi()).unwrap();
    let names = |schema: &str| -> Vec<String> {
        let values =
            doc["components"]["schemas"][schema]["enum"].as_array().unwrap_or_else(|| panic!("{schema}"));
        values.iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    let wire = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(names("Kind"), wire(&hub_domain::Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()));
    assert_eq!(
        names("Channel"),
        wire(&hub_domain::Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        names("Priority"),
        wire(&hub_domain::Priority::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        names("Platform"),
        wire(&hub_domain::Platform::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        names("Reason"),
        wire(&hub_domain::Reason::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        names("NotificationStatus"),
        wire(&hub_domain::NotificationStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        names("DeliveryStatus"),
        wire(&hub_domain::DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        names("TryOutcome"),
        wire(&hub_domain::TryOutcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        names("ErrorClass"),
        wire(&hub_domain::ErrorClass::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(names("Health"), vec!["UP".to_owned(), "DOWN".to_owned()]);
}

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let current = hub_adapter_in::openapi().to_pretty_json().unwrap() + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "docs/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p hub-adapter-in --test http_edges`"
    );
}
