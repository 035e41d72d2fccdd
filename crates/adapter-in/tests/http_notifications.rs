//! Reading, listing and cancelling notifications over HTTP.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn alice(api: &Api) {
    api.recipient("alice", json!([{ "type": "EMAIL", "address": "alice@example.com" }])).await;
}

async fn send(api: &Api, key: &str, extra: Value) -> String {
    let mut body = json!({ "recipientId": "alice", "kind": "SERVICE", "title": "Hi", "body": "Hello" });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let reply = api.send(key, &body).await;
    assert!(reply.status.is_success(), "{}", reply.text());
    reply.json()["notificationId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_sent_notification_reads_back_with_deliveries_tries_and_derived_status() {
    let api = Api::new();
    alice(&api).await;
    let id = send(&api, "k1", json!({ "metadata": { "order": 7 }, "priority": "HIGH" })).await;
    api.hub.drain().await;
    let body = api.get(&format!("/api/v1/notifications/{id}")).await.ok(200);
    assert_eq!(body["notificationId"], id.as_str());
    assert_eq!(body["recipientId"], "alice");
    assert_eq!(body["kind"], "SERVICE");
    assert_eq!(body["priority"], "HIGH");
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["createdAt"], "2026-01-15T03:00:00Z");
    assert_eq!(body["metadata"], json!({ "order": 7 }));
    let delivery = &body["deliveries"][0];
    assert!(delivery["deliveryId"].as_str().unwrap().starts_with("dlv_"));
    assert_eq!(delivery["address"], "al***om");
    assert_eq!(delivery["status"], "SENT");
    assert_eq!(delivery["title"], "Hi");
    assert_eq!(delivery["body"], "Hello");
    assert_eq!(delivery["fallbackFor"], Value::Null);
    assert!(delivery["vendorMessageId"].is_string());
    let tries = delivery["tries"].as_array().unwrap();
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0]["outcome"], "SENT");
    for member in ["at", "errorClass", "vendorCode", "detail", "latencyMs"] {
        assert!(tries[0].get(member).is_some(), "{member} in {}", tries[0]);
    }
    assert_eq!(body["skipped"], json!([]));
}

#[tokio::test]
async fn a_malformed_notification_id_is_400_and_an_unknown_one_is_404() {
    let api = Api::new();
    api.get("/api/v1/notifications/dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV").await.invalid("id");
    api.get("/api/v1/notifications/ntf_nope").await.invalid("id");
    let reply = api.get("/api/v1/notifications/ntf_01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    let body = reply.problem(404, "NOTIFICATION_NOT_FOUND");
    assert_eq!(body["instance"], "/api/v1/notifications/ntf_01ARZ3NDEKTSV4RRFFQ69G5FAV");
}

#[tokio::test]
async fn the_listing_pages_newest_first_with_an_opaque_cursor() {
    let api = Api::new();
    alice(&api).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(send(&api, &format!("k{i}"), json!({})).await);
        api.hub.clock.advance(Duration::from_secs(1));
    }
    let first = api.get("/api/v1/notifications?recipientId=alice&limit=2").await.ok(200);
    let page: Vec<&str> =
        first["items"].as_array().unwrap().iter().map(|n| n["notificationId"].as_str().unwrap()).collect();
    assert_eq!(page, vec![ids[2].as_str(), ids[1].as_str()]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = api.get(&format!("/api/v1/notifications?limit=2&cursor={cursor}")).await.ok(200);
    assert_eq!(second["items"][0]["notificationId"], ids[0].as_str());
    assert_eq!(second["nextCursor"], Value::Null);
    let filtered = api.get("/api/v1/notifications?kind=MARKETING&status=IN_PROGRESS").await.ok(200);
    assert_eq!(filtered["items"], json!([]));
    let ranged =
        api.get("/api/v1/notifications?from=2026-01-15T03:00:01Z&to=2026-01-15T03:00:02Z").await.ok(200);
    assert_eq!(ranged["items"][0]["notificationId"], ids[1].as_str());
}

#[tokio::test]
async fn bad_listing_parameters_are_400_naming_the_parameter() {
    let api = Api::new();
    let cases = [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("kind=LOUD", "kind"),
        ("status=DONE", "status"),
        ("from=yesterday", "from"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("cursor=!!!", "cursor"),
        ("recipientId=a%20b", "recipientId"),
        ("colour=red", "colour"),
        ("limit=1&limit=2", "limit"),
    ];
    for (query, field) in cases {
        api.get(&format!("/api/v1/notifications?{query}")).await.invalid(field);
    }
}

#[tokio::test]
async fn cancel_stops_pending_deliveries_and_counts_them() {
    let api = Api::new();
    alice(&api).await;
    let id = send(&api, "k1", json!({ "sendAt": "2026-01-16T03:00:00Z" })).await;
    let body = api
        .json(axum::http::Method::POST, &format!("/api/v1/notifications/{id}/cancel"), &json!({}))
        .await
        .ok(200);
    assert_eq!(body["cancelled"], 1);
    assert_eq!(body["status"], "CANCELLED");
    assert_eq!(body["notificationId"], id.as_str());
    assert_eq!(body["deliveries"][0]["status"], "CANCELLED");
    let again = api
        .call(
            axum::http::Request::post(format!("/api/v1/notifications/{id}/cancel"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .ok(200);
    assert_eq!(again["cancelled"], 0);
}

#[tokio::test]
async fn cancelling_an_unknown_notification_is_404() {
    let api = Api::new();
    let request = axum::http::Request::post("/api/v1/notifications/ntf_01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel")
        .body(axum::body::Body::empty())
        .unwrap();
    api.call(request).await.problem(404, "NOTIFICATION_NOT_FOUND");
}

#[tokio::test]
async fn reads_answer_503_when_the_store_is_down() {
    let api = Api::new();
    api.hub.store.set_unavailable(true);
    api.get("/api/v1/notifications").await.problem(503, "DEPENDENCY_UNAVAILABLE");
    api.get("/api/v1/notifications/ntf_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await
        .problem(503, "DEPENDENCY_UNAVAILABLE");
    api.get("/api/v1/recipients/alice").await.problem(503, "DEPENDENCY_UNAVAILABLE");
    api.get("/api/v1/templates").await.problem(503, "DEPENDENCY_UNAVAILABLE");
}
