//! The outbox wake-up: a background task LISTENs on [`OUTBOX_CHANNEL`] and turns every
//! notification into a permit of a `tokio::sync::Notify`.
//!
//! The NOTIFY is not part of the writing transaction: PostgreSQL serialises the commits of all
//! transactions that NOTIFY (a cluster-wide lock held through the commit's WAL flush), which
//! would undo group commit for every accept. Instead, after a commit that wrote outbox rows,
//! [`OutboxSignal::committed`] wakes this process's relay at once and asks a notifier task to
//! NOTIFY the other replicas: one NOTIFY for all the commits of a short interval
//! ([`NOTIFY_INTERVAL`]). A crash between the commit and the NOTIFY costs the other replicas
//! at most one relay poll (ADR 0027).
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

/// The LISTEN/NOTIFY channel announcing commits that inserted outbox rows.
pub const OUTBOX_CHANNEL: &str = "nh_outbox";

/// Shortest time between two NOTIFYs of one process: bounds the NOTIFY rate under load (each
/// takes the cluster-wide notify lock) at the cost of this much extra wake-up latency for
/// relays in other processes.
const NOTIFY_INTERVAL: Duration = Duration::from_millis(5);

/// First wait before subscribing again after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// Longest wait between two subscription attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The signal and, once started, the task feeding it; the notifier announcing this process's
/// commits (both stopped when the last store clone goes).
#[derive(Debug)]
pub(super) struct OutboxSignal {
    notify: Arc<Notify>,
    task: OnceLock<AbortHandle>,
    announce: Arc<Notify>,
    notifier: OnceLock<AbortHandle>,
}

impl OutboxSignal {
    pub(super) fn new() -> Self {
        OutboxSignal {
            notify: Arc::new(Notify::new()),
            task: OnceLock::new(),
            announce: Arc::new(Notify::new()),
            notifier: OnceLock::new(),
        }
    }

    /// After a commit that wrote outbox rows: wakes this process's relay and has the notifier
    /// (started on the first call, on `pool`) NOTIFY the others soon. Never waits.
    pub(super) fn committed(&self, pool: &PgPool) {
        self.notify.notify_one();
        self.notifier
            .get_or_init(|| tokio::spawn(announce(pool.clone(), self.announce.clone())).abort_handle());
        self.announce.notify_one();
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

    /// Stops the listener and notifier tasks, if started.
    pub(super) fn stop(&self) {
        for task in [self.task.get(), self.notifier.get()].into_iter().flatten() {
            task.abort();
        }
    }
}

impl Drop for OutboxSignal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The notifier: one NOTIFY per wake-up (the `Notify` keeps one permit, so the commits made
/// while a NOTIFY runs or during the pause after it are announced together), at most one per
/// [`NOTIFY_INTERVAL`]. A failed NOTIFY is only logged: the relays also poll.
async fn announce(pool: PgPool, announce: Arc<Notify>) {
    loop {
        announce.notified().await;
        if let Err(error) = sqlx::query("SELECT pg_notify($1, '')").bind(OUTBOX_CHANNEL).execute(&pool).await
        {
            tracing::warn!(%error, "could not notify the outbox relays; they will find the rows when they poll");
        }
        tokio::time::sleep(NOTIFY_INTERVAL).await;
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
