//! Black-box walks of SPEC §2–§5 on both backend sets: the built binary on a free port, on the
//! embedded default (its own SQLite file) and on PostgreSQL + Redis + Kafka
//! (`e2e_tests::backends`), driven over HTTP only. Every scenario runs once per stack
//! (`embedded::…` and `production::…`).

use std::time::Duration;

use e2e_tests::Stack;
use e2e_tests::api::{
    CALLBACK_KEY, FAST, callback_secrets, get, id_of, post_callback, put, recipient, send, wait_for,
};
use reqwest::Client;
use serde_json::{Value, json};

async fn the_three_mvp_scenarios_complete_over_http(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let hub = deployment.start(FAST).await;
    let client = Client::new();
    recipient(&hub, &client, "customer-42", json!([{ "type": "EMAIL", "address": "kim@example.com" }])).await;
    recipient(
        &hub,
        &client,
        "ops",
        json!([{ "type": "SLACK", "address": "https://hooks.slack.com/services/T0/B0/XYZ" }]),
    )
    .await;

    // 1. Order completed → EMAIL to the customer.
    let (status, order) = send(
        &hub,
        &client,
        "order-1001-completed",
        json!({
            "recipientId": "customer-42", "kind": "TRANSACTIONAL",
            "title": "Order completed", "body": "Your order 1001 is complete."
        }),
    )
    .await;
    assert_eq!(status, 202, "{order}");
    // 2. Payment failed → EMAIL to the customer and SLACK to the ops channel.
    let (_, payment_customer) = send(
        &hub,
        &client,
        "payment-77-failed-customer",
        json!({
            "recipientId": "customer-42", "kind": "TRANSACTIONAL", "channels": ["EMAIL"],
            "title": "Payment failed", "body": "We could not charge your card for order 1002."
        }),
    )
    .await;
    let (_, payment_ops) = send(
        &hub,
        &client,
        "payment-77-failed-ops",
        json!({
            "recipientId": "ops", "kind": "SERVICE", "channels": ["SLACK"],
            "title": "Payment failed", "body": "Payment 77 for order 1002 failed: card declined."
        }),
    )
    .await;
    // 3. System outage → SLACK to the ops channel.
    let (_, outage) = send(
        &hub,
        &client,
        "outage-2026-11-22",
        json!({
            "recipientId": "ops", "kind": "SECURITY",
            "title": "Outage", "body": "payments-api is down since 04:12 UTC."
        }),
    )
    .await;

    for (body, channel) in
        [(&order, "EMAIL"), (&payment_customer, "EMAIL"), (&payment_ops, "SLACK"), (&outage, "SLACK")]
    {
        let view = wait_for(&hub, &client, &id_of(body), "COMPLETED", Duration::from_secs(30)).await;
        let deliveries = view["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 1, "{view:#}");
        assert_eq!(deliveries[0]["channel"], channel);
        assert_eq!(deliveries[0]["status"], "SENT");
        assert!(deliveries[0]["vendorMessageId"].as_str().unwrap().starts_with("mock-"));
        assert!(!deliveries[0]["address"].as_str().unwrap().contains("kim@"), "addresses are masked");
    }
}

async fn retries_follow_the_schedule_to_sent_or_to_the_dlq(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let hub = deployment.start(FAST).await;
    let client = Client::new();
    recipient(&hub, &client, "flaky", json!([{ "type": "EMAIL", "address": "fail-once@example.com" }])).await;
    recipient(&hub, &client, "broken", json!([{ "type": "EMAIL", "address": "fail-transient@example.com" }]))
        .await;
    let (_, once) = send(
        &hub,
        &client,
        "k-once",
        json!({ "recipientId": "flaky", "kind": "TRANSACTIONAL", "body": "hi" }),
    )
    .await;
    let (_, always) = send(
        &hub,
        &client,
        "k-always",
        json!({ "recipientId": "broken", "kind": "TRANSACTIONAL", "body": "hi" }),
    )
    .await;

    let view = wait_for(&hub, &client, &id_of(&once), "COMPLETED", Duration::from_secs(30)).await;
    assert_eq!(view["deliveries"][0]["tries"].as_array().unwrap().len(), 2, "SENT on try 2: {view:#}");

    let view = wait_for(&hub, &client, &id_of(&always), "FAILED", Duration::from_secs(45)).await;
    let d = &view["deliveries"][0];
    assert_eq!(d["status"], "EXHAUSTED");
    assert_eq!(d["tries"].as_array().unwrap().len(), 6, "the whole schedule: {view:#}");
}

async fn quiet_hours_defer_and_an_opted_out_kind_is_suppressed(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let hub = deployment.start(FAST).await;
    let client = Client::new();
    let status = put(
        &client,
        format!("{}/api/v1/recipients/night-owl", hub.base),
        json!({ "channels": [{ "type": "EMAIL", "address": "owl@example.com" }], "timezone": "UTC" }),
    )
    .await;
    assert_eq!(status, 201);
    // Quiet hours around the current UTC time.
    let now = chrono::Utc::now();
    let start = (now - chrono::TimeDelta::hours(1)).format("%H:%M").to_string();
    let end = (now + chrono::TimeDelta::hours(1)).format("%H:%M").to_string();
    let status = put(
        &client,
        format!("{}/api/v1/recipients/night-owl/preferences", hub.base),
        json!({ "kinds": { "MARKETING": { "allowed": false } }, "quietHours": { "start": start, "end": end } }),
    )
    .await;
    assert_eq!(status, 200);

    let (status, body) = send(
        &hub,
        &client,
        "k-quiet",
        json!({ "recipientId": "night-owl", "kind": "SERVICE", "body": "later" }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "SCHEDULED");
    assert_eq!(body["deliveries"][0]["reason"], "QUIET_HOURS");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get(&hub, &client, &id_of(&body)).await["status"], "SCHEDULED", "still waiting");

    let (status, body) = send(
        &hub,
        &client,
        "k-optout",
        json!({ "recipientId": "night-owl", "kind": "MARKETING", "body": "sale" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "SUPPRESSED");
    assert_eq!(body["suppressionReason"], "OPTED_OUT");
}

async fn forty_concurrent_posts_with_one_key_make_one_notification(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let hub = deployment.start(FAST).await;
    let client = Client::new();
    recipient(&hub, &client, "alice", json!([{ "type": "EMAIL", "address": "alice@example.com" }])).await;
    let body = json!({ "recipientId": "alice", "kind": "TRANSACTIONAL", "body": "once" });
    let mut handles = Vec::new();
    for _ in 0..40 {
        let (client, base, body) = (client.clone(), hub.base.clone(), body.clone());
        handles.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/notifications"))
                .header("Idempotency-Key", "same-key")
                .json(&body)
                .send()
                .await
                .expect("POST");
            let status = r.status();
            let json: Value = r.json().await.expect("json");
            (status, json)
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for h in handles {
        let (status, json) = h.await.unwrap();
        match status.as_u16() {
            202 => {
                ids.insert(id_of(&json));
            }
            409 => assert_eq!(json["code"], "IDEMPOTENCY_IN_FLIGHT"),
            other => panic!("unexpected {other}: {json}"),
        }
    }
    assert_eq!(ids.len(), 1, "every 202 names the same notification");
    let list: Value = client
        .get(format!("{}/api/v1/notifications?recipientId=alice", hub.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list:#}");
}

async fn a_killed_process_loses_nothing_it_accepted(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let env = [
        ("NH_RETRY_SCHEDULE", "100ms,100ms,100ms,100ms,100ms"),
        ("NH_MOCK_VENDOR_LATENCY", "1s"),
        ("NH_DISPATCH_LEASE", "1s"),
        ("NH_WORKER_CONCURRENCY", "2"),
    ];
    let mut hub = deployment.start(&env).await;
    let client = Client::new();
    recipient(&hub, &client, "bob", json!([{ "type": "EMAIL", "address": "bob@example.com" }])).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let (status, body) = send(
            &hub,
            &client,
            &format!("crash-{i}"),
            json!({ "recipientId": "bob", "kind": "TRANSACTIONAL", "body": "x" }),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        ids.push(id_of(&body));
    }
    // Some dispatches are in flight (1 s vendor latency), most are queued in memory.
    tokio::time::sleep(Duration::from_millis(300)).await;
    hub.kill9();
    hub.restart().await;
    for id in &ids {
        wait_for(&hub, &client, id, "COMPLETED", Duration::from_secs(60)).await;
    }
}

async fn sigterm_drains_and_exits_zero(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let mut hub = deployment.start(&[("NH_MOCK_VENDOR_LATENCY", "300ms")]).await;
    let client = Client::new();
    recipient(&hub, &client, "carol", json!([{ "type": "EMAIL", "address": "carol@example.com" }])).await;
    let (status, body) = send(
        &hub,
        &client,
        "term-1",
        json!({ "recipientId": "carol", "kind": "TRANSACTIONAL", "body": "x" }),
    )
    .await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let exit = hub.terminate(Duration::from_secs(30));
    assert!(exit.success(), "exit status {exit}; log:\n{}", hub.log_text());
    hub.restart().await;
    wait_for(&hub, &client, &id_of(&body), "COMPLETED", Duration::from_secs(20)).await;
}

async fn an_operator_replays_and_discards_a_dead_letter(stack: Stack) {
    const TOKEN: &str = "e2e-admin-token-7f3a9c";
    let mut deployment = stack.deployment().await;
    let mut env = FAST.to_vec();
    env.push(("NH_ADMIN_TOKEN", TOKEN));
    let hub = deployment.start(&env).await;
    let client = Client::new();
    let admin = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{}/api/v1/admin{path}", hub.base)).header("X-Admin-Token", TOKEN)
    };
    recipient(&hub, &client, "broken", json!([{ "type": "EMAIL", "address": "fail-transient@example.com" }]))
        .await;
    let (_, sent) = send(
        &hub,
        &client,
        "k-dlq",
        json!({ "recipientId": "broken", "kind": "TRANSACTIONAL", "body": "hi" }),
    )
    .await;
    let view = wait_for(&hub, &client, &id_of(&sent), "FAILED", Duration::from_secs(45)).await;
    let delivery = view["deliveries"][0]["deliveryId"].as_str().unwrap().to_owned();

    let anonymous = client.get(format!("{}/api/v1/admin/dlq", hub.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let list: Value = admin(reqwest::Method::GET, "/dlq").send().await.unwrap().json().await.unwrap();
    let listed: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|i| i["deliveryId"].as_str().unwrap()).collect();
    assert_eq!(listed, [delivery.as_str()], "{list:#}");
    let detail: Value =
        admin(reqwest::Method::GET, &format!("/dlq/{delivery}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(detail["tries"].as_array().unwrap().len(), 6, "{detail:#}");
    assert_eq!(detail["maxTries"], 6);

    let replay = admin(reqwest::Method::POST, &format!("/dlq/{delivery}/replay")).send().await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.json::<Value>().await.unwrap()["status"], "PENDING");
    // It runs the whole schedule again and ends in the DLQ again, its history kept.
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    loop {
        let d: Value = admin(reqwest::Method::GET, &format!("/dlq/{delivery}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if d["status"] == "EXHAUSTED" {
            assert_eq!(d["tries"].as_array().unwrap().len(), 12, "{d:#}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not EXHAUSTED again: {d:#}\nlog:\n{}", hub.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let discard = admin(reqwest::Method::POST, &format!("/dlq/{delivery}/discard"))
        .json(&json!({ "reason": "mailbox does not exist" }))
        .send()
        .await
        .unwrap();
    assert_eq!(discard.status(), 200);
    assert_eq!(discard.json::<Value>().await.unwrap()["status"], "DISCARDED");
    let again = admin(reqwest::Method::POST, &format!("/dlq/{delivery}/replay")).send().await.unwrap();
    assert_eq!(again.status(), 409);

    let audit: Value = admin(reqwest::Method::GET, "/audit").send().await.unwrap().json().await.unwrap();
    let actions: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("DLQ_REPLAY", "REJECTED: ILLEGAL_DLQ_OPERATION"),
            ("DLQ_DISCARD", "OK: DISCARDED"),
            ("DLQ_REPLAY", "OK: PENDING")
        ],
        "{audit:#}"
    );
}

async fn a_signed_vendor_callback_marks_the_delivery_delivered_once(stack: Stack) {
    let mut deployment = stack.deployment().await;
    let secrets = callback_secrets();
    let mut env = FAST.to_vec();
    env.push(("NH_CALLBACK_SECRETS", &secrets));
    let hub = deployment.start(&env).await;
    let client = Client::new();
    recipient(&hub, &client, "dora", json!([{ "type": "EMAIL", "address": "dora@example.com" }])).await;
    let (status, body) = send(
        &hub,
        &client,
        "callback-1",
        json!({ "recipientId": "dora", "kind": "TRANSACTIONAL", "body": "receipt" }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let view = wait_for(&hub, &client, &id_of(&body), "COMPLETED", Duration::from_secs(30)).await;
    let delivery = &view["deliveries"][0];
    assert_eq!(delivery["status"], "SENT", "{view:#}");
    let delivery_id = delivery["deliveryId"].as_str().expect("deliveryId");
    let vendor_message_id = delivery["vendorMessageId"].as_str().expect("vendorMessageId");

    // A wrong key is refused and changes nothing.
    let report = json!({ "vendorMessageId": vendor_message_id, "status": "DELIVERED" }).to_string();
    let (status, problem) = post_callback(&hub, &client, "msg_e2e_1", b"not the key", &report).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("INVALID_SIGNATURE")), "{problem}");

    let (status, answer) = post_callback(&hub, &client, "msg_e2e_1", CALLBACK_KEY, &report).await;
    assert_eq!(status, 200, "{answer}\nlog:\n{}", hub.log_text());
    assert_eq!(answer, json!({ "result": "APPLIED", "deliveryStatus": "DELIVERED" }));
    let after = get(&hub, &client, &id_of(&body)).await;
    assert_eq!(after["deliveries"][0]["status"], "DELIVERED", "{after:#}");
    assert_eq!(after["deliveries"][0]["deliveryId"], delivery_id);

    // The vendor sends the same webhook again: 200, nothing changes.
    let (status, answer) = post_callback(&hub, &client, "msg_e2e_1", CALLBACK_KEY, &report).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], "REPLAYED");
    assert_eq!(get(&hub, &client, &id_of(&body)).await, after, "the replay changed nothing");
}

e2e_tests::on_both_stacks!(
    the_three_mvp_scenarios_complete_over_http,
    retries_follow_the_schedule_to_sent_or_to_the_dlq,
    quiet_hours_defer_and_an_opted_out_kind_is_suppressed,
    forty_concurrent_posts_with_one_key_make_one_notification,
    a_killed_process_loses_nothing_it_accepted,
    sigterm_drains_and_exits_zero,
    an_operator_replays_and_discards_a_dead_letter,
    a_signed_vendor_callback_marks_the_delivery_delivered_once,
);
