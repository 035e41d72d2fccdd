//! The operators' admin API (SPEC §5.6) over the fakes: token, rate limits, trusted proxies,
//! the DLQ endpoints, bulk jobs and the audit trail.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use common::*;
use hub_adapter_in::HttpState;
use hub_adapter_in::http::AdminSettings;
use hub_application::fakes::FakeHub;
use hub_domain::rate_limit::BucketPolicy;
use secrecy::SecretString;
use serde_json::{Value, json};

const TOKEN: &str = "test-admin-token-0123456789";
const PEER: &str = "203.0.113.7:50000";

fn settings(token: Option<&str>, limit: &str, trusted: &[&str]) -> AdminSettings {
    AdminSettings {
        token: token.map(SecretString::from),
        rate_limit: BucketPolicy::parse(limit).unwrap(),
        trusted_proxies: trusted.iter().map(|n| n.parse().unwrap()).collect(),
    }
}

fn admin_api(settings: &AdminSettings) -> Api {
    let hub = FakeHub::new();
    let state = HttpState::new(hub.app.clone()).with_admin(settings);
    state.mark_started();
    Api::with_state(hub, state)
}

fn api() -> Api {
    admin_api(&settings(Some(TOKEN), "60/60s", &[]))
}

/// One admin request: from `peer`, with `token` (if any), extra headers and a JSON body.
struct Call<'a> {
    method: Method,
    path: &'a str,
    token: Option<&'a str>,
    peer: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: Option<Value>,
}

impl<'a> Call<'a> {
    fn new(method: Method, path: &'a str) -> Self {
        Call { method, path, token: Some(TOKEN), peer: PEER, headers: Vec::new(), body: None }
    }

    fn token(mut self, token: Option<&'a str>) -> Self {
        self.token = token;
        self
    }

    fn peer(mut self, peer: &'a str) -> Self {
        self.peer = peer;
        self
    }

    fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    async fn on(self, api: &Api) -> Reply {
        let peer: SocketAddr = self.peer.parse().unwrap();
        let mut builder = Request::builder().method(self.method).uri(self.path).extension(ConnectInfo(peer));
        if let Some(token) = self.token {
            builder = builder.header("x-admin-token", token);
        }
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        let body = match self.body {
            Some(json) => {
                builder = builder.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&json).unwrap())
            }
            None => Body::empty(),
        };
        api.call(builder.body(body).unwrap()).await
    }
}

async fn get(api: &Api, path: &str) -> Reply {
    Call::new(Method::GET, path).on(api).await
}

async fn post(api: &Api, path: &str, body: Value) -> Reply {
    Call::new(Method::POST, path).body(body).on(api).await
}

/// A delivery to `address` sent and driven to its end; returns its id.
async fn delivery_to(api: &Api, key: &str, address: &str) -> String {
    let recipient = format!("r-{key}");
    api.recipient(&recipient, json!([{ "type": "EMAIL", "address": address }])).await;
    let sent = api
        .send(
            key,
            &json!({ "recipientId": recipient, "kind": "TRANSACTIONAL", "title": "Hi", "body": "Hello" }),
        )
        .await
        .ok(202);
    api.hub.drain().await;
    sent["deliveries"][0]["deliveryId"].as_str().unwrap().to_owned()
}

/// `n` EXHAUSTED deliveries, one second apart.
async fn exhausted(api: &Api, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(delivery_to(api, &format!("x{i}"), "fail-permanent@example.com").await);
        api.hub.clock.advance(std::time::Duration::from_secs(1));
    }
    ids
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["deliveryId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn without_a_configured_token_every_admin_call_is_401() {
    let api = admin_api(&settings(None, "60/60s", &[]));
    for path in ["/api/v1/admin/dlq", "/api/v1/admin/audit", "/api/v1/admin/dlq/stats"] {
        Call::new(Method::GET, path).on(&api).await.problem(401, "UNAUTHORIZED");
        Call::new(Method::GET, path).token(Some("")).on(&api).await.problem(401, "UNAUTHORIZED");
    }
    let reply = post(&api, "/api/v1/admin/dlq/bulk-replay", json!({})).await;
    reply.problem(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_and_the_right_one_passes() {
    let api = api();
    let missing = Call::new(Method::GET, "/api/v1/admin/dlq").token(None).on(&api).await;
    assert!(missing.problem(401, "UNAUTHORIZED")["detail"].as_str().unwrap().contains("X-Admin-Token"));
    for wrong in ["nope", "test-admin-token-012345678", "test-admin-token-0123456789x", " "] {
        Call::new(Method::GET, "/api/v1/admin/dlq")
            .token(Some(wrong))
            .on(&api)
            .await
            .problem(401, "UNAUTHORIZED");
    }
    let repeated = Call::new(Method::GET, "/api/v1/admin/dlq").header("x-admin-token", TOKEN).on(&api).await;
    repeated.problem(401, "UNAUTHORIZED");
    let ok = get(&api, "/api/v1/admin/dlq").await.ok(200);
    assert_eq!(ok, json!({ "items": [], "nextCursor": null }));
    // The token never shows in an answer.
    assert!(!missing.text().contains(TOKEN));
}

#[tokio::test]
async fn sixty_requests_per_minute_per_ip_and_scope_then_429_with_retry_after() {
    let api = api();
    for i in 0..60 {
        let reply = get(&api, "/api/v1/admin/dlq").await;
        assert_eq!(reply.status, 200, "request {i}: {}", reply.text());
    }
    let limited = get(&api, "/api/v1/admin/audit").await;
    limited.problem(429, "RATE_LIMITED");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Unauthenticated calls count too (token guessing is throttled).
    Call::new(Method::GET, "/api/v1/admin/dlq").token(None).on(&api).await.problem(429, "RATE_LIMITED");

    // Another scope from the same IP, and the same scope from another IP, are still allowed.
    let other_scope = post(&api, "/api/v1/admin/dlq/dlv_01KF0C9F4G0000000000000000/replay", json!({})).await;
    other_scope.problem(404, "DELIVERY_NOT_FOUND");
    post(&api, "/api/v1/admin/dlq/bulk-replay", json!({})).await.ok(200);
    Call::new(Method::GET, "/api/v1/admin/dlq").peer("198.51.100.2:1").on(&api).await.ok(200);
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let api = admin_api(&settings(Some(TOKEN), "2/60s", &["10.0.0.0/8"]));
    for client in ["192.0.2.1", "192.0.2.2"] {
        Call::new(Method::GET, "/api/v1/admin/dlq").header("x-forwarded-for", client).on(&api).await.ok(200);
    }
    // A third "client" behind the same untrusted peer shares its bucket.
    let reply =
        Call::new(Method::GET, "/api/v1/admin/dlq").header("x-forwarded-for", "192.0.2.3").on(&api).await;
    reply.problem(429, "RATE_LIMITED");
}

#[tokio::test]
async fn forwarded_for_is_honoured_from_a_trusted_proxy() {
    let api = admin_api(&settings(Some(TOKEN), "2/60s", &["10.0.0.0/8"]));
    let via_proxy = |client: &'static str| {
        Call::new(Method::GET, "/api/v1/admin/dlq").peer("10.1.2.3:443").header("x-forwarded-for", client)
    };
    via_proxy("192.0.2.1").on(&api).await.ok(200);
    via_proxy("192.0.2.1").on(&api).await.ok(200);
    via_proxy("192.0.2.1").on(&api).await.problem(429, "RATE_LIMITED");
    // Each client behind the proxy has its own bucket; a spoofed left part does not help.
    via_proxy("192.0.2.2").on(&api).await.ok(200);
    via_proxy("9.9.9.9, 192.0.2.1").on(&api).await.problem(429, "RATE_LIMITED");
}

#[tokio::test]
async fn the_dlq_lists_exhausted_deliveries_oldest_first_with_filters_and_a_cursor() {
    let api = api();
    let ids = exhausted(&api, 3).await;
    let sent = delivery_to(&api, "ok", "bob@example.com").await;

    let page = get(&api, "/api/v1/admin/dlq").await.ok(200);
    assert_eq!(ids_of(&page), ids);
    assert!(!ids_of(&page).contains(&sent));
    let item = &page["items"][0];
    assert_eq!(item["status"], "EXHAUSTED");
    assert_eq!(item["channel"], "EMAIL");
    assert_eq!(item["errorClass"], "PERMANENT");
    assert_eq!(item["maxTries"], 6);
    assert_eq!(item["topic"], "notification.delivery.email");
    assert!(!item["address"].as_str().unwrap().contains("fail-permanent@"), "masked: {item}");

    let first = get(&api, "/api/v1/admin/dlq?limit=2").await.ok(200);
    assert_eq!(ids_of(&first), ids[..2]);
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let rest = get(&api, &format!("/api/v1/admin/dlq?limit=2&cursor={cursor}")).await.ok(200);
    assert_eq!(ids_of(&rest), ids[2..]);
    assert_eq!(rest["nextCursor"], Value::Null);

    assert_eq!(ids_of(&get(&api, "/api/v1/admin/dlq?channel=EMAIL&errorClass=PERMANENT").await.ok(200)), ids);
    assert!(ids_of(&get(&api, "/api/v1/admin/dlq?channel=SMS").await.ok(200)).is_empty());
    assert!(ids_of(&get(&api, "/api/v1/admin/dlq?errorClass=TRANSIENT").await.ok(200)).is_empty());
    let late = get(&api, "/api/v1/admin/dlq?from=2026-01-15T03:00:01Z&limit=200").await.ok(200);
    assert_eq!(ids_of(&late), ids[1..]);
}

#[tokio::test]
async fn bad_listing_parameters_are_400_naming_the_parameter() {
    let api = api();
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("channel=FAX", "channel"),
        ("errorClass=OOPS", "errorClass"),
        ("from=yesterday", "from"),
        ("from=2026-01-15T04:00:00Z&to=2026-01-15T03:00:00Z", "from"),
        ("cursor=not-a-cursor", "cursor"),
        ("colour=red", "colour"),
    ] {
        get(&api, &format!("/api/v1/admin/dlq?{query}")).await.invalid(field);
    }
    get(&api, "/api/v1/admin/dlq?limit=200").await.ok(200);
    get(&api, "/api/v1/admin/dlq?limit=1").await.ok(200);
    for (query, field) in [("action=NOPE", "action"), ("limit=0", "limit"), ("cursor=zz", "cursor")] {
        get(&api, &format!("/api/v1/admin/audit?{query}")).await.invalid(field);
    }
}

#[tokio::test]
async fn the_detail_has_every_try_and_unknown_ids_are_404_or_400() {
    let api = api();
    let id = delivery_to(&api, "t", "fail-transient@example.com").await;
    for step in [1, 5, 30, 120, 600] {
        api.hub.clock.advance(std::time::Duration::from_secs(step));
        api.hub.drain().await;
    }
    let detail = get(&api, &format!("/api/v1/admin/dlq/{id}")).await.ok(200);
    assert_eq!(detail["status"], "EXHAUSTED");
    assert_eq!(detail["title"], "Hi");
    assert_eq!(detail["body"], "Hello");
    assert_eq!(detail["errorClass"], "TRANSIENT");
    let tries = detail["tries"].as_array().unwrap();
    assert_eq!(tries.len(), 6);
    assert!(tries.iter().all(|t| t["outcome"] == "FAILED" && t["errorClass"] == "TRANSIENT"), "{detail}");

    get(&api, "/api/v1/admin/dlq/dlv_01KF0C9F4G0000000000000000").await.problem(404, "DELIVERY_NOT_FOUND");
    get(&api, "/api/v1/admin/dlq/not-an-id").await.invalid("deliveryId");
    get(&api, "/api/v1/admin/dlq/bulk-jobs/job_01KF0C9F4G0000000000000000")
        .await
        .problem(404, "JOB_NOT_FOUND");
    get(&api, "/api/v1/admin/dlq/bulk-jobs/nope").await.invalid("jobId");
}

#[tokio::test]
async fn delete_is_405_with_allow_get_and_deletes_nothing() {
    let api = api();
    let id = exhausted(&api, 1).await.remove(0);
    let path = format!("/api/v1/admin/dlq/{id}");
    let reply = Call::new(Method::DELETE, &path).on(&api).await;
    reply.problem(405, "METHOD_NOT_ALLOWED");
    assert_eq!(reply.header("allow"), Some("GET"));
    Call::new(Method::DELETE, &path).token(None).on(&api).await.problem(401, "UNAUTHORIZED");
    assert_eq!(get(&api, &path).await.ok(200)["status"], "EXHAUSTED");
}

#[tokio::test]
async fn replay_and_discard_act_on_exhausted_deliveries_only_and_are_audited() {
    let api = api();
    let ids = exhausted(&api, 2).await;
    let sent = delivery_to(&api, "ok", "bob@example.com").await;

    let replayed = post(&api, &format!("/api/v1/admin/dlq/{}/replay", ids[0]), json!({})).await.ok(200);
    assert_eq!(replayed["status"], "PENDING");
    assert_eq!(replayed["exhaustedAt"], Value::Null);
    assert_eq!(api.hub.store.unpublished().len(), 1, "re-queued through the outbox");
    post(&api, &format!("/api/v1/admin/dlq/{}/replay", ids[0]), json!({}))
        .await
        .problem(409, "ILLEGAL_DLQ_OPERATION");
    post(&api, &format!("/api/v1/admin/dlq/{sent}/replay"), json!({}))
        .await
        .problem(409, "ILLEGAL_DLQ_OPERATION");

    let discard = format!("/api/v1/admin/dlq/{}/discard", ids[1]);
    post(&api, &discard, json!({ "reason": "  " })).await.invalid("reason");
    post(&api, &discard, json!({})).await.invalid("reason");
    post(&api, &discard, json!({ "reason": "x", "force": true })).await.invalid("force");
    let discarded = post(&api, &discard, json!({ "reason": "address gone" })).await.ok(200);
    assert_eq!(discarded["status"], "DISCARDED");
    assert_eq!(discarded["discardReason"], "address gone");
    post(&api, &discard, json!({ "reason": "again" })).await.problem(409, "ILLEGAL_DLQ_OPERATION");
    post(&api, &format!("/api/v1/admin/dlq/{sent}/discard"), json!({ "reason": "x" }))
        .await
        .problem(409, "ILLEGAL_DLQ_OPERATION");
    assert!(ids_of(&get(&api, "/api/v1/admin/dlq").await.ok(200)).is_empty());

    let audit = get(&api, "/api/v1/admin/audit?action=DLQ_DISCARD").await.ok(200);
    let items = audit["items"].as_array().unwrap();
    assert!(items.iter().all(|e| e["action"] == "DLQ_DISCARD" && e["actor"] == "admin"), "{audit}");
    assert!(
        items.iter().any(|e| e["target"] == ids[1].as_str() && e["outcome"] == "OK: DISCARDED"),
        "{audit}"
    );
    let replays = get(&api, "/api/v1/admin/audit?action=DLQ_REPLAY&limit=1").await.ok(200);
    assert_eq!(replays["items"].as_array().unwrap().len(), 1);
    let cursor = replays["nextCursor"].as_str().unwrap();
    let older =
        get(&api, &format!("/api/v1/admin/audit?action=DLQ_REPLAY&limit=1&cursor={cursor}")).await.ok(200);
    assert_eq!(older["items"].as_array().unwrap().len(), 1);
    assert_ne!(older["items"][0]["auditId"], replays["items"][0]["auditId"], "the cursor moves on");
}

#[tokio::test]
async fn a_bulk_dry_run_changes_nothing_and_a_confirmed_one_creates_a_job() {
    let api = api();
    let ids = exhausted(&api, 12).await;

    let dry = post(&api, "/api/v1/admin/dlq/bulk-replay", json!({ "channel": "EMAIL" })).await.ok(200);
    assert_eq!(dry["mode"], "DRY_RUN");
    assert_eq!(dry["estimatedCount"], 12);
    let sample: Vec<&str> =
        dry["sampleDeliveryIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(sample, ids[..10].iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(ids_of(&get(&api, "/api/v1/admin/dlq?limit=200").await.ok(200)).len(), 12, "nothing changed");
    assert!(api.hub.store.unpublished().is_empty());
    let false_confirm =
        post(&api, "/api/v1/admin/dlq/bulk-replay", json!({ "confirm": false })).await.ok(200);
    assert_eq!(false_confirm["mode"], "DRY_RUN");

    let reply = post(&api, "/api/v1/admin/dlq/bulk-replay", json!({ "confirm": true })).await;
    let job = reply.ok(202);
    assert_eq!(job["mode"], "EXECUTING");
    let job_id = job["jobId"].as_str().unwrap();
    let location = format!("/api/v1/admin/dlq/bulk-jobs/{job_id}");
    assert_eq!(reply.header("location"), Some(location.as_str()));
    let running = get(&api, &location).await.ok(200);
    assert_eq!(running["state"], "RUNNING");
    assert_eq!(running["action"], "REPLAY");
    assert_eq!(running["totalCount"], 12);
    assert_eq!(running["actor"], "admin");

    while !api.hub.app.run_bulk_step(5).await.unwrap().finished {}
    let done = get(&api, &location).await.ok(200);
    assert_eq!(done["state"], "SUCCEEDED");
    assert_eq!((done["processedCount"].as_u64(), done["successCount"].as_u64()), (Some(12), Some(12)));
    assert!(ids_of(&get(&api, "/api/v1/admin/dlq").await.ok(200)).is_empty());

    let audit = get(&api, "/api/v1/admin/audit").await.ok(200);
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["DLQ_BULK_REPLAY", "DLQ_BULK_REPLAY_DRY_RUN", "DLQ_BULK_REPLAY_DRY_RUN"]);
    assert_eq!(audit["items"][2]["filter"]["channel"], "EMAIL");
    assert!(audit["items"][2]["filter"].get("errorClass").is_some(), "camelCase keys: {audit}");
}

#[tokio::test]
async fn bulk_discard_needs_a_reason_and_bad_bulk_bodies_are_400() {
    let api = api();
    exhausted(&api, 2).await;
    post(&api, "/api/v1/admin/dlq/bulk-discard", json!({ "confirm": true })).await.invalid("reason");
    post(&api, "/api/v1/admin/dlq/bulk-discard", json!({ "reason": " " })).await.invalid("reason");
    post(&api, "/api/v1/admin/dlq/bulk-replay", json!({ "channel": "FAX" })).await.invalid("channel");
    post(&api, "/api/v1/admin/dlq/bulk-replay", json!({ "confirm": "yes" })).await.invalid("confirm");
    post(&api, "/api/v1/admin/dlq/bulk-replay", json!({ "everything": true })).await.invalid("everything");
    post(
        &api,
        "/api/v1/admin/dlq/bulk-replay",
        json!({ "from": "2026-01-16T00:00:00Z", "to": "2026-01-15T00:00:00Z" }),
    )
    .await
    .invalid("from");
    let malformed = Call::new(Method::POST, "/api/v1/admin/dlq/bulk-replay")
        .header("content-type", "application/json")
        .on(&api)
        .await;
    malformed.problem(400, "MALFORMED_JSON");

    let dry = post(&api, "/api/v1/admin/dlq/bulk-discard", json!({ "reason": "cleanup" })).await.ok(200);
    assert_eq!(dry["estimatedCount"], 2);
    let job = post(&api, "/api/v1/admin/dlq/bulk-discard", json!({ "reason": "cleanup", "confirm": true }))
        .await
        .ok(202);
    let location = format!("/api/v1/admin/dlq/bulk-jobs/{}", job["jobId"].as_str().unwrap());
    while !api.hub.app.run_bulk_step(50).await.unwrap().finished {}
    let done = get(&api, &location).await.ok(200);
    assert_eq!((done["state"].as_str(), done["action"].as_str()), (Some("SUCCEEDED"), Some("DISCARD")));
    assert_eq!(done["reason"], "cleanup");
}

#[tokio::test]
async fn stats_count_by_bucket_channel_and_error_class() {
    let api = api();
    exhausted(&api, 3).await;
    let stats =
        get(&api, "/api/v1/admin/dlq/stats?from=2026-01-15T00:00:00Z&to=2026-01-16T00:00:00Z&bucket=PT1H")
            .await
            .ok(200);
    assert_eq!(stats["bucketSeconds"], 3600);
    assert_eq!(stats["total"], 3);
    assert_eq!(
        stats["items"],
        json!([{ "bucketStart": "2026-01-15T03:00:00Z", "channel": "EMAIL", "errorClass": "PERMANENT", "count": 3 }])
    );
    let defaults = get(&api, "/api/v1/admin/dlq/stats").await.ok(200);
    assert_eq!(defaults["total"], 3, "the last 24 hours by the hour: {defaults}");
    for (query, field) in [
        ("bucket=1h", "bucket"),
        ("bucket=P1M", "bucket"),
        ("bucket=PT30S", "bucket"),
        ("bucket=PT0S", "bucket"),
        ("from=2026-01-16T00:00:00Z&to=2026-01-15T00:00:00Z", "from"),
        ("to=soon", "to"),
    ] {
        get(&api, &format!("/api/v1/admin/dlq/stats?{query}")).await.invalid(field);
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_admin_api_and_its_token() {
    let doc: Value = serde_json::to_value(hub_adapter_in::openapi()).unwrap();
    let scheme = &doc["components"]["securitySchemes"]["adminToken"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["in"].as_str(), scheme["name"].as_str()),
        (Some("apiKey"), Some("header"), Some("X-Admin-Token"))
    );
    let paths = doc["paths"].as_object().unwrap();
    let admin: Vec<&String> = paths.keys().filter(|p| p.starts_with("/api/v1/admin/")).collect();
    assert_eq!(admin.len(), 9, "{admin:?}");
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/api/v1/admin/")) {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["security"][0].get("adminToken").is_some(), "{method} {path} names the token");
            for status in ["401", "429"] {
                assert!(op["responses"].get(status).is_some(), "{method} {path} documents {status}");
            }
        }
    }
    // DELETE only ever answers 405: not an operation, so `Allow` and the document agree; the
    // GET says so instead.
    let item = doc["paths"]["/api/v1/admin/dlq/{deliveryId}"].as_object().unwrap();
    assert_eq!(item.keys().collect::<Vec<_>>(), ["get"]);
    assert!(item["get"]["description"].as_str().unwrap().contains("`Allow: GET`"));
    let names = |schema: &str| doc["components"]["schemas"][schema]["enum"].clone();
    let all = |v: &[&str]| json!(v);
    assert_eq!(
        names("AuditAction"),
        all(&hub_application::ports::AuditAction::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        names("JobState"),
        all(&hub_application::ports::JobState::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>())
    );
}
