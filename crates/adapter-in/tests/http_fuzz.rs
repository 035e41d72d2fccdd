//! Random bytes, random JSON and random path segments never make the API answer 5xx (503 only
//! while a fake is down), and every 4xx is problem+json.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Every endpoint that takes a body.
const BODY_ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/api/v1/notifications"),
    ("POST", "/api/v1/notifications/ntf_01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel"),
    ("PUT", "/api/v1/recipients/alice"),
    ("PUT", "/api/v1/recipients/alice/preferences"),
    ("POST", "/api/v1/recipients/alice/devices"),
    ("POST", "/api/v1/templates"),
    ("PUT", "/api/v1/templates/tpl_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
];

/// Names the DTOs know, so random objects often reach the use cases.
const FIELDS: &[&str] = &[
    "recipientId",
    "kind",
    "title",
    "body",
    "templateKey",
    "payload",
    "channels",
    "sendAt",
    "expiresAt",
    "priority",
    "metadata",
    "type",
    "address",
    "locale",
    "timezone",
    "kinds",
    "quietHours",
    "start",
    "end",
    "allowed",
    "platform",
    "token",
    "key",
    "channel",
    "MARKETING",
    "SECURITY",
    "SERVICE",
];

/// Values the validators care about.
const WORDS: &[&str] = &[
    "alice",
    "SECURITY",
    "MARKETING",
    "EMAIL",
    "SMS",
    "PUSH",
    "KAKAO_ALIMTALK",
    "HIGH",
    "ANDROID",
    "order.shipped",
    "2026-01-15T03:00:00Z",
    "9999-12-31T23:59:59Z",
    "+821012345678",
    "alice@example.com",
    "22:00",
    "08:00",
    "en",
    "Asia/Seoul",
    "{{v}}",
    "{{#s}}",
    "https://hooks.slack.com/x",
    "",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![prop::sample::select(FIELDS).prop_map(str::to_owned), "[a-z]{1,6}"];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..7)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn endpoint() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop::sample::select(BODY_ENDPOINTS)
}

fn request(method: &str, path: &str, key: &str, body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .header("content-type", "application/json");
    if let Ok(value) = axum::http::HeaderValue::from_str(key) {
        builder = builder.header("idempotency-key", value);
    }
    builder.body(Body::from(body)).unwrap()
}

/// A fresh hub with a recipient, a device-capable profile and a template, so valid-looking
/// requests get deep into the use cases.
fn seeded(runtime: &tokio::runtime::Runtime) -> Api {
    let api = Api::new();
    runtime.block_on(async {
        api.recipient(
            "alice",
            json!([{ "type": "EMAIL", "address": "alice@example.com" }, { "type": "PUSH" }]),
        )
        .await;
        let template = json!({ "key": "order.shipped", "locale": "en", "channel": "EMAIL", "body": "{{v}}" });
        api.json(Method::POST, "/api/v1/templates", &template).await.ok(201);
    });
    api
}

fn check(reply: &Reply, outage: bool) -> Result<(), TestCaseError> {
    let status = reply.status.as_u16();
    if outage {
        prop_assert!(status < 500 || status == 503, "{status}: {}", reply.text());
    } else {
        prop_assert!(status < 500, "{status}: {}", reply.text());
    }
    if reply.status.is_client_error() || reply.status.is_server_error() {
        prop_assert_eq!(reply.header("content-type"), Some(PROBLEM_JSON));
        let body: Value =
            serde_json::from_slice(&reply.bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(body["code"].is_string() && body["type"].is_string(), "{}", body);
        prop_assert_eq!(body["status"].as_u64(), Some(u64::from(status)));
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_cause_a_server_error(
        (method, path) in endpoint(),
        body in prop::collection::vec(any::<u8>(), 0..256),
        key in "[ -~]{0,12}",
    ) {
        let rt = runtime();
        let api = seeded(&rt);
        let reply = rt.block_on(api.call(request(method, path, &key, body)));
        check(&reply, false)?;
    }

    #[test]
    fn random_json_never_causes_a_server_error(
        (method, path) in endpoint(),
        value in json_value(),
        key in prop_oneof!["[a-z0-9]{1,8}", "[ -~]{0,12}"],
    ) {
        let rt = runtime();
        let api = seeded(&rt);
        let reply = rt.block_on(api.call(request(method, path, &key, value.to_string().into_bytes())));
        check(&reply, false)?;
    }

    #[test]
    fn random_json_while_a_dependency_is_down_is_at_worst_503(
        (method, path) in endpoint(),
        value in json_value(),
        which in 0..3u8,
    ) {
        let rt = runtime();
        let api = seeded(&rt);
        match which {
            0 => api.hub.store.set_unavailable(true),
            1 => api.hub.idempotency.set_unavailable(true),
            _ => api.hub.limiter.set_unavailable(true),
        }
        let reply = rt.block_on(api.call(request(method, path, "k1", value.to_string().into_bytes())));
        check(&reply, true)?;
    }

    #[test]
    fn random_sends_shaped_like_the_dto_never_cause_a_server_error(
        kind in prop::sample::select(&["SECURITY", "TRANSACTIONAL", "SERVICE", "MARKETING", "X"][..]),
        content in prop_oneof![
            ".{0,30}".prop_map(|b| json!({ "body": b })),
            json_value().prop_map(|p| json!({ "templateKey": "order.shipped", "payload": p })),
        ],
        extra in prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..4),
    ) {
        let rt = runtime();
        let api = seeded(&rt);
        let mut body = json!({ "recipientId": "alice", "kind": kind });
        body.as_object_mut().unwrap().extend(content.as_object().unwrap().clone());
        for (name, value) in extra {
            body[name] = value;
        }
        let reply = rt.block_on(api.call(request("POST", "/api/v1/notifications", "k1", body.to_string().into_bytes())));
        check(&reply, false)?;
    }

    #[test]
    fn random_path_segments_never_cause_a_server_error(
        segment in prop::collection::vec(any::<u8>(), 1..40),
        template in prop::sample::select(&[
            "/api/v1/notifications/{}", "/api/v1/notifications/{}/cancel", "/api/v1/recipients/{}",
            "/api/v1/recipients/{}/preferences", "/api/v1/recipients/{}/devices",
            "/api/v1/recipients/alice/devices/{}", "/api/v1/templates/{}", "/api/v1/templates/{}/versions",
        ][..]),
        method in prop::sample::select(&["GET", "DELETE", "POST", "PUT"][..]),
    ) {
        let encoded: String = segment.iter().map(|b| format!("%{b:02X}")).collect();
        let rt = runtime();
        let api = seeded(&rt);
        let reply = rt.block_on(api.call(request(method, &template.replace("{}", &encoded), "k1", b"{}".to_vec())));
        check(&reply, false)?;
    }
}
