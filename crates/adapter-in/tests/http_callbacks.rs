//! `POST /api/v1/callbacks/{vendor}` (SPEC §5.5) over the fakes: every answer of the endpoint.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use hmac::{Hmac, Mac};
use hub_adapter_in::HttpState;
use hub_application::fakes::FakeHub;
use hub_application::ports::{AuditAction, CallbackLog, Clock, DeliveryRecord, DeliveryStore, Remembered};
use hub_application::use_cases::callbacks::WEBHOOK_CLAIM;
use hub_domain::delivery::DeliveryStatus;
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;

const VENDOR: &str = "mockvendor";

/// Request headers as (name, value).
type Headers = Vec<(&'static str, String)>;
const KEY: &[u8] = b"a test key of the mock vendor!!";

/// The router with a secret for `mockvendor` (and an unusable one for `broken`), one EMAIL
/// delivery SENT, and its record.
async fn setup() -> (Api, DeliveryRecord) {
    let hub = FakeHub::new();
    let secrets = BTreeMap::from([
        (VENDOR.to_owned(), SecretString::from(format!("whsec_{}", STANDARD.encode(KEY)))),
        ("broken".to_owned(), SecretString::from("not-a-whsec-secret".to_owned())),
    ]);
    let state = HttpState::new(hub.app.clone()).with_callback_secrets(secrets);
    state.mark_started();
    let api = Api::with_state(hub, state);
    api.recipient("bob", json!([{ "type": "EMAIL", "address": "bob@example.com" }])).await;
    api.send("k1", &json!({ "recipientId": "bob", "kind": "TRANSACTIONAL", "body": "hi" })).await.ok(202);
    api.hub.drain().await;
    let delivery = api.hub.store.all_deliveries().remove(0);
    assert_eq!(delivery.state.status, DeliveryStatus::Sent);
    (api, delivery)
}

fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn now(api: &Api) -> i64 {
    api.hub.clock.now().timestamp()
}

/// A callback request with the given headers (name, value) and raw body.
async fn post(api: &Api, vendor: &str, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
    let mut request =
        Request::post(format!("/api/v1/callbacks/{vendor}")).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    api.call(request.body(Body::from(body)).unwrap()).await
}

/// A correctly signed callback of `mockvendor`.
async fn signed(api: &Api, id: &str, body: &Value) -> Reply {
    signed_raw(api, id, body.to_string().into_bytes()).await
}

async fn signed_raw(api: &Api, id: &str, body: Vec<u8>) -> Reply {
    let ts = now(api);
    let signature = sign(KEY, id, ts, &body);
    post(
        api,
        VENDOR,
        &[
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", signature),
        ],
        body,
    )
    .await
}

async fn status(api: &Api, delivery: &DeliveryRecord) -> DeliveryStatus {
    DeliveryStore::get(api.hub.store.as_ref(), delivery.id).await.unwrap().unwrap().state.status
}

fn audited(api: &Api) -> usize {
    api.hub.store.audit_entries().iter().filter(|e| e.action == AuditAction::CallbackApplied).count()
}

#[tokio::test]
async fn a_signed_delivered_report_moves_sent_to_delivered_and_is_audited() {
    let (api, d) = setup().await;
    let body = json!({ "deliveryId": d.id.to_string(), "status": "DELIVERED" });
    let reply = signed(&api, "msg_1", &body).await;
    assert_eq!(reply.ok(200), json!({ "result": "APPLIED", "deliveryStatus": "DELIVERED" }));
    assert_eq!(status(&api, &d).await, DeliveryStatus::Delivered);
    let audit = api.hub.store.audit_entries();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action, audit[0].actor.as_str()),
        (AuditAction::CallbackApplied, "vendor:mockvendor")
    );
    assert_eq!(audit[0].target.as_deref(), Some(d.id.to_string().as_str()));
}

#[tokio::test]
async fn a_report_by_vendor_message_id_is_applied_too() {
    let (api, d) = setup().await;
    let vid = d.vendor_message_id.clone().unwrap();
    let body = json!({ "vendorMessageId": vid, "status": "BOUNCED", "reason": "mailbox unknown" });
    let reply = signed(&api, "msg_1", &body).await;
    assert_eq!(reply.ok(200), json!({ "result": "APPLIED", "deliveryStatus": "EXHAUSTED" }));
}

#[tokio::test]
async fn a_replayed_webhook_id_is_a_200_no_op() {
    let (api, d) = setup().await;
    let failed = json!({ "deliveryId": d.id.to_string(), "status": "FAILED" });
    assert_eq!(signed(&api, "msg_1", &failed).await.ok(200)["deliveryStatus"], "PENDING");
    api.hub.clock.advance(Duration::from_secs(2));
    api.hub.drain().await;
    assert_eq!(status(&api, &d).await, DeliveryStatus::Sent, "retried and sent again");

    let replay = signed(&api, "msg_1", &failed).await;
    assert_eq!(replay.ok(200), json!({ "result": "REPLAYED", "deliveryStatus": null }));
    assert_eq!(status(&api, &d).await, DeliveryStatus::Sent, "nothing changed");
    assert_eq!(audited(&api), 1, "audited once");
}

#[tokio::test]
async fn a_report_on_a_terminal_delivery_is_a_200_and_changes_nothing() {
    let (api, d) = setup().await;
    let delivered = json!({ "deliveryId": d.id.to_string(), "status": "DELIVERED" });
    signed(&api, "msg_1", &delivered).await.ok(200);
    let bounced = json!({ "deliveryId": d.id.to_string(), "status": "BOUNCED" });
    let reply = signed(&api, "msg_2", &bounced).await;
    assert_eq!(reply.ok(200), json!({ "result": "UNCHANGED", "deliveryStatus": "DELIVERED" }));
    assert_eq!(status(&api, &d).await, DeliveryStatus::Delivered);
    assert_eq!(audited(&api), 1);
}

#[tokio::test]
async fn every_signature_failure_is_the_same_401() {
    let (api, d) = setup().await;
    let body = json!({ "deliveryId": d.id.to_string(), "status": "DELIVERED" }).to_string().into_bytes();
    let ts = now(&api);
    let good = sign(KEY, "msg_1", ts, &body);
    let h = |id: &str, ts: i64, sig: &str| {
        vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sig.to_owned()),
        ]
    };
    let cases: Vec<(&str, &str, Headers, Vec<u8>)> = vec![
        ("unknown vendor", "othervendor", h("msg_1", ts, &good), body.clone()),
        ("unusable secret", "broken", h("msg_1", ts, &good), body.clone()),
        ("missing signature", VENDOR, h("msg_1", ts, &good)[..2].to_vec(), body.clone()),
        ("missing id", VENDOR, h("msg_1", ts, &good)[1..].to_vec(), body.clone()),
        (
            "garbled timestamp",
            VENDOR,
            h("msg_1", ts, &good)
                .into_iter()
                .map(|(n, v)| if n == "webhook-timestamp" { (n, "yesterday".to_owned()) } else { (n, v) })
                .collect(),
            body.clone(),
        ),
        ("stale", VENDOR, h("msg_1", ts - 301, &sign(KEY, "msg_1", ts - 301, &body)), body.clone()),
        ("future", VENDOR, h("msg_1", ts + 301, &sign(KEY, "msg_1", ts + 301, &body)), body.clone()),
        ("wrong key", VENDOR, h("msg_1", ts, &sign(b"another key", "msg_1", ts, &body)), body.clone()),
        ("another id", VENDOR, h("msg_2", ts, &good), body.clone()),
        ("tampered body", VENDOR, h("msg_1", ts, &good), body.iter().copied().chain(*b" ").collect()),
    ];
    let mut bodies = Vec::new();
    for (cause, vendor, headers, body) in cases {
        let reply = post(&api, vendor, &headers, body).await;
        let mut problem = reply.problem(401, "INVALID_SIGNATURE");
        problem.as_object_mut().unwrap().remove("instance");
        bodies.push((cause, problem));
    }
    for (cause, problem) in &bodies {
        assert_eq!(problem, &bodies[0].1, "{cause} answers like {}", bodies[0].0);
    }
    assert_eq!(status(&api, &d).await, DeliveryStatus::Sent, "nothing applied");
    // Nothing was recorded either: the genuine callback with that id is taken.
    let reply = post(&api, VENDOR, &h("msg_1", ts, &good), body).await;
    assert_eq!(reply.ok(200)["result"], "APPLIED");
}

#[tokio::test]
async fn the_timestamp_is_checked_against_the_application_clock() {
    let (api, d) = setup().await;
    let body = json!({ "deliveryId": d.id.to_string(), "status": "DELIVERED" }).to_string().into_bytes();
    let ts = now(&api);
    let headers = [
        ("webhook-id", "msg_1".to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", sign(KEY, "msg_1", ts, &body)),
    ];
    let start = api.hub.clock.now();
    api.hub.clock.set(start + chrono::TimeDelta::seconds(301));
    post(&api, VENDOR, &headers, body.clone()).await.problem(401, "INVALID_SIGNATURE");
    api.hub.clock.set(start + chrono::TimeDelta::seconds(300));
    assert_eq!(post(&api, VENDOR, &headers, body).await.ok(200)["result"], "APPLIED", "exactly 5 min old");
}

#[tokio::test]
async fn an_unknown_delivery_is_a_404() {
    let (api, _) = setup().await;
    let body = json!({ "deliveryId": "dlv_01KF0C9F4G0000000000000099", "status": "DELIVERED" });
    signed(&api, "msg_1", &body).await.problem(404, "DELIVERY_NOT_FOUND");
    let body = json!({ "vendorMessageId": "mock-nope", "status": "DELIVERED" });
    signed(&api, "msg_2", &body).await.problem(404, "DELIVERY_NOT_FOUND");
    signed(&api, "msg_2", &body).await.problem(404, "DELIVERY_NOT_FOUND");
}

#[tokio::test]
async fn a_bad_body_after_a_valid_signature_is_a_400() {
    let (api, d) = setup().await;
    signed_raw(&api, "msg_1", b"{\"deliveryId\": ".to_vec()).await.problem(400, "MALFORMED_JSON");
    signed_raw(&api, "msg_2", b"[1, 2]".to_vec()).await.problem(400, "VALIDATION_FAILED");
    let id = d.id.to_string();
    signed(&api, "msg_3", &json!({ "deliveryId": id, "status": "READ" })).await.invalid("status");
    signed(&api, "msg_4", &json!({ "deliveryId": id })).await.invalid("status");
    signed(&api, "msg_5", &json!({ "deliveryId": "nope", "status": "DELIVERED" }))
        .await
        .invalid("deliveryId");
    signed(&api, "msg_6", &json!({ "deliveryId": id, "status": "DELIVERED", "extra": 1 }))
        .await
        .invalid("extra");
    let both = json!({ "deliveryId": id, "vendorMessageId": "mock-1", "status": "DELIVERED" });
    signed(&api, "msg_7", &both).await.problem(400, "VALIDATION_FAILED");
    signed(&api, "msg_8", &json!({ "status": "DELIVERED" })).await.problem(400, "VALIDATION_FAILED");
    assert_eq!(status(&api, &d).await, DeliveryStatus::Sent);
    // A refused body did not burn its webhook-id.
    let good = json!({ "deliveryId": id, "status": "DELIVERED" });
    assert_eq!(signed(&api, "msg_1", &good).await.ok(200)["result"], "APPLIED");
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let (api, d) = setup().await;
    let padding = "x".repeat(64 * 1024);
    let body = json!({ "deliveryId": d.id.to_string(), "status": "DELIVERED", "reason": padding });
    let reply = signed(&api, "msg_1", &body).await;
    reply.problem(413, "VALIDATION_FAILED");
    assert_eq!(status(&api, &d).await, DeliveryStatus::Sent);
}

#[tokio::test]
async fn a_store_outage_or_an_unrecorded_dispatch_is_a_503_the_vendor_retries() {
    let (api, d) = setup().await;
    let body = json!({ "deliveryId": d.id.to_string(), "status": "DELIVERED" });
    api.hub.store.set_unavailable(true);
    signed(&api, "msg_1", &body).await.problem(503, "DEPENDENCY_UNAVAILABLE");
    api.hub.store.set_unavailable(false);
    assert_eq!(signed(&api, "msg_1", &body).await.ok(200)["result"], "APPLIED", "the retry is taken");

    // A delivery the worker holds: its dispatch result is not stored yet.
    api.send("k2", &json!({ "recipientId": "bob", "kind": "TRANSACTIONAL", "body": "again" })).await.ok(202);
    let second = api.hub.store.all_deliveries().into_iter().find(|x| x.id != d.id).unwrap();
    let t = api.hub.clock.now();
    api.hub.store.claim(second.id, t, t + chrono::TimeDelta::seconds(60)).await.unwrap().unwrap();
    let body = json!({ "deliveryId": second.id.to_string(), "status": "DELIVERED" });
    let reply = signed(&api, "msg_2", &body).await;
    reply.problem(503, "DEPENDENCY_UNAVAILABLE");
    assert_eq!(reply.header("retry-after"), Some("5"));
}

#[tokio::test]
async fn a_webhook_id_being_applied_is_a_503_with_retry_after_and_taken_once_its_claim_expires() {
    let (api, d) = setup().await;
    // Another replica claimed msg_1 (and was killed before applying it).
    let t = api.hub.clock.now();
    let claim_until = t + chrono::TimeDelta::from_std(WEBHOOK_CLAIM).unwrap();
    let claimed =
        CallbackLog::remember(api.hub.store.as_ref(), VENDOR, "msg_1", t, claim_until).await.unwrap();
    assert_eq!(claimed, Remembered::New);

    let body = json!({ "deliveryId": d.id.to_string(), "status": "DELIVERED" });
    let reply = signed(&api, "msg_1", &body).await;
    let problem = reply.problem(503, "DEPENDENCY_UNAVAILABLE");
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(problem["detail"].as_str().unwrap().contains("being applied"), "{problem}");
    assert_eq!(status(&api, &d).await, DeliveryStatus::Sent, "nothing applied");

    api.hub.clock.advance(WEBHOOK_CLAIM);
    assert_eq!(
        signed(&api, "msg_1", &body).await.ok(200)["result"],
        "APPLIED",
        "the vendor's retry is taken"
    );
    assert_eq!(signed(&api, "msg_1", &body).await.ok(200)["result"], "REPLAYED");
    assert_eq!(audited(&api), 1);
}
