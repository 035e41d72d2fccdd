//! Translation of driver errors into [`PortError`] at the adapter boundary.

use hub_application::error::PortError;

/// SQLSTATE codes that mean "the database cannot serve this right now" rather than "this
/// statement or row is wrong": retrying later can succeed.
///
/// - `57014` query_canceled (our `statement_timeout`), `55P03` lock_not_available,
///   `57P01..57P03` shutdown / crash / starting up, `53xxx` insufficient resources (e.g.
///   too many connections), `40001` / `40P01` serialization failure / deadlock, `25006` a
///   read-only transaction (a standby after a failover).
const UNAVAILABLE_STATES: &[&str] = &["57014", "55P03", "57P01", "57P02", "57P03", "40001", "40P01", "25006"];

/// SQLSTATE classes (first two characters) that are unavailability as a whole: `08`
/// connection exception, `53` insufficient resources, `58` system error (I/O).
const UNAVAILABLE_CLASSES: &[&str] = &["08", "53", "58"];

/// Whether a SQLSTATE means the store is unreachable, overloaded or timed out.
pub(super) fn is_unavailable_state(code: &str) -> bool {
    UNAVAILABLE_STATES.contains(&code) || UNAVAILABLE_CLASSES.iter().any(|class| code.starts_with(class))
}

/// Whether a driver error means the store is unreachable or overloaded (retry later, 503).
pub(super) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_unavailable_state(&code)),
        _ => false,
    }
}

/// Maps a driver error: pool timeout, lost connection, statement timeout → `Unavailable`;
/// anything else → `Unexpected`, both with `context` (what the adapter was doing).
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

/// A value the adapter could not encode (JSON of a document).
pub(super) fn encoding(what: &'static str, error: serde_json::Error) -> PortError {
    PortError::Unexpected(anyhow::Error::new(error).context(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_and_io_errors_are_unavailable() {
        assert!(matches!(db_error("x", sqlx::Error::PoolTimedOut), PortError::Unavailable(_)));
        assert!(matches!(db_error("x", sqlx::Error::PoolClosed), PortError::Unavailable(_)));
        let io = std::io::Error::other("connection reset");
        assert!(matches!(db_error("x", sqlx::Error::Io(io)), PortError::Unavailable(_)));
    }

    #[test]
    fn timeouts_and_connection_states_are_unavailable_constraint_violations_are_not() {
        for code in ["57014", "08006", "08001", "53300", "57P01", "40P01", "55P03"] {
            assert!(is_unavailable_state(code), "{code}");
        }
        for code in ["23505", "23503", "23514", "42P01", "22P02"] {
            assert!(!is_unavailable_state(code), "{code}");
        }
    }

    #[test]
    fn decoding_problems_are_unexpected_with_context() {
        let error = db_error("reading a delivery", sqlx::Error::RowNotFound);
        assert!(matches!(error, PortError::Unexpected(_)));
        assert!(format!("{error:#}").contains("reading a delivery"));
    }
}
