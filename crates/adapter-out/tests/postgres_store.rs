//! PostgreSQL store behaviour beyond the port contract: concurrent replicas, the NOTIFY
//! wake-up, reversible migrations and bounded waits during an outage. Each test uses its own
//! schema of the server named by `NH_TEST_DATABASE_URL`.

mod postgres_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hub_adapter_out::postgres::{MIGRATOR, PgSettings, PgStore};
use hub_application::contract::fixtures::{
    accept_key, at, bulk_job, delivery, new_notification, notification, outbox_event, t0,
};
use hub_application::error::PortError;
use hub_application::ports::{
    AcceptOutcome, DeliveryStore, HealthProbe, JobStore, NewNotification, NotificationStore, Outbox,
};
use hub_domain::{Channel, DeliveryId, EventId, Kind};
use postgres_support::{OUTAGE_BOUND, closed_port, fresh_schema, fresh_store, store_on, test_settings};
use sqlx::{Connection, PgConnection};

/// Notification `n` with `count` EMAIL deliveries (numbered `n * 1000 + i`), each with an
/// outbox row when `outbox` (else never queued, for the due scheduler).
fn batch(n: u128, count: u128, outbox: bool) -> NewNotification {
    let record = notification(n, "alice", Kind::Transactional, t0());
    let deliveries: Vec<_> = (0..count).map(|i| delivery(&record, n * 1000 + i, Channel::Email)).collect();
    let events = if outbox {
        deliveries.iter().zip(0..).map(|(d, i)| outbox_event(d, n * 1000 + i, t0())).collect()
    } else {
        Vec::new()
    };
    NewNotification { outbox: events, ..new_notification(record, deliveries) }
}

async fn accepted(store: &PgStore, new: NewNotification) {
    assert_eq!(store.accept(new).await.expect("accept"), AcceptOutcome::Accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_outbox_claimers_get_disjoint_rows() {
    let options = fresh_schema().await;
    let a = store_on(options.clone()).await;
    let b = store_on(options).await;
    accepted(&a, batch(1, 200, true)).await;

    let claimer = |store: PgStore| {
        tokio::spawn(async move {
            let mut claimed: Vec<EventId> = Vec::new();
            loop {
                let rows = Outbox::claim(&store, at(1), at(600), 7).await.expect("claim");
                if rows.is_empty() {
                    return claimed;
                }
                claimed.extend(rows.iter().map(|e| e.id));
            }
        })
    };
    let (left, right) = tokio::join!(claimer(a.clone()), claimer(b));
    let (left, right) = (left.expect("claimer a"), right.expect("claimer b"));
    let left_set: BTreeSet<EventId> = left.iter().copied().collect();
    let right_set: BTreeSet<EventId> = right.iter().copied().collect();
    assert_eq!(left_set.len(), left.len(), "a claimer never gets a row twice");
    assert_eq!(right_set.len(), right.len(), "a claimer never gets a row twice");
    assert!(left_set.is_disjoint(&right_set), "two claimers never get the same row");
    assert_eq!(left.len() + right.len(), 200, "together they claimed every row");
    assert_eq!(a.backlog().await.expect("backlog").0, 200, "claimed rows stay unpublished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_due_schedulers_never_queue_a_delivery_twice() {
    let options = fresh_schema().await;
    let a = store_on(options.clone()).await;
    let b = store_on(options).await;
    accepted(&a, batch(1, 150, false)).await;

    let scheduler = |store: PgStore| {
        tokio::spawn(async move {
            let mut queued = 0;
            loop {
                let n = store.enqueue_due(at(10), at(-290), 8).await.expect("enqueue_due");
                if n == 0 {
                    return queued;
                }
                queued += n;
            }
        })
    };
    let (left, right) = tokio::join!(scheduler(a.clone()), scheduler(b));
    assert_eq!(left.expect("a") + right.expect("b"), 150, "every due delivery queued exactly once");

    let rows = Outbox::claim(&a, at(10), at(40), 1000).await.expect("claim");
    let deliveries: BTreeSet<DeliveryId> = rows.iter().map(|e| e.delivery_id).collect();
    assert_eq!((rows.len(), deliveries.len()), (150, 150), "one outbox row per delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_accepts_of_one_key_store_one_notification() {
    let store = fresh_store().await;
    let mut first = batch(1, 1, true);
    first.key = Some(accept_key("shop", "order-1", "body"));
    let mut second = batch(2, 1, true);
    second.key = Some(accept_key("shop", "order-1", "body"));
    let (x, y) = tokio::join!(store.accept(first), store.accept(second));
    let mut outcomes = [x.expect("accept"), y.expect("accept")];
    outcomes.sort_by_key(|o| matches!(o, AcceptOutcome::DuplicateKey { .. }));
    assert_eq!(outcomes[0], AcceptOutcome::Accepted, "one of them is stored");
    assert!(matches!(outcomes[1], AcceptOutcome::DuplicateKey { .. }), "the other names it: {outcomes:?}");
    assert_eq!(store.backlog().await.expect("backlog").0, 1, "one outbox row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_job_runners_never_lease_the_same_job() {
    let options = fresh_schema().await;
    let a = store_on(options.clone()).await;
    let b = store_on(options).await;
    a.create(&bulk_job(1, t0())).await.expect("create job");
    let (x, y) = tokio::join!(a.claim_runnable(at(1), at(60)), b.claim_runnable(at(1), at(60)));
    let leased = [x.expect("claim"), y.expect("claim")].into_iter().flatten().count();
    assert_eq!(leased, 1, "exactly one runner leases the job");
}

/// Waits for a permit of `signal` for up to `within`.
async fn woken(signal: &tokio::sync::Notify, within: Duration) -> bool {
    tokio::time::timeout(within, signal.notified()).await.is_ok()
}

#[tokio::test]
async fn a_commit_with_outbox_rows_wakes_the_outbox_signal_of_every_replica() {
    let options = fresh_schema().await;
    let relay = store_on(options.clone()).await;
    let writer = store_on(options).await;
    let signal = relay.outbox_signal();
    // The listener gives one permit once subscribed (anything earlier would have been missed).
    assert!(woken(&signal, Duration::from_secs(5)).await, "the listener subscribes and signals once");

    // (No check that a commit without outbox rows stays silent: NOTIFY is database-wide, and
    // the tests running in other schemas of the test database notify the same channel.)
    accepted(&writer, batch(1, 1, false)).await;
    accepted(&writer, batch(2, 3, true)).await;
    assert!(woken(&signal, Duration::from_secs(5)).await, "an accept with outbox rows wakes the relay");

    // The four deliveries above were never queued: the scheduler queues them now.
    assert_eq!(writer.enqueue_due(at(10), at(-290), 10).await.expect("enqueue_due"), 4);
    assert!(woken(&signal, Duration::from_secs(5)).await, "the due scheduler's rows wake the relay");
    relay.close().await;
}

#[tokio::test]
async fn the_outbox_listener_subscribes_again_after_losing_its_connection_and_signals_once() {
    let name = format!("nh-listener-{:016x}", rand::random::<u64>());
    let options = fresh_schema().await.application_name(&name);
    let relay = store_on(options.clone()).await;
    let signal = relay.outbox_signal();
    assert!(woken(&signal, Duration::from_secs(5)).await, "subscribed");

    // The server ends the listening session (as on a failover or a restart).
    let mut admin = PgConnection::connect_with(&options).await.expect("connect");
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(&name)
    .fetch_all(&mut admin)
    .await
    .expect("terminate the listener");
    assert_eq!(ended, vec![true], "one listening session");
    admin.close().await.expect("close");

    assert!(woken(&signal, Duration::from_secs(5)).await, "a permit once subscribed again");
    accepted(&store_on(options).await, batch(1, 1, true)).await;
    assert!(woken(&signal, Duration::from_secs(5)).await, "and commits wake it again");
}

#[tokio::test]
async fn migrations_go_down_to_nothing_and_up_again() {
    let options = fresh_schema().await;
    let store = store_on(options.clone()).await;
    accepted(&store, batch(1, 2, true)).await;

    let mut conn = PgConnection::connect_with(&options).await.expect("connect");
    MIGRATOR.undo(&mut conn, 0).await.expect("every migration reverts");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
         ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables");
    assert_eq!(tables, vec!["_sqlx_migrations".to_owned()], "only the migration ledger is left");
    let functions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count functions");
    assert_eq!(functions, 0, "the audit trigger function went too");
    conn.close().await.expect("close");

    store.migrate().await.expect("migrations apply again");
    store.migrate().await.expect("and are then a no-op");
    accepted(&store, batch(1, 2, true)).await;
    assert_eq!(store.backlog().await.expect("backlog").0, 2, "the schema works again");
}

#[tokio::test]
async fn an_unreachable_server_answers_unavailable_within_the_bound() {
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", closed_port());
    let started = Instant::now();
    let result = PgStore::connect(&url, test_settings()).await;
    assert!(matches!(result, Err(PortError::Unavailable(_))), "connect: {result:?}");
    assert!(started.elapsed() < OUTAGE_BOUND, "answered after {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_answers_unavailable_within_the_bound() {
    let options = fresh_schema().await;
    fresh_store_on_proxy_then_outage(options).await;
}

async fn fresh_store_on_proxy_then_outage(options: sqlx::postgres::PgConnectOptions) {
    // The store talks to the server through a proxy the test can cut, like a server that stops.
    let proxy = proxy::Proxy::start(options.get_host(), options.get_port()).await;
    let store = store_on(options.clone().host("127.0.0.1").port(proxy.port())).await;
    accepted(&store, batch(1, 1, true)).await;
    assert!(store.check().await.is_ok(), "healthy while the server is there");

    proxy.cut();
    let bounded = |what: &str, started: Instant, unavailable: bool| {
        assert!(unavailable, "{what} must answer Unavailable");
        assert!(started.elapsed() < OUTAGE_BOUND, "{what} answered after {:?}", started.elapsed());
    };
    let started = Instant::now();
    let result = Outbox::claim(&store, at(1), at(30), 10).await;
    bounded("an outbox claim", started, matches!(result, Err(PortError::Unavailable(_))));
    let started = Instant::now();
    let result = store.accept(batch(2, 1, true)).await;
    bounded("an accept", started, matches!(result, Err(PortError::Unavailable(_))));
    let started = Instant::now();
    let result = store.check().await;
    bounded("the health check", started, matches!(result, Err(PortError::Unavailable(_))));
}

#[tokio::test]
async fn a_statement_stuck_on_a_lock_answers_unavailable_after_the_statement_timeout() {
    let options = fresh_schema().await;
    let settings = PgSettings { statement_timeout: Some(Duration::from_millis(300)), ..test_settings() };
    let store = PgStore::connect_with(options.clone(), settings).await.expect("connect");
    store.migrate().await.expect("migrate");
    accepted(&store, batch(1, 1, false)).await;

    // Another session holds the delivery's row lock and does not let go.
    let mut holder = PgConnection::connect_with(&options).await.expect("connect");
    sqlx::query("BEGIN").execute(&mut holder).await.expect("begin");
    sqlx::query("SELECT 1 FROM deliveries FOR UPDATE").execute(&mut holder).await.expect("lock");

    let id = delivery(&notification(1, "alice", Kind::Transactional, t0()), 1000, Channel::Email).id;
    let started = Instant::now();
    let result = DeliveryStore::claim(&store, id, at(1), at(30)).await;
    assert!(matches!(result, Err(PortError::Unavailable(_))), "claim behind a lock: {result:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "cancelled after {:?}", started.elapsed());

    sqlx::query("ROLLBACK").execute(&mut holder).await.expect("rollback");
    let claimed = DeliveryStore::claim(&store, id, at(1), at(30)).await.expect("claim");
    assert!(claimed.is_some(), "claimable once the lock is gone");
}

/// A TCP proxy whose connections (and listening socket) the test can cut at once.
mod proxy {
    use std::sync::{Arc, Mutex};

    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    #[derive(Debug)]
    pub(super) struct Proxy {
        port: u16,
        tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    }

    impl Proxy {
        pub(super) async fn start(host: &str, port: u16) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
            let local = listener.local_addr().expect("proxy address").port();
            let upstream = format!("{host}:{port}");
            let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
            let registry = tasks.clone();
            let accept = tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let upstream = upstream.clone();
                    let pipe = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    registry.lock().expect("registry").push(pipe);
                }
            });
            tasks.lock().expect("registry").push(accept);
            Proxy { port: local, tasks }
        }

        pub(super) fn port(&self) -> u16 {
            self.port
        }

        /// Closes the listening socket and every open connection.
        pub(super) fn cut(&self) {
            for task in self.tasks.lock().expect("registry").drain(..) {
                task.abort();
            }
        }
    }
}
