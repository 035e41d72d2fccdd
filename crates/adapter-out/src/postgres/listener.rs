//! The outbox wake-up: a background task LISTENs on [`OUTBOX_CHANNEL`] and turns every
//! notification into a permit of a `tokio::sync::Notify`.
//!
//! The task owns a one-connection pool of its own (the listening session is held for good and
//! must not take a slot of the store's pool). On any error or lost connection it drops the
//! listener, waits (backoff up to [`MAX_BACKOFF`]) and subscribes again; after each successful
//! subscription it gives one permit, since notifications sent while nobody listened are lost
//! (Postgres does not queue them for absent listeners).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// The LISTEN/NOTIFY channel written by every transaction that inserts outbox rows.
pub const OUTBOX_CHANNEL: &str = "nh_outbox";

/// First wait before subscribing again after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// Longest wait between two subscription attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The signal and, once started, the task feeding it (stopped when the last store clone goes).
#[derive(Debug)]
pub(super) struct OutboxSignal {
    notify: Arc<Notify>,
    task: OnceLock<AbortHandle>,
}

impl OutboxSignal {
    pub(super) fn new() -> Self {
        OutboxSignal { notify: Arc::new(Notify::new()), task: OnceLock::new() }
    }

    /// The signal, starting the listener task on the first call.
    pub(super) fn subscribe(&self, options: &PgConnectOptions, acquire_timeout: Duration) -> Arc<Notify> {
        self.task.get_or_init(|| {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .acquire_timeout(acquire_timeout)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_lazy_with(options.clone());
            tokio::spawn(listen(pool, self.notify.clone())).abort_handle()
        });
        self.notify.clone()
    }

    /// Stops the listener task, if started.
    pub(super) fn stop(&self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }
}

impl Drop for OutboxSignal {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection ends the inner loop below; the outer loop subscribes afresh.
    listener.eager_reconnect(false);
    listener.listen(OUTBOX_CHANNEL).await?;
    Ok(listener)
}

async fn listen(pool: PgPool, notify: Arc<Notify>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                backoff = MIN_BACKOFF;
                tracing::debug!(channel = OUTBOX_CHANNEL, "listening for outbox commits");
                // Anything committed while no listener was subscribed would be missed otherwise.
                notify.notify_one();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => notify.notify_one(),
                        Ok(None) => {
                            tracing::warn!("the outbox listener lost its connection; subscribing again");
                            break;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "the outbox listener failed; subscribing again");
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "cannot LISTEN for outbox commits");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
