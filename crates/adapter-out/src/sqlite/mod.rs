//! The embedded store: every store port on one SQLite file (SPEC §2), through sqlx.
//!
//! - One writer task owns the only write connection; every write is an operation sent to it,
//!   and concurrent operations share one transaction and one fsync (grouped commits, ADR 0014).
//! - Reads use a separate pool of read-only connections; WAL lets them run while the writer
//!   writes, and each multi-statement read runs in one read transaction (one snapshot).
//! - WAL journal, `synchronous = FULL` (a commit survives power loss), a busy timeout, foreign
//!   keys on. Migrations in `migrations/sqlite/` are embedded and applied by [`SqliteStore::open`].
//! - Queries are runtime-checked `sqlx::query`/`query_as` (ADR 0013).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_application::error::PortError;
use hub_application::ports::HealthProbe;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::Notify;

mod audit;
mod callbacks;
mod deliveries;
mod devices;
mod dispatch_batches;
mod dlq;
mod errors;
mod jobs;
mod notifications;
mod outbox;
mod recipients;
mod rows;
mod templates;
mod writer;

pub use writer::WriteStats;
use writer::{BoxFuture, Done, Writer};

/// The schema migrations, embedded at build time from `migrations/sqlite/` (reversible).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a statement waits for a lock held by another connection before failing with BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a read waits for a pooled connection before answering `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections; WAL readers do not block each other or the writer.
const READ_CONNECTIONS: u32 = 4;

/// How long the health probe waits for its round trips.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// Every store port on one SQLite database file. Cheap to clone: clones share the writer,
/// the read pool and the commit signal.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    reader: SqlitePool,
    writer: Writer,
    commit_signal: Arc<Notify>,
}

impl SqliteStore {
    /// Opens (creating the parent folder and the file if missing) the database at `path`,
    /// applies pending migrations and starts the writer task. Must be called inside a Tokio
    /// runtime. Errors: `Unavailable` when the file cannot be opened, `Unexpected` when a
    /// migration fails (e.g. an applied migration was edited).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, PortError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                PortError::Unavailable(
                    anyhow::Error::new(e).context(format!("creating {}", parent.display())),
                )
            })?;
        }
        let mut conn = write_options(&path)
            .connect()
            .await
            .map_err(|e| errors::db_error("opening the SQLite database", e))?;
        run_migrations(&mut conn).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(read_options(&path))
            .await
            .map_err(|e| errors::db_error("opening the SQLite read pool", e))?;
        let commit_signal = Arc::new(Notify::new());
        let writer = Writer::spawn(conn, commit_signal.clone());
        tracing::info!(path = %path.display(), "SQLite store open");
        Ok(SqliteStore { path, reader, writer, commit_signal })
    }

    /// Applies pending migrations (a no-op when the schema is current), on a connection of its own.
    pub async fn migrate(&self) -> Result<(), PortError> {
        let mut conn = write_options(&self.path)
            .connect()
            .await
            .map_err(|e| errors::db_error("opening a migration connection", e))?;
        let result = run_migrations(&mut conn).await;
        let _ = sqlx::Connection::close(conn).await;
        result
    }

    /// Notified after every commit that wrote outbox rows; the relay waits on it instead of
    /// polling. It keeps one permit when nobody waits, so a commit is never missed.
    pub fn commit_signal(&self) -> Arc<Notify> {
        self.commit_signal.clone()
    }

    /// Counters of the writer: commits and operations so far (operations per commit shows
    /// how well writes are grouped).
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finishes the queued writes, closes the write connection and the read pool. Later calls
    /// on any clone answer `Unavailable`.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Starts a read transaction on a read-only connection: the statements of one port call
    /// see one snapshot even while the writer commits.
    async fn read(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, PortError> {
        self.reader.begin().await.map_err(errors::db("starting a read"))
    }

    /// Runs a write operation in the next group transaction (see [`writer`]).
    async fn write<T, F>(&self, op: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Done<T>, PortError>>
            + Send
            + 'static,
    {
        self.writer.run(op).await
    }
}

/// The write connection: creates the file, WAL, full fsync on commit, foreign keys.
fn write_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL, not WAL's usual NORMAL: NORMAL may lose the last commits on power loss, and an
        // accepted notification must never be lost (SPEC §4). Grouped commits pay for it.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .disable_statement_logging()
}

/// The read connections: read-only, so a bug cannot write around the writer.
fn read_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .disable_statement_logging()
}

async fn run_migrations(conn: &mut SqliteConnection) -> Result<(), PortError> {
    MIGRATOR.run(&mut *conn).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(inner) => errors::db_error("applying SQLite migrations", inner),
        other => PortError::Unexpected(anyhow::Error::new(other).context("applying SQLite migrations")),
    })
}

#[async_trait]
impl HealthProbe for SqliteStore {
    fn name(&self) -> &'static str {
        "store"
    }

    /// `SELECT 1` on a read connection and a no-op round trip through the writer, within 1 s.
    async fn check(&self) -> Result<(), PortError> {
        let round_trips = async {
            sqlx::query("SELECT 1").execute(&self.reader).await.map_err(errors::db("store health check"))?;
            self.write(|conn| {
                Box::pin(async move {
                    sqlx::query("SELECT 1")
                        .execute(&mut *conn)
                        .await
                        .map_err(errors::db("store health check (writer)"))?;
                    Ok(Done::keep(()))
                })
            })
            .await
        };
        match tokio::time::timeout(HEALTH_TIMEOUT, round_trips).await {
            Ok(result) => result,
            Err(_) => Err(PortError::unavailable("the SQLite store did not answer within 1 s")),
        }
    }
}
