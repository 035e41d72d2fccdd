//! In-memory fakes of every port (feature `test-util`), used by the use-case tests here and
//! by the driving adapters' tests. They keep each port's documented contract, including
//! atomicity (one mutex per fake), and can be switched to "unavailable" to test 503 paths.

mod clock;
mod idempotency;
mod metrics;
mod queue;
mod rate_limiter;
mod sender;
mod store;

use std::sync::Arc;

pub use clock::{ManualClock, SequenceEntropy};
pub use idempotency::InMemoryIdempotency;
pub use metrics::RecordingMetrics;
pub use queue::InMemoryQueue;
pub use rate_limiter::InMemoryRateLimiter;
pub use sender::{RecordingSender, ScriptedOutcome};
pub use store::InMemoryStore;

use crate::ports::{
    AuditLog, CallbackLog, DeliveryStore, DeviceStore, DlqStore, HealthProbe, JobStore, NotificationStore,
    Outbox, RecipientStore, SenderRegistry, TemplateStore,
};
use crate::{App, Deps, Settings};

/// An [`App`] wired to fakes, with handles on each fake.
#[derive(Debug, Clone)]
pub struct FakeHub {
    /// The application.
    pub app: App,
    /// The manual clock.
    pub clock: Arc<ManualClock>,
    /// The store (every store port).
    pub store: Arc<InMemoryStore>,
    /// The idempotency store.
    pub idempotency: Arc<InMemoryIdempotency>,
    /// The rate limiter.
    pub limiter: Arc<InMemoryRateLimiter>,
    /// The queue.
    pub queue: Arc<InMemoryQueue>,
    /// The sender used for every channel.
    pub sender: Arc<RecordingSender>,
    /// The metric events recorded.
    pub metrics: Arc<RecordingMetrics>,
}

impl FakeHub {
    /// Fakes with default settings, the clock at 2026-01-15T03:00:00Z (12:00 in Seoul).
    pub fn new() -> Self {
        Self::with_settings(Settings::default())
    }

    /// Fakes with the given settings.
    pub fn with_settings(settings: Settings) -> Self {
        let parts = FakeParts::new();
        let store = Arc::new(InMemoryStore::new());
        let deps = deps_over(store.clone(), &parts);
        let FakeParts { clock, queue, idempotency, limiter, sender, metrics } = parts;
        FakeHub { app: App::new(deps, settings), clock, store, idempotency, limiter, queue, sender, metrics }
    }

    /// Runs relay, consumers and the due scheduler until nothing moves (no sleeping), at the
    /// current clock. Returns the number of dispatches acknowledged.
    pub async fn drain(&self) -> usize {
        drain(&self.app).await
    }
}

impl Default for FakeHub {
    fn default() -> Self {
        Self::new()
    }
}

/// Every store port on one object: a database adapter or the in-memory fake.
pub trait AllStores:
    NotificationStore
    + DeliveryStore
    + DlqStore
    + Outbox
    + RecipientStore
    + DeviceStore
    + TemplateStore
    + AuditLog
    + CallbackLog
    + JobStore
    + HealthProbe
    + 'static
{
}

impl<T> AllStores for T where
    T: NotificationStore
        + DeliveryStore
        + DlqStore
        + Outbox
        + RecipientStore
        + DeviceStore
        + TemplateStore
        + AuditLog
        + CallbackLog
        + JobStore
        + HealthProbe
        + 'static
{
}

/// The fakes around a store: clock, queue, idempotency store, limiter, sender and metrics.
#[derive(Debug, Clone)]
pub struct FakeParts {
    /// The manual clock.
    pub clock: Arc<ManualClock>,
    /// The queue.
    pub queue: Arc<InMemoryQueue>,
    /// The idempotency store.
    pub idempotency: Arc<InMemoryIdempotency>,
    /// The rate limiter.
    pub limiter: Arc<InMemoryRateLimiter>,
    /// The sender used for every channel.
    pub sender: Arc<RecordingSender>,
    /// The metric events recorded.
    pub metrics: Arc<RecordingMetrics>,
}

impl FakeParts {
    /// Fresh fakes, the clock at 2026-01-15T03:00:00Z (12:00 in Seoul).
    pub fn new() -> Self {
        FakeParts {
            clock: Arc::new(ManualClock::new(
                chrono::DateTime::parse_from_rfc3339("2026-01-15T03:00:00Z").expect("literal").to_utc(),
            )),
            queue: Arc::new(InMemoryQueue::new()),
            idempotency: Arc::new(InMemoryIdempotency::new()),
            limiter: Arc::new(InMemoryRateLimiter::new()),
            sender: Arc::new(RecordingSender::new()),
            metrics: Arc::new(RecordingMetrics::new()),
        }
    }
}

impl Default for FakeParts {
    fn default() -> Self {
        Self::new()
    }
}

/// Ports wired over `store` (for every store port) and the fakes in `parts`, with sequence
/// entropy — how tests run the use cases over a real store adapter.
pub fn deps_over<S: AllStores>(store: Arc<S>, parts: &FakeParts) -> Deps {
    Deps {
        clock: parts.clock.clone(),
        entropy: Arc::new(SequenceEntropy::new()),
        notifications: store.clone(),
        deliveries: store.clone(),
        dlq: store.clone(),
        outbox: store.clone(),
        recipients: store.clone(),
        devices: store.clone(),
        templates: store.clone(),
        queue: parts.queue.clone(),
        idempotency: parts.idempotency.clone(),
        rate_limiter: parts.limiter.clone(),
        senders: SenderRegistry::uniform(parts.sender.clone()),
        audit: store.clone(),
        callbacks: store.clone(),
        jobs: store.clone(),
        probes: vec![store],
        metrics: parts.metrics.clone(),
    }
}

/// Runs the due scheduler, relay and consumers at the current clock until nothing moves (no
/// sleeping). Returns the number of dispatches acknowledged.
pub async fn drain(app: &App) -> usize {
    let mut acknowledged = 0;
    for _ in 0..10_000 {
        let mut moved = 0;
        moved += app.enqueue_due(1000).await.expect("enqueue_due");
        moved += app.relay_outbox(1000).await.expect("relay").published;
        for channel in hub_domain::Channel::CANONICAL {
            let n = app.consume(channel, 1000, std::time::Duration::ZERO).await.expect("consume");
            acknowledged += n;
            moved += n;
        }
        if moved == 0 {
            return acknowledged;
        }
    }
    panic!("drain did not settle after 10,000 rounds");
}
