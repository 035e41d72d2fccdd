//! Black-box walks of SPEC §2–§5 on both backend sets: the built binary on a free port, on the
//! embedded default (its own SQLite file) and on PostgreSQL + Redis + Kafka
//! (`e2e_tests::backends`), driven over HTTP only. Every scenario runs once per stack
//! (`embedded::…` and `production::…`).

use std::time::Duration;

use e2e_tests::Stack;
use e2e_tests::api::{FAST, get, id_of, put, recipient, send, wait_for};
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

/// One `#[tokio::test]` per scenario and stack.
macro_rules! on_both_stacks {
    ($($scenario:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(e2e_tests::Stack::Embedded).await;
                }
            )+
        }
        mod production {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(e2e_tests::Stack::Production).await;
                }
            )+
        }
    };
}

on_both_stacks!(
    the_three_mvp_scenarios_complete_over_http,
    retries_follow_the_schedule_to_sent_or_to_the_dlq,
    quiet_hours_defer_and_an_opted_out_kind_is_suppressed,
    forty_concurrent_posts_with_one_key_make_one_notification,
    a_killed_process_loses_nothing_it_accepted,
    sigterm_drains_and_exits_zero,
);
