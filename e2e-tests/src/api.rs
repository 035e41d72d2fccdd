//! HTTP helpers the black-box tests share: recipients, sends, reads and polling.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Hub;

/// Retries 100 ms apart so the whole schedule fits in a test.
pub const FAST: &[(&str, &str)] = &[("NH_RETRY_SCHEDULE", "100ms,100ms,100ms,100ms,100ms")];

/// `PUT url` with a JSON body; the status.
pub async fn put(client: &Client, url: String, body: Value) -> StatusCode {
    client.put(url).json(&body).send().await.expect("PUT").status()
}

/// A recipient with the given channels and no quiet hours, so tests do not depend on the hour.
pub async fn recipient(hub: &Hub, client: &Client, id: &str, channels: Value) {
    let status = put(
        client,
        format!("{}/api/v1/recipients/{id}", hub.base),
        json!({ "channels": channels, "timezone": "UTC" }),
    )
    .await;
    assert!(status == 201 || status == 200, "PUT recipient {id}: {status}");
    let status = put(
        client,
        format!("{}/api/v1/recipients/{id}/preferences", hub.base),
        json!({ "quietHours": null }),
    )
    .await;
    assert_eq!(status, 200, "PUT preferences {id}");
}

/// `POST /api/v1/notifications` with an Idempotency-Key; the status and JSON body.
pub async fn send(hub: &Hub, client: &Client, key: &str, body: Value) -> (StatusCode, Value) {
    let response = client
        .post(format!("{}/api/v1/notifications", hub.base))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("POST");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

/// `GET /api/v1/notifications/{id}`, which must answer 200.
pub async fn get(hub: &Hub, client: &Client, id: &str) -> Value {
    let response = client.get(format!("{}/api/v1/notifications/{id}", hub.base)).send().await.expect("GET");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

/// Polls until the derived status is `want` (or fails after `within`, showing the last answer).
pub async fn wait_for(hub: &Hub, client: &Client, id: &str, want: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let view = get(hub, client, id).await;
        if view["status"] == want {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "{id} not {want} within {within:?}: {view:#}\nlog:\n{}",
            hub.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `notificationId` of a send's answer.
pub fn id_of(body: &Value) -> String {
    body["notificationId"].as_str().expect("notificationId").to_owned()
}

/// The HMAC key of the test vendor `mockvendor`; its secret is `whsec_` + base64 of it.
pub const CALLBACK_KEY: &[u8] = b"e2e key of the mock vendor, 32 b";

/// `NH_CALLBACK_SECRETS` that gives `mockvendor` the secret of [`CALLBACK_KEY`].
pub fn callback_secrets() -> String {
    format!("mockvendor=whsec_{}", STANDARD.encode(CALLBACK_KEY))
}

/// `POST /api/v1/callbacks/mockvendor`, signed here per Standard Webhooks with the `hmac` and
/// `sha2` crates (independently of the hub's own verification code); the status and JSON body.
pub async fn post_callback(hub: &Hub, client: &Client, id: &str, key: &[u8], body: &str) -> (u16, Value) {
    let timestamp = chrono::Utc::now().timestamp();
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let response = client
        .post(format!("{}/api/v1/callbacks/mockvendor", hub.base))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("POST callback");
    (response.status().as_u16(), response.json().await.expect("JSON body"))
}
