//! In-memory fakes of every port (feature `test-util`), used by the use-case tests here and
//! by the driving adapters' tests. They keep each port's documented contract, including
//! atomicity (one mutex per fake), and can be switched to "unavailable" to test 503 paths.

mod clock;
mod idempotency;
mod queue;
mod rate_limiter;
mod sender;
mod store;

use std::sync::Arc;

pub use clock::{ManualClock, SequenceEntropy};
pub use idempotency::InMemoryIdempotency;
pub use queue::InMemoryQueue;
pub use rate_limiter::InMemoryRateLimiter;
pub use sender::{RecordingSender, ScriptedOutcome};
pub use store::InMemoryStore;

use crate::ports::SenderRegistry;
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
}

impl FakeHub {
    /// Fakes with default settings, the clock at 2026-01-15T03:00:00Z (12:00 in Seoul).
    pub fn new() -> Self {
        Self::with_settings(Settings::default())
    }

    /// Fakes with the given settings.
    pub fn with_settings(settings: Settings) -> Self {
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-01-15T03:00:00Z").expect("literal").to_utc(),
        ));
        let store = Arc::new(InMemoryStore::new());
        let idempotency = Arc::new(InMemoryIdempotency::new());
        let limiter = Arc::new(InMemoryRateLimiter::new());
        let queue = Arc::new(InMemoryQueue::new());
        let sender = Arc::new(RecordingSender::new());
        let deps = Deps {
            clock: clock.clone(),
            entropy: Arc::new(SequenceEntropy::new()),
            notifications: store.clone(),
            deliveries: store.clone(),
            dlq: store.clone(),
            outbox: store.clone(),
            recipients: store.clone(),
            devices: store.clone(),
            templates: store.clone(),
            queue: queue.clone(),
            idempotency: idempotency.clone(),
            rate_limiter: limiter.clone(),
            senders: SenderRegistry::uniform(sender.clone()),
            audit: store.clone(),
            jobs: store.clone(),
            probes: vec![store.clone()],
        };
        FakeHub { app: App::new(deps, settings), clock, store, idempotency, limiter, queue, sender }
    }

    /// Runs relay, consumers and the due scheduler until nothing moves (no sleeping), at the
    /// current clock. Returns the number of dispatches acknowledged.
    pub async fn drain(&self) -> usize {
        let mut acknowledged = 0;
        loop {
            let mut moved = 0;
            moved += self.app.enqueue_due(1000).await.expect("enqueue_due");
            moved += self.app.relay_outbox(1000).await.expect("relay").published;
            for channel in hub_domain::Channel::CANONICAL {
                let n = self.app.consume(channel, 1000, std::time::Duration::ZERO).await.expect("consume");
                acknowledged += n;
                moved += n;
            }
            if moved == 0 {
                return acknowledged;
            }
        }
    }
}

impl Default for FakeHub {
    fn default() -> Self {
        Self::new()
    }
}
