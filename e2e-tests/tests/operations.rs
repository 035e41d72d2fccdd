//! Black-box walks of the operators' and devices' guarantees (SPEC §5.4, §5.6) on both backend
//! sets: a confirmed bulk replay survives `kill -9` of the process running it without replaying
//! any delivery twice, and push devices stay healthy (at most 10 active, tokens move between
//! recipients, unregistered tokens are disabled by the vendor's answer and by its callback).

use std::time::{Duration, Instant};

use e2e_tests::api::{
    CALLBACK_KEY, FAST, callback_secrets, get, id_of, post_callback, recipient, send, wait_for,
};
use e2e_tests::{Hub, Stack};
use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};

const TOKEN: &str = "e2e-admin-token-bulk-5d1e";

/// How many dead letters the bulk replay walks over.
const DEAD_LETTERS: usize = 500;

/// An admin request with the token.
fn admin(client: &Client, hub: &Hub, method: Method, path: &str) -> RequestBuilder {
    client.request(method, format!("{}/api/v1/admin{path}", hub.base)).header("X-Admin-Token", TOKEN)
}

/// `GET` an admin path that must answer 200; its JSON.
async fn admin_get(client: &Client, hub: &Hub, path: &str) -> Value {
    let response = admin(client, hub, Method::GET, path).send().await.expect("admin GET");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

/// Polls `/dlq/stats` until the DLQ holds `want` deliveries.
async fn wait_for_dlq_total(client: &Client, hub: &Hub, want: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let stats = admin_get(client, hub, "/dlq/stats").await;
        if stats["total"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "DLQ not at {want} within {within:?}: {stats:#}\nlog:\n{}",
            hub.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends `count` notifications to `recipient`, 10 at a time; their ids.
async fn send_many(hub: &Hub, recipient: &str, count: usize) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..10 {
        let (base, recipient) = (hub.base.clone(), recipient.to_owned());
        tasks.spawn(async move {
            let client = Client::new();
            let mut ids = Vec::new();
            for i in (lane..count).step_by(10) {
                let response = client
                    .post(format!("{base}/api/v1/notifications"))
                    .header("Idempotency-Key", format!("bulk-{i}"))
                    .json(&json!({ "recipientId": recipient, "kind": "TRANSACTIONAL", "body": format!("n{i}") }))
                    .send()
                    .await
                    .expect("POST");
                assert_eq!(response.status(), 202);
                ids.push(id_of(&response.json().await.expect("JSON")));
            }
            ids
        });
    }
    let mut ids = Vec::new();
    while let Some(lane) = tasks.join_next().await {
        ids.extend(lane.expect("sender task"));
    }
    ids
}

async fn a_bulk_replay_killed_mid_job_resumes_without_replaying_twice(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let mut env = FAST.to_vec();
    env.extend_from_slice(&[
        ("NH_ADMIN_TOKEN", TOKEN),
        // The test polls the job often; the limit itself is covered by the HTTP tests.
        ("NH_ADMIN_RATE_LIMIT", "100000/60s"),
        ("NH_RATE_LIMITS", "EMAIL=10000/60s"),
        // 50 replays/s: the 500-item job takes about 10 s, long enough to be killed midway.
        ("NH_BULK_REPLAY_RATE", "50"),
        ("NH_BULK_JOB_LEASE", "2s"),
    ]);
    let mut hub = deployment.start(&env).await;
    let client = Client::new();
    recipient(
        &hub,
        &client,
        "bounced",
        json!([{ "type": "EMAIL", "address": "fail-permanent@example.com" }]),
    )
    .await;
    let ids = send_many(&hub, "bounced", DEAD_LETTERS).await;
    wait_for_dlq_total(&client, &hub, DEAD_LETTERS as u64, Duration::from_secs(60)).await;

    // The dry run estimates and changes nothing.
    let dry = admin(&client, &hub, Method::POST, "/dlq/bulk-replay").json(&json!({})).send().await.unwrap();
    assert_eq!(dry.status(), 200);
    let dry: Value = dry.json().await.unwrap();
    assert_eq!(dry["mode"], "DRY_RUN");
    assert_eq!(dry["estimatedCount"], DEAD_LETTERS, "{dry:#}");
    assert_eq!(dry["sampleDeliveryIds"].as_array().unwrap().len(), 10);
    wait_for_dlq_total(&client, &hub, DEAD_LETTERS as u64, Duration::ZERO).await;

    let started = admin(&client, &hub, Method::POST, "/dlq/bulk-replay")
        .json(&json!({ "confirm": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    assert_eq!(started["mode"], "EXECUTING");
    let job_path = format!("/dlq/bulk-jobs/{}", started["jobId"].as_str().unwrap());

    // Kill the process once a fifth of the job is done.
    let deadline = Instant::now() + Duration::from_secs(30);
    let at_kill = loop {
        let job = admin_get(&client, &hub, &job_path).await;
        if job["processedCount"].as_u64().unwrap() >= 100 {
            hub.kill9();
            break job;
        }
        assert!(Instant::now() < deadline, "the job did not progress: {job:#}\nlog:\n{}", hub.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(at_kill["state"], "RUNNING", "killed too late to test anything: {at_kill:#}");
    assert!(at_kill["processedCount"].as_u64().unwrap() < DEAD_LETTERS as u64, "{at_kill:#}");

    hub.restart().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let job = admin_get(&client, &hub, &job_path).await;
        if job["state"] != "RUNNING" {
            break job;
        }
        assert!(Instant::now() < deadline, "the job did not finish: {job:#}\nlog:\n{}", hub.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job["state"], "SUCCEEDED", "{job:#}");
    assert_eq!(job["totalCount"], DEAD_LETTERS, "{job:#}");
    assert_eq!(job["processedCount"], DEAD_LETTERS, "{job:#}");
    assert_eq!(job["successCount"], dry["estimatedCount"], "{job:#}");
    assert_eq!(job["failureCount"], 0, "{job:#}");
    assert_eq!(job["firstError"], Value::Null, "{job:#}");

    // Every replayed delivery failed permanently again: one try before the job and exactly one
    // after it. A delivery replayed twice would show three.
    wait_for_dlq_total(&client, &hub, DEAD_LETTERS as u64, Duration::from_secs(60)).await;
    for id in &ids {
        let view = get(&hub, &client, id).await;
        let tries = view["deliveries"][0]["tries"].as_array().expect("tries").len();
        assert_eq!(tries, 2, "{view:#}");
    }

    let audit = admin_get(&client, &hub, "/audit?limit=100").await;
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["DLQ_BULK_REPLAY", "DLQ_BULK_REPLAY_DRY_RUN"], "{audit:#}");
}

/// A push token of at least 32 characters that names `what` for the mock vendor.
fn token(what: &str, n: usize) -> String {
    format!("{what}-push-token-{n:04}-0123456789abcdefghij")
}

/// `POST /api/v1/recipients/{id}/devices`; the status and the device.
async fn register(hub: &Hub, client: &Client, recipient: &str, token: &str) -> (u16, Value) {
    let response = client
        .post(format!("{}/api/v1/recipients/{recipient}/devices", hub.base))
        .json(&json!({ "platform": "ANDROID", "token": token }))
        .send()
        .await
        .expect("POST device");
    (response.status().as_u16(), response.json().await.expect("JSON"))
}

/// The recipient's devices: `(deviceId, active)` in the listed order.
async fn devices(hub: &Hub, client: &Client, recipient: &str) -> Vec<(String, bool)> {
    let list: Value = client
        .get(format!("{}/api/v1/recipients/{recipient}/devices", hub.base))
        .send()
        .await
        .expect("GET devices")
        .json()
        .await
        .expect("JSON");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| (d["deviceId"].as_str().unwrap().to_owned(), d["active"].as_bool().unwrap()))
        .collect()
}

fn active(list: &[(String, bool)]) -> Vec<&str> {
    list.iter().filter(|(_, a)| *a).map(|(id, _)| id.as_str()).collect()
}

async fn push_devices_stay_healthy(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let secrets = callback_secrets();
    let mut env = FAST.to_vec();
    env.push(("NH_CALLBACK_SECRETS", &secrets));
    let hub = deployment.start(&env).await;
    let client = Client::new();
    for id in ["phone-owner", "new-owner"] {
        recipient(&hub, &client, id, json!([{ "type": "PUSH" }])).await;
    }

    // Eleven registrations: the oldest device is disabled, ten stay active.
    let mut ids = Vec::new();
    for n in 0..11 {
        let (status, device) = register(&hub, &client, "phone-owner", &token("ok", n)).await;
        assert_eq!(status, 201, "{device}");
        ids.push(device["deviceId"].as_str().unwrap().to_owned());
    }
    let list = devices(&hub, &client, "phone-owner").await;
    assert_eq!(list.len(), 11);
    let mut now_active = active(&list);
    now_active.sort_unstable();
    let mut newest: Vec<&str> = ids[1..].iter().map(String::as_str).collect();
    newest.sort_unstable();
    assert_eq!(now_active, newest, "{list:?}");

    // Registering the disabled token again re-activates it (200); the oldest active one makes room.
    let (status, device) = register(&hub, &client, "phone-owner", &token("ok", 0)).await;
    assert_eq!((status, device["deviceId"].as_str()), (200, Some(ids[0].as_str())), "{device}");
    assert_eq!(device["active"], true);
    let list = devices(&hub, &client, "phone-owner").await;
    let now_active = active(&list);
    assert_eq!(now_active.len(), 10, "{list:?}");
    assert!(now_active.contains(&ids[0].as_str()) && !now_active.contains(&ids[1].as_str()), "{list:?}");

    // A token registered by another recipient moves to it.
    let (status, moved) = register(&hub, &client, "new-owner", &token("ok", 5)).await;
    assert_eq!(status, 200, "{moved}");
    assert!(!devices(&hub, &client, "phone-owner").await.iter().any(|(id, _)| *id == ids[5]));
    let theirs = devices(&hub, &client, "new-owner").await;
    assert_eq!(active(&theirs), [moved["deviceId"].as_str().unwrap()], "{theirs:?}");

    // The vendor answers "unregistered" for one of new-owner's two tokens: that device is
    // disabled at once and the next push goes to the other one only.
    let (_, doomed) = register(&hub, &client, "new-owner", &token("unregistered", 1)).await;
    let doomed = doomed["deviceId"].as_str().unwrap().to_owned();
    let push = |key: &'static str| {
        send(
            &hub,
            &client,
            key,
            json!({ "recipientId": "new-owner", "kind": "TRANSACTIONAL", "title": "t", "body": "b" }),
        )
    };
    let (status, first) = push("push-1").await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["deliveries"].as_array().unwrap().len(), 2, "{first:#}");
    wait_for(&hub, &client, &id_of(&first), "PARTIALLY_FAILED", Duration::from_secs(30)).await;
    let list = devices(&hub, &client, "new-owner").await;
    assert_eq!(active(&list), [moved["deviceId"].as_str().unwrap()], "{list:?}");
    assert!(list.iter().any(|(id, a)| *id == doomed && !a), "{list:?}");

    // A signed UNREGISTERED callback on the remaining device's SENT delivery disables it too.
    let (_, second) = push("push-2").await;
    assert_eq!(second["deliveries"].as_array().unwrap().len(), 1, "{second:#}");
    let view = wait_for(&hub, &client, &id_of(&second), "COMPLETED", Duration::from_secs(30)).await;
    let delivery = view["deliveries"][0]["deliveryId"].as_str().unwrap();
    let report = json!({ "deliveryId": delivery, "status": "UNREGISTERED" }).to_string();
    let (status, answer) = post_callback(&hub, &client, "msg_unreg_1", CALLBACK_KEY, &report).await;
    assert_eq!(status, 200, "{answer}\nlog:\n{}", hub.log_text());
    assert_eq!(answer, json!({ "result": "APPLIED", "deliveryStatus": "EXHAUSTED" }));
    assert!(active(&devices(&hub, &client, "new-owner").await).is_empty());
    let (status, none) = push("push-3").await;
    assert_eq!(status, 200, "every device is disabled: {none:#}");
    assert_eq!(none["status"], "SUPPRESSED");

    // Re-registering the token brings the recipient back.
    let (status, _) = register(&hub, &client, "new-owner", &token("ok", 5)).await;
    assert_eq!(status, 200);
    let (status, back) = push("push-4").await;
    assert_eq!(status, 202, "{back:#}");
    wait_for(&hub, &client, &id_of(&back), "COMPLETED", Duration::from_secs(30)).await;
}

e2e_tests::on_both_stacks!(
    a_bulk_replay_killed_mid_job_resumes_without_replaying_twice,
    push_devices_stay_healthy
);
