//! The production store: every store port on PostgreSQL ≥ 15 (SPEC §2), through sqlx (ADR 0016).
//!
//! - A connection pool with bounded waits: acquiring (and so connecting) gives up after
//!   [`PgSettings::acquire_timeout`], and every session runs with a server-side
//!   `statement_timeout`, so an outage answers `Unavailable` in about two seconds instead of
//!   hanging a request.
//! - Each port call is one statement or one transaction (READ COMMITTED). Concurrent replicas
//!   are kept apart by the database: row locks on conditional UPDATEs, `FOR UPDATE SKIP LOCKED`
//!   claims (outbox, due scheduler, bulk jobs), and the unique constraints (idempotency key,
//!   template key, device token) as the authority.
//! - Every write that inserts outbox rows is announced after its commit: this process's relay
//!   is woken at once, the others by a coalesced `pg_notify('nh_outbox', '')` outside the
//!   transaction (see `listener`); [`PgStore::outbox_signal`] is that wake-up.
//! - Migrations in `migrations/postgres/` are embedded and applied by [`PgStore::migrate`]
//!   (never implicitly). Queries are runtime-checked `sqlx::query`/`query_as` (ADR 0013).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_application::error::PortError;
use hub_application::ports::HealthProbe;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, Postgres, Transaction};
use tokio::sync::Notify;

mod accept;
mod audit;
mod callbacks;
mod deliveries;
mod devices;
mod dispatch_batches;
mod dlq;
mod errors;
mod jobs;
mod listener;
mod notifications;
mod outbox;
mod recipients;
mod rows;
mod templates;

use errors::{db, db_error};
pub use listener::OUTBOX_CHANNEL;

/// The schema migrations, embedded at build time from `migrations/postgres/` (reversible, the
/// same versions as the SQLite ones).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long the health probe waits for its round trip.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// Pool and session settings of a [`PgStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// Most connections the pool opens (default 10). The outbox listener uses one more of its own.
    pub max_connections: u32,
    /// Connections kept open even when idle (default 0).
    pub min_connections: u32,
    /// Longest wait for a pooled connection, connecting included, before a call answers
    /// `Unavailable` (default 2 s).
    pub acquire_timeout: Duration,
    /// Server-side `statement_timeout` of every pooled session (default 5 s; `None` = the
    /// server's setting). A statement cancelled by it answers `Unavailable`. Migrations run
    /// without it.
    pub statement_timeout: Option<Duration>,
    /// Server-side `idle_in_transaction_session_timeout` (default 30 s): a client that dies
    /// inside a transaction cannot hold its row locks longer.
    pub idle_in_transaction_timeout: Option<Duration>,
    /// Idle connections are closed after this (default 10 min).
    pub idle_timeout: Option<Duration>,
}

impl Default for PgSettings {
    fn default() -> Self {
        PgSettings {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Some(Duration::from_secs(5)),
            idle_in_transaction_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }
}

/// A duration as a PostgreSQL setting value in milliseconds (at least 1: 0 would disable it).
fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

/// Every store port on one PostgreSQL database (or schema, through `search_path`). Cheap to
/// clone: clones share the pool and the outbox signal.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The options of the pool's sessions (with the settings' session options), for the
    /// migration connection and the outbox listener.
    options: PgConnectOptions,
    settings: PgSettings,
    signal: Arc<listener::OutboxSignal>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:pass@host:port/db?options=…`) and
    /// opens one connection to check it. Errors: `Unexpected` for a malformed URL,
    /// `Unavailable` when the server cannot be reached within `settings.acquire_timeout`.
    pub async fn connect(url: &str, settings: PgSettings) -> Result<Self, PortError> {
        let options: PgConnectOptions = url.parse().map_err(|e| {
            PortError::Unexpected(anyhow::Error::new(e).context("parsing the PostgreSQL URL"))
        })?;
        Self::connect_with(options, settings).await
    }

    /// Like [`PgStore::connect`] with options built in code (e.g. a `search_path` through
    /// [`PgConnectOptions::options`]). The settings' session options are appended to `options`.
    pub async fn connect_with(options: PgConnectOptions, settings: PgSettings) -> Result<Self, PortError> {
        let mut session = Vec::new();
        if let Some(timeout) = settings.statement_timeout {
            session.push(("statement_timeout", millis(timeout)));
        }
        if let Some(timeout) = settings.idle_in_transaction_timeout {
            session.push(("idle_in_transaction_session_timeout", millis(timeout)));
        }
        let mut options = options.options(session).disable_statement_logging();
        if options.get_application_name().is_none() {
            options = options.application_name("notification-hub");
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .min_connections(settings.min_connections)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(settings.idle_timeout)
            .connect_with(options.clone())
            .await
            .map_err(|e| db_error("connecting to PostgreSQL", e))?;
        tracing::info!(
            host = options.get_host(),
            database = options.get_database().unwrap_or_default(),
            "PostgreSQL store connected"
        );
        Ok(PgStore { pool, options, settings, signal: Arc::new(listener::OutboxSignal::new()) })
    }

    /// Applies pending migrations (a no-op when the schema is current) on a connection of its
    /// own without `statement_timeout` (an index build may take longer). Concurrent callers
    /// (replicas starting together) wait for each other on sqlx's advisory lock. Errors:
    /// `Unavailable` when the server cannot be reached, `Unexpected` when a migration fails
    /// (e.g. an applied migration was edited).
    pub async fn migrate(&self) -> Result<(), PortError> {
        let mut conn = self.migration_connection().await?;
        let result = MIGRATOR.run(&mut conn).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => db_error("applying PostgreSQL migrations", inner),
            other => {
                PortError::Unexpected(anyhow::Error::new(other).context("applying PostgreSQL migrations"))
            }
        });
        let _ = conn.close().await;
        result
    }

    /// A fresh connection for schema changes: the pool's session options but no statement timeout.
    async fn migration_connection(&self) -> Result<PgConnection, PortError> {
        let connect = self.options.connect();
        let mut conn = match tokio::time::timeout(self.settings.acquire_timeout, connect).await {
            Ok(conn) => conn.map_err(db("opening a migration connection"))?,
            Err(_) => {
                return Err(PortError::unavailable("PostgreSQL did not answer the migration connection"));
            }
        };
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut conn)
            .await
            .map_err(db("opening a migration connection"))?;
        Ok(conn)
    }

    /// Notified after every commit (of any replica) that wrote outbox rows; the relay waits on
    /// it instead of polling. Fed by a background task LISTENing on [`OUTBOX_CHANNEL`] with a
    /// connection of its own, started by the first call (which must be inside a Tokio runtime).
    /// It keeps one permit when nobody waits, and gives one after every (re)connection of the
    /// listener, since notifications sent while it was away are lost.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.signal.subscribe(&self.options, self.settings.acquire_timeout)
    }

    /// Announces a commit that wrote outbox rows (see [`PgStore::outbox_signal`]).
    fn outbox_committed(&self) {
        self.signal.committed(&self.pool);
    }

    /// The connection pool (for diagnostics and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stops the outbox listener and closes the pool, waiting for connections in use to come
    /// back. Later calls on any clone answer `Unavailable`.
    pub async fn close(&self) {
        self.signal.stop();
        self.pool.close().await;
    }

    /// Starts a transaction on a pooled connection.
    async fn begin(&self) -> Result<Transaction<'static, Postgres>, PortError> {
        self.pool.begin().await.map_err(db("starting a transaction"))
    }

    /// Starts a read-only REPEATABLE READ transaction: the statements of one port call see one
    /// snapshot (a notification and its deliveries as of the same instant).
    async fn read(&self) -> Result<Transaction<'static, Postgres>, PortError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db("starting a read"))
    }
}

/// Commits `tx`; a failed COMMIT undid everything.
async fn commit(tx: Transaction<'static, Postgres>) -> Result<(), PortError> {
    tx.commit().await.map_err(db("committing"))
}

/// Rolls `tx` back after a business outcome that must leave nothing behind (a conflict, a
/// duplicate key). A failed ROLLBACK changes nothing for the caller: the transaction was not
/// committed, and sqlx discards the broken connection.
async fn rollback(tx: Transaction<'static, Postgres>) {
    if let Err(error) = tx.rollback().await {
        tracing::debug!(%error, "ROLLBACK failed");
    }
}

#[async_trait]
impl HealthProbe for PgStore {
    fn name(&self) -> &'static str {
        "store"
    }

    /// `SELECT 1` on a pooled connection within 1 s.
    async fn check(&self) -> Result<(), PortError> {
        let round_trip = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(HEALTH_TIMEOUT, round_trip).await {
            Ok(result) => result.map(|_| ()).map_err(db("store health check")),
            Err(_) => Err(PortError::unavailable("the PostgreSQL store did not answer within 1 s")),
        }
    }
}
