//! The single writer: every store write runs here, grouped into shared transactions (ADR 0014).
//!
//! Callers hand an operation (a closure over the write connection) to [`Writer::run`]. The
//! writer task takes everything queued, up to [`MAX_BATCH`] operations, opens ONE transaction,
//! runs each operation inside its own `SAVEPOINT` (an operation that fails or asks to be undone
//! rolls back only itself), commits once — one fsync for the whole group — and only then
//! answers each caller. No caller ever sees a result that is not durable.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hub_application::error::PortError;
use sqlx::SqliteConnection;
use tokio::sync::{Notify, mpsc, oneshot};

use super::errors::Failure;

/// At most this many operations share one transaction: bounds the latency a group adds and
/// the work lost to a failed COMMIT.
pub(super) const MAX_BATCH: usize = 256;

/// Operations waiting for the writer before callers are made to wait for room.
const QUEUE_CAPACITY: usize = 4096;

/// A boxed future borrowing the write connection.
pub(super) type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// What an operation produced, and whether its writes stay.
#[derive(Debug)]
pub(super) struct Done<T> {
    value: T,
    keep: bool,
    wrote_outbox: bool,
}

impl<T> Done<T> {
    /// Keep the operation's writes and answer `value`.
    pub(super) fn keep(value: T) -> Self {
        Done { value, keep: true, wrote_outbox: false }
    }

    /// Roll the operation's writes back (a business outcome such as a conflict) and answer `value`.
    pub(super) fn undo(value: T) -> Self {
        Done { value, keep: false, wrote_outbox: false }
    }

    /// Marks that the operation wrote outbox rows (when `wrote`), so the commit wakes the relay.
    pub(super) fn outbox(mut self, wrote: bool) -> Self {
        self.wrote_outbox = wrote;
        self
    }
}

/// Counters of the writer's work, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Transactions committed.
    pub commits: u64,
    /// Operations run by the writer, whatever became of them (committed, undone or failed).
    pub operations: u64,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    operations: AtomicU64,
}

/// Answers one caller once the group's fate is known: `None` = committed, else why not.
type Answer = Box<dyn FnOnce(Option<&Failure>) + Send>;

/// An operation after it ran: whether to keep its savepoint, and how to answer once the
/// transaction's fate is known.
struct Ran {
    keep: bool,
    wrote_outbox: bool,
    answer: Answer,
}

/// One queued operation with its reply channel, type-erased.
trait Job: Send {
    fn run<'c>(self: Box<Self>, conn: &'c mut SqliteConnection) -> BoxFuture<'c, Ran>;
    fn fail(self: Box<Self>, failure: &Failure);
}

struct TypedJob<T, F> {
    op: F,
    reply: oneshot::Sender<Result<T, PortError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Done<T>, PortError>> + Send + 'static,
{
    fn run<'c>(self: Box<Self>, conn: &'c mut SqliteConnection) -> BoxFuture<'c, Ran> {
        let TypedJob { op, reply } = *self;
        Box::pin(async move {
            let result = op(conn).await;
            let (keep, wrote_outbox, result) = match result {
                Ok(done) => (done.keep, done.keep && done.wrote_outbox, Ok(done.value)),
                Err(error) => (false, false, Err(error)),
            };
            let answer = Box::new(move |failure: Option<&Failure>| {
                let result = match failure {
                    // A failed COMMIT undoes everything, including what this operation computed.
                    Some(failure) => Err(failure.to_port_error()),
                    None => result,
                };
                // The caller may have gone away (request cancelled); the outcome stands anyway.
                let _ = reply.send(result);
            });
            Ran { keep, wrote_outbox, answer }
        })
    }

    fn fail(self: Box<Self>, failure: &Failure) {
        let _ = self.reply.send(Err(failure.to_port_error()));
    }
}

/// Handle on the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

enum Message {
    Job(Box<dyn Job>),
    /// Finish what is queued before this, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Job(_) => f.write_str("Job"),
            Message::Close(_) => f.write_str("Close"),
        }
    }
}

impl Writer {
    /// Starts the writer task on `conn`; `commit_signal` is notified after each commit that
    /// wrote outbox rows.
    pub(super) fn spawn(conn: SqliteConnection, commit_signal: Arc<Notify>) -> Self {
        let (queue, inbox) = mpsc::channel(QUEUE_CAPACITY);
        let counters = Arc::new(Counters::default());
        tokio::spawn(writer_loop(conn, inbox, commit_signal, counters.clone()));
        Writer { queue, counters }
    }

    /// Runs `op` in the next group transaction and returns its answer once the group committed.
    pub(super) async fn run<T, F>(&self, op: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Done<T>, PortError>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(TypedJob { op, reply });
        self.queue
            .send(Message::Job(job))
            .await
            .map_err(|_| PortError::unavailable("the SQLite store is closed"))?;
        answer.await.map_err(|_| PortError::unavailable("the SQLite writer stopped"))?
    }

    /// Asks the writer to finish the queued operations and close its connection.
    pub(super) async fn close(&self) {
        let (done, finished) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = finished.await;
        }
    }

    /// The counters so far.
    pub(super) fn stats(&self) -> WriteStats {
        WriteStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            operations: self.counters.operations.load(Ordering::Relaxed),
        }
    }
}

async fn writer_loop(
    mut conn: SqliteConnection,
    mut inbox: mpsc::Receiver<Message>,
    commit_signal: Arc<Notify>,
    counters: Arc<Counters>,
) {
    let mut messages = Vec::with_capacity(MAX_BATCH);
    loop {
        if inbox.recv_many(&mut messages, MAX_BATCH).await == 0 {
            break; // every handle dropped
        }
        let mut jobs = Vec::with_capacity(messages.len());
        let mut close = None;
        for message in messages.drain(..) {
            match message {
                Message::Job(job) if close.is_none() => jobs.push(job),
                Message::Job(job) => job.fail(&Failure::unavailable("the SQLite store is closed")),
                Message::Close(done) => close = Some(done),
            }
        }
        if !jobs.is_empty() {
            // Counted before any answer goes out, so a caller never sees its own operation missing.
            counters.operations.fetch_add(jobs.len() as u64, Ordering::Relaxed);
            run_group(&mut conn, jobs, &commit_signal, &counters).await;
        }
        if let Some(done) = close {
            inbox.close();
            while let Ok(message) = inbox.try_recv() {
                match message {
                    Message::Job(job) => job.fail(&Failure::unavailable("the SQLite store is closed")),
                    Message::Close(done) => {
                        let _ = done.send(());
                    }
                }
            }
            if let Err(error) = sqlx::Connection::close(conn).await {
                tracing::warn!(error = %error, "closing the SQLite write connection failed");
            }
            let _ = done.send(());
            return;
        }
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), Failure> {
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ()).map_err(|e| Failure::from_sqlx(&e, sql))
}

/// Runs one group of operations in one transaction and answers each of them.
async fn run_group(
    conn: &mut SqliteConnection,
    jobs: Vec<Box<dyn Job>>,
    commit_signal: &Notify,
    counters: &Counters,
) {
    if let Err(failure) = exec(conn, "BEGIN IMMEDIATE").await {
        for job in jobs {
            job.fail(&failure);
        }
        return;
    }
    let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
    let mut wrote_outbox = false;
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        if let Err(failure) = exec(conn, "SAVEPOINT op").await {
            job.fail(&failure);
            abort(conn, &failure, answers, jobs).await;
            return;
        }
        let ran = job.run(conn).await;
        let ended = if ran.keep {
            exec(conn, "RELEASE op").await
        } else {
            match exec(conn, "ROLLBACK TO op").await {
                Ok(()) => exec(conn, "RELEASE op").await,
                Err(failure) => Err(failure),
            }
        };
        wrote_outbox |= ran.wrote_outbox;
        answers.push(ran.answer);
        if let Err(failure) = ended {
            abort(conn, &failure, answers, jobs).await;
            return;
        }
    }
    match exec(conn, "COMMIT").await {
        Ok(()) => {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            if wrote_outbox {
                // Before the answers, so a caller that sees its accept done finds the signal
                // set. notify_one keeps a permit when the relay is not waiting right now (busy
                // publishing), so no commit is missed.
                commit_signal.notify_one();
            }
            for answer in answers {
                answer(None);
            }
        }
        Err(failure) => {
            tracing::error!(error = %failure, "SQLite group COMMIT failed");
            let _ = exec(conn, "ROLLBACK").await;
            for answer in answers {
                answer(Some(&failure));
            }
        }
    }
}

/// The savepoint machinery itself failed (disk full, I/O error): SQLite may already have rolled
/// the whole transaction back, so nothing of this group can be trusted. Every caller gets the
/// error; none of their writes were committed.
async fn abort(
    conn: &mut SqliteConnection,
    failure: &Failure,
    answers: Vec<Answer>,
    rest: impl Iterator<Item = Box<dyn Job>>,
) {
    tracing::error!(error = %failure, "SQLite group transaction aborted");
    let _ = exec(conn, "ROLLBACK").await;
    for answer in answers {
        answer(Some(failure));
    }
    for job in rest {
        job.fail(failure);
    }
}
