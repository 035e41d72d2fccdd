//! One shared, self-reconnecting Redis connection with bounded waits.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use hub_application::PortError;
use hub_application::ports::HealthProbe;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult, ServerErrorKind};

/// The longest a readiness probe waits for `PING` (the [`HealthProbe`] contract: about 1 s).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// Timeouts of a [`RedisConnection`]. The defaults answer `Unavailable` within 1.5 s when Redis
/// is down or stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisSettings {
    /// How long one TCP connect (with the handshake) may take.
    pub connect_timeout: Duration,
    /// How long the server may take to answer one command once it is sent.
    pub response_timeout: Duration,
    /// The bound on one whole call, waiting for a reconnection included; past it the call
    /// fails with `Unavailable`.
    pub command_timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(1_000),
            response_timeout: Duration::from_millis(1_000),
            command_timeout: Duration::from_millis(1_500),
        }
    }
}

/// A connection to one Redis server (≥ 7), shared by every adapter built on it.
///
/// It wraps [`redis::aio::ConnectionManager`]: one multiplexed connection that reconnects by
/// itself after a drop or a server restart, so a value made once keeps working across outages.
/// Every call is bounded by [`RedisSettings::command_timeout`]: Redis down, unreachable or
/// stalled is [`PortError::Unavailable`] within that time — never a hang, never a silent
/// bypass. Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct RedisConnection {
    manager: ConnectionManager,
    settings: RedisSettings,
    /// The URL without its password, for logs and errors.
    endpoint: String,
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection")
            .field("endpoint", &self.endpoint)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`) and checks the server
    /// answers. Errors: `Unavailable` when it cannot be reached within the connect and command
    /// timeouts; `Unexpected` for a malformed URL.
    pub async fn connect(url: &str, settings: RedisSettings) -> Result<Self, PortError> {
        let connection = Self::connect_lazy(url, settings)?;
        connection.ping().await?;
        Ok(connection)
    }

    /// Like [`connect`](Self::connect) but connects on first use, so a process can start while
    /// Redis is down (calls then fail with `Unavailable` until it is back). Must be called
    /// inside a tokio runtime. Errors: `Unexpected` for a malformed URL.
    pub fn connect_lazy(url: &str, settings: RedisSettings) -> Result<Self, PortError> {
        let endpoint = redact(url);
        let client = redis::Client::open(url).map_err(|e| {
            PortError::Unexpected(anyhow::Error::new(e).context(format!("invalid Redis URL {endpoint}")))
        })?;
        // Few, quick reconnection attempts: each call is bounded by `command_timeout` anyway,
        // and a failed reconnection is started again by the next call.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.response_timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            PortError::Unexpected(anyhow::Error::new(e).context(format!("Redis client for {endpoint}")))
        })?;
        Ok(Self { manager, settings, endpoint })
    }

    /// The timeouts in force.
    pub fn settings(&self) -> RedisSettings {
        self.settings
    }

    /// `PING`, bounded by the command timeout. Errors: `Unavailable` when Redis does not answer.
    pub async fn ping(&self) -> Result<(), PortError> {
        self.run_within(self.settings.command_timeout, "PING", |mut conn| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .map(drop)
    }

    /// Runs `call` on the shared connection, bounded by the command timeout; `op` names it in
    /// errors. Redis errors are mapped by [`port_error`].
    pub(crate) async fn run<T, F, Fut>(&self, op: &'static str, call: F) -> Result<T, PortError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.run_within(self.settings.command_timeout, op, call).await
    }

    async fn run_within<T, F, Fut>(&self, limit: Duration, op: &'static str, call: F) -> Result<T, PortError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        match tokio::time::timeout(limit, call(self.manager.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(port_error(op, &self.endpoint, error)),
            Err(_) => Err(PortError::unavailable(format!(
                "Redis {op} at {}: no answer within {} ms",
                self.endpoint,
                limit.as_millis()
            ))),
        }
    }
}

#[async_trait]
impl HealthProbe for RedisConnection {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), PortError> {
        let limit = self.settings.command_timeout.min(HEALTH_TIMEOUT);
        self.run_within(limit, "PING", |mut conn| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .map(drop)
    }
}

/// Whether a Redis error means "the server cannot serve us right now" (retry later, 503) rather
/// than a bug or a misconfiguration.
fn is_unavailable(error: &RedisError) -> bool {
    if error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
    {
        return true;
    }
    match error.kind() {
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly,
        )
        | ErrorKind::ClusterConnectionNotFound => true,
        // A script running too long, or memory full: the server is up but cannot take writes.
        _ => matches!(error.code(), Some("BUSY" | "OOM")),
    }
}

/// Maps a Redis error: connection trouble, timeouts, loading, busy → `Unavailable`; anything
/// else (a script error, a wrong type, bad credentials) → `Unexpected`.
fn port_error(op: &'static str, endpoint: &str, error: RedisError) -> PortError {
    let context = format!("Redis {op} at {endpoint}");
    if is_unavailable(&error) {
        PortError::Unavailable(anyhow::Error::new(error).context(context))
    } else {
        PortError::Unexpected(anyhow::Error::new(error).context(context))
    }
}

/// `url` with the password (the whole user-info part) masked.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "<malformed URL>".to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_info_of_a_url_is_masked() {
        assert_eq!(redact("redis://:secret@cache:6379/2"), "redis://***@cache:6379/2");
        assert_eq!(redact("redis://user:p@ss@cache:6379"), "redis://***@cache:6379");
        assert_eq!(redact("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(redact("cache:6379"), "<malformed URL>");
    }

    #[test]
    fn io_errors_are_unavailable_and_script_errors_unexpected() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(port_error("EVALSHA", "redis://x", refused), PortError::Unavailable(_)));
        let wrong = RedisError::from((ErrorKind::UnexpectedReturnType, "bad reply"));
        assert!(matches!(port_error("EVALSHA", "redis://x", wrong), PortError::Unexpected(_)));
    }
}
