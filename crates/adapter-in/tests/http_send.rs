//! `POST /api/v1/notifications` over HTTP: status codes, idempotency, rate limits, errors.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use hub_application::ports::{Clock, IdempotencyStore};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use serde_json::{Value, json};

async fn alice(api: &Api) {
    api.recipient("alice", json!([{ "type": "EMAIL", "address": "alice@example.com" }])).await;
}

fn hello() -> Value {
    json!({ "recipientId": "alice", "kind": "TRANSACTIONAL", "title": "Hello", "body": "Your order shipped" })
}

#[tokio::test]
async fn an_accepted_send_answers_202_with_location_and_masked_addresses() {
    let api = Api::new();
    alice(&api).await;
    let reply = api.send("k1", &hello()).await;
    let body = reply.ok(202);
    let id = body["notificationId"].as_str().unwrap();
    assert!(id.starts_with("ntf_"));
    assert_eq!(reply.header("location"), Some(format!("/api/v1/notifications/{id}").as_str()));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("idempotent-replayed"), None);
    assert_eq!(body["status"], "IN_PROGRESS");
    assert_eq!(body["deliveries"][0]["channel"], "EMAIL");
    assert_eq!(body["deliveries"][0]["address"], "al***om");
    assert_eq!(body["deliveries"][0]["status"], "PENDING");
    assert_eq!(body["deliveries"][0]["notBefore"], "2026-01-15T03:00:00Z");
    assert_eq!(body["deliveries"][0]["reason"], Value::Null);
    assert_eq!(body["suppressionReason"], Value::Null);
}

#[tokio::test]
async fn a_send_that_skips_every_channel_answers_200_suppressed_with_the_reason() {
    let api = Api::new();
    alice(&api).await;
    let prefs = json!({ "kinds": { "MARKETING": { "allowed": false } } });
    api.json(Method::PUT, "/api/v1/recipients/alice/preferences", &prefs).await.ok(200);
    let reply = api.send("k1", &json!({ "recipientId": "alice", "kind": "MARKETING", "body": "Sale" })).await;
    let body = reply.ok(200);
    assert_eq!(body["status"], "SUPPRESSED");
    assert_eq!(body["suppressionReason"], "OPTED_OUT");
    assert_eq!(body["deliveries"], json!([]));
    assert_eq!(body["skipped"], json!([{ "channel": "EMAIL", "reason": "OPTED_OUT" }]));
    assert!(reply.header("location").is_some());
}

#[tokio::test]
async fn a_replay_is_byte_identical_and_marked_even_with_reordered_json() {
    let api = Api::new();
    alice(&api).await;
    let first = api.send("k1", &hello()).await;
    let reordered = r#"{ "body": "Your order shipped",  "title":"Hello", "kind": "TRANSACTIONAL", "recipientId": "alice" }"#;
    let again = api.send_text("\"k1\"", reordered).await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(api.hub.store.all_notifications().len(), 1);
}

#[tokio::test]
async fn a_stored_rejection_replays_as_the_same_problem() {
    let api = Api::new();
    let first = api.send("k1", &hello()).await;
    let body = first.problem(404, "RECIPIENT_NOT_FOUND");
    assert_eq!(body["instance"], "/api/v1/notifications");
    let again = api.send("k1", &hello()).await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn the_same_key_while_the_first_request_runs_answers_409_with_retry_after_one_second() {
    let api = Api::new();
    alice(&api).await;
    let key = IdempotencyKey::parse("k1").unwrap();
    let now = api.hub.clock.now();
    api.hub
        .idempotency
        .reserve("default", &key, &Fingerprint::of_json(&hello()), now, Duration::from_secs(60))
        .await
        .unwrap();
    let reply = api.send("k1", &hello()).await;
    reply.problem(409, "IDEMPOTENCY_IN_FLIGHT");
    assert_eq!(reply.header("retry-after"), Some("1"));
    let other = api.send("k1", &json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x" })).await;
    other.problem(422, "IDEMPOTENCY_KEY_REUSED");
}

#[tokio::test]
async fn the_same_key_with_another_body_answers_422() {
    let api = Api::new();
    alice(&api).await;
    api.send("k1", &hello()).await.ok(202);
    let reply = api.send("k1", &json!({ "recipientId": "alice", "kind": "SERVICE", "body": "other" })).await;
    reply.problem(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(reply.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn a_missing_idempotency_key_is_400_key_required_and_a_malformed_one_is_a_validation_error() {
    let api = Api::new();
    alice(&api).await;
    let reply = api.json(Method::POST, "/api/v1/notifications", &hello()).await;
    reply.problem(400, "IDEMPOTENCY_KEY_REQUIRED");
    for bad in ["", "\"unterminated", "has space", &"x".repeat(256)] {
        api.send(bad, &hello()).await.invalid("Idempotency-Key");
    }
    assert!(api.hub.store.all_notifications().is_empty());
}

#[tokio::test]
async fn the_rate_limit_answers_429_naming_the_channel_with_draft_headers() {
    let api = Api::new();
    api.recipient("bob", json!([{ "type": "SMS", "address": "+821012345678" }])).await;
    for i in 0..5 {
        let body = json!({ "recipientId": "bob", "kind": "SECURITY", "body": format!("code {i}") });
        api.send(&format!("k{i}"), &body).await.ok(202);
    }
    let reply = api.send("k5", &json!({ "recipientId": "bob", "kind": "SECURITY", "body": "code 5" })).await;
    let body = reply.problem(429, "RATE_LIMITED");
    assert_eq!(body["channel"], "SMS");
    assert_eq!(reply.header("retry-after"), Some("12"));
    assert_eq!(reply.header("ratelimit-policy"), Some("\"sms\";q=5;w=60"));
    assert_eq!(reply.header("ratelimit"), Some("\"sms\";r=0;t=12"));
    // The key was released: once a token is back the same request goes through.
    api.hub.clock.advance(Duration::from_secs(12));
    let retry = api.send("k5", &json!({ "recipientId": "bob", "kind": "SECURITY", "body": "code 5" })).await;
    retry.ok(202);
}

#[tokio::test]
async fn an_unknown_template_is_422_and_a_missing_variable_is_named() {
    let api = Api::new();
    alice(&api).await;
    let send = |payload: Value| json!({ "recipientId": "alice", "kind": "SERVICE", "templateKey": "order.shipped", "payload": payload });
    api.send("k1", &send(json!({}))).await.problem(422, "TEMPLATE_NOT_FOUND");
    let template = json!({ "key": "order.shipped", "locale": "en", "channel": "EMAIL", "title": "Shipped", "body": "Order {{orderId}} shipped" });
    api.json(Method::POST, "/api/v1/templates", &template).await.ok(201);
    let missing = api.send("k2", &send(json!({ "other": true }))).await;
    assert_eq!(missing.problem(422, "TEMPLATE_VARIABLE_MISSING")["variable"], "orderId");
    api.send("k3", &send(json!({ "orderId": 42 }))).await.ok(202);
}

#[tokio::test]
async fn an_outage_answers_503_without_internals_and_releases_the_key() {
    let api = Api::new();
    alice(&api).await;
    api.hub.store.set_unavailable(true);
    let reply = api.send("k1", &hello()).await;
    let body = reply.problem(503, "DEPENDENCY_UNAVAILABLE");
    assert!(!reply.text().contains("store down"), "{body}");
    api.hub.store.set_unavailable(false);
    api.hub.idempotency.set_unavailable(true);
    api.send("k1", &hello()).await.problem(503, "DEPENDENCY_UNAVAILABLE");
    api.hub.idempotency.set_unavailable(false);
    api.hub.limiter.set_unavailable(true);
    api.send("k1", &hello()).await.problem(503, "DEPENDENCY_UNAVAILABLE");
    api.hub.limiter.set_unavailable(false);
    api.send("k1", &hello()).await.ok(202);
}

#[tokio::test]
async fn malformed_json_is_400_malformed_json() {
    let api = Api::new();
    for text in ["{", "", "{\"recipientId\": }", "nul"] {
        api.send_text("k1", text).await.problem(400, "MALFORMED_JSON");
    }
}

#[tokio::test]
async fn shape_errors_are_400_naming_the_field() {
    let api = Api::new();
    alice(&api).await;
    let cases = [
        (json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "colour": "red" }), "colour"),
        (json!({ "recipientId": "alice", "kind": "LOUD", "body": "x" }), "kind"),
        (json!({ "recipientId": "alice", "body": "x" }), "kind"),
        (json!({ "recipientId": 7, "kind": "SERVICE", "body": "x" }), "recipientId"),
        (json!({ "recipientId": "", "kind": "SERVICE", "body": "x" }), "recipientId"),
        (
            json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "channels": ["FAX"] }),
            "channels[0]",
        ),
        (json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "priority": "URGENT" }), "priority"),
        (json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "sendAt": "tomorrow" }), "sendAt"),
        (json!({ "recipientId": "alice", "kind": "SERVICE" }), "body"),
        (
            json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "templateKey": "a.b" }),
            "templateKey",
        ),
        (json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "payload": {} }), "payload"),
        (json!({ "recipientId": "alice", "kind": "SERVICE", "templateKey": "nodot" }), "templateKey"),
        (
            json!({ "recipientId": "alice", "kind": "SERVICE", "templateKey": "a.b", "payload": { "v": [1] } }),
            "payload.v",
        ),
        (json!({ "recipientId": "alice", "kind": "SERVICE", "templateKey": "a.b", "title": "t" }), "title"),
        (
            json!({ "recipientId": "alice", "kind": "SERVICE", "title": "t".repeat(201), "body": "x" }),
            "title",
        ),
        (
            json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "metadata": { "m": "x".repeat(5000) } }),
            "metadata",
        ),
        (json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "channels": [] }), "channels"),
        (json!(["not", "an", "object"]), ""),
    ];
    for (i, (body, field)) in cases.iter().enumerate() {
        let reply = api.send(&format!("k{i}"), body).await;
        if field.is_empty() {
            let problem = reply.problem(400, "VALIDATION_FAILED");
            assert!(problem["detail"].as_str().unwrap().contains("JSON object"), "{problem}");
        } else {
            reply.invalid(field);
        }
    }
    assert!(api.hub.store.all_notifications().is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_by_content_type_is_415() {
    let api = Api::new();
    let body = hello().to_string().into_bytes();
    for content_type in [Some("text/plain"), None] {
        let reply = api.raw(Method::POST, "/api/v1/templates", content_type, body.clone()).await;
        reply.problem(415, "VALIDATION_FAILED");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let api = Api::new();
    let huge = json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x".repeat(300 * 1024) });
    let reply = api.send("k1", &huge).await;
    let body = reply.problem(413, "VALIDATION_FAILED");
    assert!(body["type"].as_str().unwrap().ends_with("/payload-too-large"));
}

#[tokio::test]
async fn timestamps_at_the_edge_of_the_calendar_never_fail_the_server() {
    let api = Api::new();
    alice(&api).await;
    for (i, send_at) in
        ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-01-15T03:00:00+14:00"].iter().enumerate()
    {
        let body = json!({ "recipientId": "alice", "kind": "SERVICE", "body": "x", "sendAt": send_at, "expiresAt": "9999-12-31T23:59:59.999Z" });
        let reply = api.send(&format!("k{i}"), &body).await;
        assert!(reply.status.as_u16() < 500, "{send_at}: {}", reply.text());
    }
}
