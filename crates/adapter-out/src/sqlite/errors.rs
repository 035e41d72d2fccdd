//! Translation of driver errors into [`PortError`] at the adapter boundary.

use std::fmt;

use hub_application::error::PortError;

/// SQLite primary result codes that mean "the database cannot be used right now" rather than
/// "this statement or row is wrong": BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN,
/// PROTOCOL. (CORRUPT is left out on purpose: retrying does not help, an operator must look.)
const UNAVAILABLE_CODES: &[i64] = &[5, 6, 7, 8, 10, 13, 14, 15];

/// Whether a driver error means the store is unreachable or overloaded (retry later, 503).
pub(super) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            // Extended codes carry the primary code in their low byte (SQLITE_BUSY_SNAPSHOT = 517).
            .is_some_and(|code| UNAVAILABLE_CODES.contains(&(code & 0xff))),
        _ => false,
    }
}

/// Maps a driver error: pool timeout, busy, I/O → `Unavailable`; anything else → `Unexpected`,
/// both with `context` (what the adapter was doing).
pub(super) fn db_error(context: &'static str, error: sqlx::Error) -> PortError {
    if is_unavailable(&error) {
        PortError::Unavailable(anyhow::Error::new(error).context(context))
    } else {
        PortError::Unexpected(anyhow::Error::new(error).context(context))
    }
}

/// `map_err` helper: `.map_err(db("reading a delivery"))`.
pub(super) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> PortError {
    move |error| db_error(context, error)
}

pub(super) use crate::sql_columns::corrupt;

/// A failure shared by every operation of a group (BEGIN, savepoint or COMMIT failed); each
/// caller gets its own [`PortError`] made from it.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    unavailable: bool,
    message: String,
}

impl Failure {
    /// A failure that makes the store unavailable.
    pub(super) fn unavailable(message: impl Into<String>) -> Self {
        Failure { unavailable: true, message: message.into() }
    }

    /// From a driver error while running `sql`.
    pub(super) fn from_sqlx(error: &sqlx::Error, sql: &str) -> Self {
        Failure { unavailable: is_unavailable(error), message: format!("{sql}: {error}") }
    }

    /// A fresh port error for one caller.
    pub(super) fn to_port_error(&self) -> PortError {
        let error = anyhow::anyhow!("SQLite group transaction failed: {}", self.message);
        if self.unavailable { PortError::Unavailable(error) } else { PortError::Unexpected(error) }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_and_io_errors_are_unavailable() {
        assert!(matches!(db_error("x", sqlx::Error::PoolTimedOut), PortError::Unavailable(_)));
        let io = std::io::Error::other("disk gone");
        assert!(matches!(db_error("x", sqlx::Error::Io(io)), PortError::Unavailable(_)));
    }

    #[test]
    fn decoding_problems_are_unexpected_with_context() {
        let error = db_error("reading a delivery", sqlx::Error::RowNotFound);
        assert!(matches!(error, PortError::Unexpected(_)));
        assert!(format!("{error:#}").contains("reading a delivery"));
    }

    #[test]
    fn a_failed_group_gives_each_caller_its_own_error() {
        let failure = Failure::unavailable("disk full");
        assert!(matches!(failure.to_port_error(), PortError::Unavailable(_)));
        assert!(matches!(failure.to_port_error(), PortError::Unavailable(_)));
    }
}
