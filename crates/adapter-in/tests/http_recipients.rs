//! Recipients, preferences and devices over HTTP.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

const TOKEN: &str = "fcm-token-0123456789abcdefghijklmnopqrstuvwxyz";

#[tokio::test]
async fn put_creates_with_201_then_replaces_with_200() {
    let api = Api::new();
    let body = json!({ "channels": [{ "type": "EMAIL", "address": "alice@example.com" }, { "type": "IN_APP" }], "locale": "en-US", "timezone": "Europe/Paris" });
    let created = api.json(Method::PUT, "/api/v1/recipients/alice", &body).await.ok(201);
    assert_eq!(created["recipientId"], "alice");
    assert_eq!(created["locale"], "en-us");
    assert_eq!(created["timezone"], "Europe/Paris");
    assert_eq!(
        created["channels"],
        json!([{ "type": "EMAIL", "address": "alice@example.com" }, { "type": "IN_APP", "address": null }])
    );
    let replaced =
        api.json(Method::PUT, "/api/v1/recipients/alice", &json!({ "channels": [] })).await.ok(200);
    assert_eq!(replaced["timezone"], "Asia/Seoul");
    assert_eq!(replaced["channels"], json!([]));
    assert_eq!(api.get("/api/v1/recipients/alice").await.ok(200), replaced);
}

#[tokio::test]
async fn invalid_recipient_fields_are_400_naming_the_field() {
    let api = Api::new();
    let cases = [
        (json!({ "channels": [], "timezone": "Mars/Olympus" }), "timezone"),
        (json!({ "channels": [], "locale": "not a locale" }), "locale"),
        (json!({ "channels": [{ "type": "EMAIL", "address": "nope" }] }), "channels[0].address"),
        (json!({ "channels": [{ "type": "SMS" }] }), "channels[0].address"),
        (json!({ "channels": [{ "type": "FAX", "address": "1" }] }), "channels[0].type"),
        (json!({ "channels": [{ "type": "IN_APP" }, { "type": "IN_APP" }] }), "channels[1].type"),
        (json!({ "channels": [{ "type": "IN_APP", "colour": "red" }] }), "channels[0].colour"),
        (json!({ "locale": "en" }), "channels"),
    ];
    for (body, field) in cases {
        api.json(Method::PUT, "/api/v1/recipients/alice", &body).await.invalid(field);
    }
    api.json(Method::PUT, "/api/v1/recipients/a%20b", &json!({ "channels": [] })).await.invalid("id");
    api.get("/api/v1/recipients/alice").await.problem(404, "RECIPIENT_NOT_FOUND");
}

#[tokio::test]
async fn delete_erases_with_204_and_unknown_recipients_are_404() {
    let api = Api::new();
    api.recipient("alice", json!([{ "type": "IN_APP" }])).await;
    api.delete("/api/v1/recipients/alice").await.ok(204);
    api.get("/api/v1/recipients/alice").await.problem(404, "RECIPIENT_NOT_FOUND");
    api.delete("/api/v1/recipients/alice").await.problem(404, "RECIPIENT_NOT_FOUND");
}

#[tokio::test]
async fn preferences_default_then_round_trip_the_full_document() {
    let api = Api::new();
    api.recipient("alice", json!([{ "type": "IN_APP" }])).await;
    let defaults = api.get("/api/v1/recipients/alice/preferences").await.ok(200);
    assert_eq!(defaults, json!({ "kinds": {}, "quietHours": { "start": "22:00", "end": "08:00" } }));
    let document =
        json!({ "kinds": { "MARKETING": { "allowed": false, "channels": ["EMAIL"] } }, "quietHours": null });
    let stored = api.json(Method::PUT, "/api/v1/recipients/alice/preferences", &document).await.ok(200);
    assert_eq!(stored, document);
    assert_eq!(api.get("/api/v1/recipients/alice/preferences").await.ok(200), document);
    let absent = api
        .json(Method::PUT, "/api/v1/recipients/alice/preferences", &json!({ "kinds": { "SERVICE": {} } }))
        .await
        .ok(200);
    assert_eq!(absent["quietHours"], json!({ "start": "22:00", "end": "08:00" }));
    assert_eq!(absent["kinds"], json!({ "SERVICE": { "allowed": true, "channels": [] } }));
}

#[tokio::test]
async fn bad_preferences_are_400_and_opting_out_of_a_mandatory_kind_is_mandatory_kind() {
    let api = Api::new();
    api.recipient("alice", json!([{ "type": "IN_APP" }])).await;
    let path = "/api/v1/recipients/alice/preferences";
    let reply = api.json(Method::PUT, path, &json!({ "kinds": { "SECURITY": { "allowed": false } } })).await;
    reply.problem(400, "MANDATORY_KIND");
    let same = json!({ "quietHours": { "start": "22:00", "end": "22:00" } });
    api.json(Method::PUT, path, &same).await.invalid("quietHours");
    api.json(Method::PUT, path, &json!({ "quietHours": { "start": "25:00", "end": "08:00" } }))
        .await
        .invalid("quietHours.start");
    api.json(Method::PUT, path, &json!({ "kinds": { "LOUD": {} } })).await.invalid("kinds.LOUD");
    api.json(Method::PUT, path, &json!({ "kinds": { "SERVICE": { "channels": ["FAX"] } } }))
        .await
        .invalid("kinds.SERVICE.channels[0]");
    api.json(Method::PUT, "/api/v1/recipients/bob/preferences", &json!({}))
        .await
        .problem(404, "RECIPIENT_NOT_FOUND");
    api.get("/api/v1/recipients/bob/preferences").await.problem(404, "RECIPIENT_NOT_FOUND");
}

// Found by the API fuzzer (scripts/api-fuzz.sh): serde read `[null, null]` as a preference
// entry by position and stored `SECURITY` as allowed on every channel.
#[tokio::test]
async fn an_array_where_the_document_has_an_object_is_400_naming_the_member() {
    let api = Api::new();
    api.recipient("alice", json!([{ "type": "IN_APP" }])).await;
    let path = "/api/v1/recipients/alice/preferences";
    api.json(Method::PUT, path, &json!({ "kinds": { "SECURITY": [null, null] } }))
        .await
        .invalid("kinds.SECURITY");
    api.json(Method::PUT, path, &json!({ "quietHours": ["22:00", "08:00"] })).await.invalid("quietHours");
    api.json(Method::PUT, "/api/v1/recipients/alice", &json!({ "channels": [["IN_APP", null]] }))
        .await
        .invalid("channels[0]");
    assert_eq!(
        api.get(path).await.ok(200),
        json!({ "kinds": {}, "quietHours": { "start": "22:00", "end": "08:00" } }),
        "nothing was stored"
    );
}

#[tokio::test]
async fn devices_register_with_201_then_200_list_and_disable_with_204() {
    let api = Api::new();
    api.recipient("alice", json!([{ "type": "PUSH" }])).await;
    let path = "/api/v1/recipients/alice/devices";
    let device = json!({ "platform": "ANDROID", "token": TOKEN });
    let created = api.json(Method::POST, path, &device).await.ok(201);
    let id = created["deviceId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("dev_"));
    assert_eq!(created["token"], "fc***yz");
    assert_eq!(created["active"], true);
    assert_eq!(api.json(Method::POST, path, &device).await.ok(200)["deviceId"], id.as_str());
    api.recipient("bob", json!([{ "type": "PUSH" }])).await;
    let moved = api.json(Method::POST, "/api/v1/recipients/bob/devices", &device).await.ok(200);
    assert_eq!(moved["active"], true);
    let listed = api.get("/api/v1/recipients/bob/devices").await.ok(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let bobs = listed["items"][0]["deviceId"].as_str().unwrap().to_owned();
    api.delete(&format!("/api/v1/recipients/bob/devices/{bobs}")).await.ok(204);
    assert_eq!(api.get("/api/v1/recipients/bob/devices").await.ok(200)["items"][0]["active"], false);
}

#[tokio::test]
async fn device_errors_name_the_field_or_the_missing_resource() {
    let api = Api::new();
    api.recipient("alice", json!([{ "type": "PUSH" }])).await;
    let path = "/api/v1/recipients/alice/devices";
    api.json(Method::POST, path, &json!({ "platform": "ANDROID", "token": "short" })).await.invalid("token");
    api.json(Method::POST, path, &json!({ "platform": "SYMBIAN", "token": TOKEN })).await.invalid("platform");
    api.json(Method::POST, path, &json!({ "token": TOKEN })).await.invalid("platform");
    let unknown = json!({ "platform": "IOS", "token": TOKEN });
    api.json(Method::POST, "/api/v1/recipients/bob/devices", &unknown)
        .await
        .problem(404, "RECIPIENT_NOT_FOUND");
    api.get("/api/v1/recipients/bob/devices").await.problem(404, "RECIPIENT_NOT_FOUND");
    api.delete("/api/v1/recipients/alice/devices/dev_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await
        .problem(404, "NOT_FOUND");
    api.delete("/api/v1/recipients/alice/devices/ntf_01ARZ3NDEKTSV4RRFFQ69G5FAV").await.invalid("deviceId");
    let body: Value = api.get("/api/v1/recipients/alice/devices").await.ok(200);
    assert_eq!(body, json!({ "items": [] }));
}
