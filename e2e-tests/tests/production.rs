//! Black-box checks that only the production backend set can make (SPEC §2, §4): several
//! replicas sharing PostgreSQL, Redis and Kafka, split roles, `notification-hub migrate`, and a
//! Redis outage answered with 503 instead of a silent bypass.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::api::{FAST, id_of, recipient, send, wait_for};
use e2e_tests::{Stack, binary};
use reqwest::Client;
use serde_json::{Value, json};

/// 40 POSTs with one key, spread over two replicas: one notification, every 202 names it.
#[tokio::test]
async fn one_key_makes_one_notification_across_replicas() {
    let mut deployment = Stack::Production.deployment().await;
    let a = deployment.start(FAST).await;
    let b = deployment.start(FAST).await;
    let client = Client::new();
    recipient(&a, &client, "alice", json!([{ "type": "EMAIL", "address": "alice@example.com" }])).await;
    let body = json!({ "recipientId": "alice", "kind": "TRANSACTIONAL", "body": "once" });
    let mut handles = Vec::new();
    for i in 0..40 {
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        let (client, body) = (client.clone(), body.clone());
        handles.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/notifications"))
                .header("Idempotency-Key", "shared-key")
                .json(&body)
                .send()
                .await
                .expect("POST");
            (r.status().as_u16(), r.json::<Value>().await.expect("JSON"))
        }));
    }
    let mut ids = BTreeSet::new();
    for h in handles {
        match h.await.expect("task") {
            (202, json) => {
                ids.insert(id_of(&json));
            }
            (409, json) => assert_eq!(json["code"], "IDEMPOTENCY_IN_FLIGHT", "{json}"),
            (other, json) => panic!("unexpected {other}: {json}"),
        }
    }
    assert_eq!(ids.len(), 1, "every 202 names the same notification: {ids:?}");
    let id = ids.into_iter().next().expect("one id");
    wait_for(&b, &client, &id, "COMPLETED", Duration::from_secs(30)).await;
}

/// Notifications accepted by two replicas that both relay and dispatch: each completes, and
/// each delivery is sent exactly once (no replica claims another's delivery).
#[tokio::test]
async fn replicas_share_the_work_without_sending_twice() {
    let mut deployment = Stack::Production.deployment().await;
    // The buckets are shared too (Redis): 60 e-mails to one recipient need a roomy one.
    let env = [("NH_RETRY_SCHEDULE", "100ms,100ms,100ms,100ms,100ms"), ("NH_RATE_LIMITS", "EMAIL=1000/60s")];
    let a = deployment.start(&env).await;
    let b = deployment.start(&env).await;
    let client = Client::new();
    recipient(&a, &client, "bob", json!([{ "type": "EMAIL", "address": "bob@example.com" }])).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let hub = if i % 2 == 0 { &a } else { &b };
        let (status, body) = send(
            hub,
            &client,
            &format!("share-{i}"),
            json!({ "recipientId": "bob", "kind": "TRANSACTIONAL", "body": format!("n{i}") }),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        ids.push(id_of(&body));
    }
    for id in &ids {
        let view = wait_for(&a, &client, id, "COMPLETED", Duration::from_secs(60)).await;
        let tries = view["deliveries"][0]["tries"].as_array().expect("tries").len();
        assert_eq!(tries, 1, "sent exactly once: {view:#}");
    }
}

/// An API-only replica accepts; a relay + worker replica elsewhere delivers (the outbox and
/// its NOTIFY cross processes).
#[tokio::test]
async fn split_roles_deliver_what_the_api_replica_accepted() {
    let mut deployment = Stack::Production.deployment().await;
    let api = deployment.start(&[("NH_ROLES", "api")]).await;
    let _workers = deployment.start(&[("NH_ROLES", "relay,worker")]).await;
    let client = Client::new();
    recipient(&api, &client, "carol", json!([{ "type": "SMS", "address": "+821012345678" }])).await;
    let started = Instant::now();
    let (status, body) = send(
        &api,
        &client,
        "split-1",
        json!({ "recipientId": "carol", "kind": "TRANSACTIONAL", "body": "code 1234" }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let view = wait_for(&api, &client, &id_of(&body), "COMPLETED", Duration::from_secs(30)).await;
    assert_eq!(view["deliveries"][0]["channel"], "SMS");
    assert!(started.elapsed() < Duration::from_secs(30));
}

fn migrate(env: &[(String, String)]) -> std::process::Output {
    Command::new(binary())
        .arg("migrate")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("run notification-hub migrate")
}

/// `notification-hub migrate` applies the schema to an empty database, and again is a no-op;
/// a replica told not to migrate then starts on it.
#[tokio::test]
async fn migrate_applies_the_schema_once_and_is_idempotent() {
    let mut deployment = Stack::Production.deployment().await;
    for round in ["first", "second"] {
        let out = migrate(deployment.env());
        assert!(
            out.status.success(),
            "{round} migrate failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let hub = deployment.start(&[("NH_DATABASE_MIGRATE_ON_START", "false")]).await;
    let client = Client::new();
    recipient(&hub, &client, "dave", json!([{ "type": "EMAIL", "address": "dave@example.com" }])).await;
}

/// A Redis server of the test's own, so it can be stopped and started on the same port.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let mut redis = OwnRedis { port, child: None };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (run `make test`: scripts/test-services.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Redis down: sends answer 503 DEPENDENCY_UNAVAILABLE quickly (never accepted unchecked) and
/// readiness says so; Redis back on the same address: sends are accepted again.
#[tokio::test]
async fn a_redis_outage_answers_503_and_recovers() {
    let mut redis = OwnRedis::start();
    let mut deployment = Stack::Production.deployment().await;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let hub = deployment.start(&[("NH_REDIS_URL", url.as_str())]).await;
    let client = Client::new();
    recipient(&hub, &client, "erin", json!([{ "type": "EMAIL", "address": "erin@example.com" }])).await;
    let body = json!({ "recipientId": "erin", "kind": "TRANSACTIONAL", "body": "x" });
    let (status, first) = send(&hub, &client, "redis-1", body.clone()).await;
    assert_eq!(status, 202, "{first}");

    redis.stop();
    let started = Instant::now();
    let (status, problem) = send(&hub, &client, "redis-2", body.clone()).await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["code"], "DEPENDENCY_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(5), "answered in {:?}", started.elapsed());
    let ready = client.get(format!("{}/health/ready", hub.base)).send().await.expect("ready");
    assert_eq!(ready.status(), 503);

    redis.spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = send(&hub, &client, "redis-2", body.clone()).await;
        if status == 202 {
            wait_for(&hub, &client, &id_of(&answer), "COMPLETED", Duration::from_secs(30)).await;
            break;
        }
        assert!(Instant::now() < deadline, "not accepted again after Redis came back: {status} {answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for(&hub, &client, &id_of(&first), "COMPLETED", Duration::from_secs(30)).await;
}

/// A Kafka mock cluster of the test's own (`kafka-mock --control`), whose brokers the test can
/// take down and bring back through its standard input.
struct OwnKafka {
    child: Child,
    brokers: String,
}

impl OwnKafka {
    fn start() -> OwnKafka {
        use std::io::BufRead;
        let bin = binary().with_file_name("kafka-mock");
        let mut child = Command::new(&bin)
            .arg("--control")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} ({e}): build it with `cargo build -p e2e-tests`", bin.display()));
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
        let brokers = line.trim().strip_prefix("KAFKA_BROKERS=").expect("KAFKA_BROKERS=… line").to_owned();
        OwnKafka { child, brokers }
    }

    fn command(&mut self, what: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{what}").and_then(|()| stdin.flush()).expect("control the mock cluster");
    }
}

impl Drop for OwnKafka {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kafka down: sends still answer 202 (the work waits in the outbox); Kafka back: every one of
/// them is delivered.
#[tokio::test]
async fn a_kafka_outage_keeps_accepting_and_delivers_afterwards() {
    let mut kafka = OwnKafka::start();
    let mut deployment = Stack::Production.deployment().await;
    let hub = deployment.start(&[("NH_KAFKA_BROKERS", kafka.brokers.as_str())]).await;
    let client = Client::new();
    recipient(&hub, &client, "frank", json!([{ "type": "EMAIL", "address": "frank@example.com" }])).await;
    let body = |i: usize| json!({ "recipientId": "frank", "kind": "TRANSACTIONAL", "body": format!("m{i}") });
    let (status, first) = send(&hub, &client, "kafka-0", body(0)).await;
    assert_eq!(status, 202, "{first}");
    wait_for(&hub, &client, &id_of(&first), "COMPLETED", Duration::from_secs(30)).await;

    kafka.command("down");
    let mut ids = Vec::new();
    for i in 1..=5 {
        let started = Instant::now();
        let (status, answer) = send(&hub, &client, &format!("kafka-{i}"), body(i)).await;
        assert_eq!(status, 202, "accepted while Kafka is down: {answer}");
        assert!(started.elapsed() < Duration::from_secs(2), "answered in {:?}", started.elapsed());
        ids.push(id_of(&answer));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    kafka.command("up");
    for id in &ids {
        wait_for(&hub, &client, id, "COMPLETED", Duration::from_secs(90)).await;
    }
}

/// The token buckets live in Redis: replicas share them, so a recipient's EMAIL bucket of 3
/// allows 3 sends in all, whichever replica takes them.
#[tokio::test]
async fn replicas_share_the_rate_limit_buckets() {
    let mut deployment = Stack::Production.deployment().await;
    let env = [("NH_RATE_LIMITS", "EMAIL=3/60s")];
    let a = deployment.start(&env).await;
    let b = deployment.start(&env).await;
    let client = Client::new();
    recipient(&a, &client, "gina", json!([{ "type": "EMAIL", "address": "gina@example.com" }])).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let hub = if i % 2 == 0 { &a } else { &b };
        let (status, body) = send(
            hub,
            &client,
            &format!("bucket-{i}"),
            json!({ "recipientId": "gina", "kind": "TRANSACTIONAL", "body": "x" }),
        )
        .await;
        if status == 429 {
            assert_eq!(body["code"], "RATE_LIMITED", "{body}");
        }
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 429, 429, 429], "one bucket across both replicas");
}
