//! Fixtures shared by the SQLite store tests: temp-file stores, record builders, and an `App`
//! wired to either the SQLite store or the in-memory fake (the oracle).
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use chrono::TimeDelta;
use chrono::{DateTime, Utc};
use hub_adapter_out::sqlite::SqliteStore;
pub use hub_application::fakes::AllStores;
use hub_application::fakes::{
    FakeParts, InMemoryQueue, InMemoryStore, ManualClock, RecordingSender, deps_over, drain,
};
use hub_application::ports::{
    AcceptKey, DeliveryRecord, DeliveryStore, DeliveryUpdate, Expectation, NewNotification,
    NotificationRecord, OutboxEvent, UpdateOutcome,
};
use hub_application::{App, Settings};
use hub_domain::delivery::{DeliveryState, DeliveryStatus, ErrorClass, Try, TryOutcome};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use hub_domain::{
    Address, Channel, DeliveryId, EventId, Kind, NotificationId, Priority, RecipientId, Target,
};
use tempfile::TempDir;

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("rfc3339").to_utc()
}

pub fn rid(s: &str) -> RecipientId {
    RecipientId::parse(s).expect("recipient id")
}

/// A fresh store in its own temporary folder (kept alive by the returned `TempDir`).
pub async fn temp_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("hub.db")).await.expect("open store");
    (dir, store)
}

pub fn ntf(n: u128) -> NotificationId {
    NotificationId::from_parts(1_700_000_000_000, n)
}

pub fn dlv(n: u128) -> DeliveryId {
    DeliveryId::from_parts(1_700_000_000_000, n)
}

pub fn evt(n: u128) -> EventId {
    EventId::from_parts(1_700_000_000_000, n)
}

pub fn email(text: &str) -> Target {
    Target::Address(Address::parse(Channel::Email, text).expect("email"))
}

/// A PENDING EMAIL delivery due at `created_at`.
pub fn delivery(id: DeliveryId, notification: NotificationId, created_at: DateTime<Utc>) -> DeliveryRecord {
    DeliveryRecord {
        id,
        notification_id: notification,
        recipient_id: rid("alice"),
        channel: Channel::Email,
        target: email("alice@example.com"),
        priority: Priority::Normal,
        state: DeliveryState::pending(created_at),
        defer_reason: None,
        fallback_for: None,
        title: Some("Hello".into()),
        body: "Your order shipped".into(),
        lms: false,
        tries: Vec::new(),
        vendor_message_id: None,
        last_error_class: None,
        exhausted_at: None,
        discard_reason: None,
        queued_at: Some(created_at),
        created_at,
        updated_at: created_at,
    }
}

pub fn notification_record(id: NotificationId, created_at: DateTime<Utc>) -> NotificationRecord {
    NotificationRecord {
        id,
        recipient_id: rid("alice"),
        kind: Kind::Transactional,
        priority: Priority::Normal,
        created_at,
        metadata: None,
        expires_at: None,
        skipped: Vec::new(),
    }
}

pub fn outbox_event(id: EventId, d: &DeliveryRecord) -> OutboxEvent {
    OutboxEvent {
        id,
        delivery_id: d.id,
        notification_id: d.notification_id,
        channel: d.channel,
        priority: d.priority,
        attempt: 1,
        created_at: d.created_at,
        publish_attempts: 0,
        next_attempt_at: d.created_at,
    }
}

pub fn key(scope: &str, key: &str, body: &str) -> AcceptKey {
    AcceptKey {
        scope: scope.into(),
        key: IdempotencyKey::parse(key).expect("key"),
        fingerprint: Fingerprint::of_json(&serde_json::json!({ "body": body })),
    }
}

/// Notification `n` with one delivery (id `n`) and its outbox row (id `n`), under key `k{n}`.
pub fn new_notification(n: u128, created_at: DateTime<Utc>) -> NewNotification {
    let d = delivery(dlv(n), ntf(n), created_at);
    let e = outbox_event(evt(n), &d);
    NewNotification {
        key: Some(key("default", &format!("k{n}"), &format!("body {n}"))),
        notification: notification_record(ntf(n), created_at),
        deliveries: vec![d],
        outbox: vec![e],
    }
}

/// An `App` over a store, with the same deterministic fakes for everything else as `FakeHub`.
#[derive(Debug, Clone)]
pub struct Harness {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub sender: Arc<RecordingSender>,
    pub queue: Arc<InMemoryQueue>,
}

impl Harness {
    /// The app over `store`, the clock at 2026-01-15T03:00:00Z (12:00 in Seoul) like `FakeHub`.
    pub fn new<S: AllStores>(store: Arc<S>) -> Self {
        let parts = FakeParts::new();
        let deps = deps_over(store, &parts);
        Harness {
            app: App::new(deps, Settings::default()),
            clock: parts.clock,
            sender: parts.sender,
            queue: parts.queue,
        }
    }

    /// An app over the in-memory fake store (the oracle).
    pub fn in_memory() -> (Self, Arc<InMemoryStore>) {
        let store = Arc::new(InMemoryStore::new());
        (Harness::new(store.clone()), store)
    }

    /// Runs the due scheduler, relay and consumers until nothing moves, like `FakeHub::drain`.
    pub async fn drain(&self) -> usize {
        drain(&self.app).await
    }
}

pub fn t0() -> DateTime<Utc> {
    at("2026-01-15T03:00:00Z")
}

pub fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

pub fn failed_try(at: DateTime<Utc>, class: ErrorClass) -> Try {
    Try {
        at,
        outcome: TryOutcome::Failed,
        error_class: Some(class),
        vendor_code: Some("550".into()),
        detail: Some("mailbox unavailable".into()),
        latency_ms: Some(42),
    }
}

/// Claims delivery `n` and fails it permanently at `at` (→ EXHAUSTED, in the DLQ).
pub async fn exhaust<S: DeliveryStore>(store: &S, n: u128, at: DateTime<Utc>, class: ErrorClass) {
    let claimed = store.claim(dlv(n), at, at + secs(60)).await.unwrap().expect("claimable");
    let mut update = DeliveryUpdate::state(DeliveryState {
        status: DeliveryStatus::Exhausted,
        lease_until: None,
        ..claimed.state
    });
    update.push_try = Some(failed_try(at, class));
    update.last_error_class = Some(class);
    let expected = Expectation { status: DeliveryStatus::Dispatching, tries: claimed.state.tries };
    assert!(matches!(store.update(dlv(n), expected, update, at).await.unwrap(), UpdateOutcome::Applied(_)));
}
