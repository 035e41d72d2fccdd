//! Idempotency keys in Redis, shared by every replica (SPEC §2, §5.1; ADR 0017).

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_application::PortError;
use hub_application::ports::{Completion, IdempotencyStore, Reservation, ReservationToken, StoredResponse};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};
use redis::Script;

use super::RedisConnection;
use super::time::{deadline_ms, px_ms};

static RESERVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/reserve.lua")));
static COMPLETE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/complete.lua")));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/release.lua")));

/// Idempotency keys in Redis (≥ 7), one hash per `(scope, key)` at
/// `{prefix}idem:{scope}:{key}` (`%` and `:` in the scope are percent-encoded, so no two
/// scopes share a key).
///
/// Each operation is one small Lua script (EVALSHA, loaded on NOSCRIPT), atomic on the server:
/// - `reserve` takes the key when it is absent or its stored deadline is at or before `now`
///   (the `SET NX PX` of SPEC §5.1, with the expiry decided by the caller's clock), storing
///   the state, a fresh random 128-bit token, the deadline and the fingerprint;
/// - `complete` replaces the entry with the outcome only while the caller's token holds it in
///   flight at `now` (compare-and-set), else answers [`Completion::Lost`];
/// - `release` deletes the entry only when it is in flight under the caller's token.
///
/// `PX`/`PEXPIRE` (the TTL or retention, at least 1 ms) only lets Redis drop entries nobody
/// needs any more; it never decides an answer. Redis down or slow is `Unavailable` within the
/// connection's command timeout: the send fails with 503 instead of skipping the check.
#[derive(Debug, Clone)]
pub struct RedisIdempotencyStore {
    conn: RedisConnection,
    prefix: String,
}

impl RedisIdempotencyStore {
    /// A store on `conn` whose keys all start with `key_prefix` (e.g. `nh:`; a fresh prefix per
    /// test isolates tests sharing one server).
    pub fn new(conn: RedisConnection, key_prefix: impl Into<String>) -> Self {
        Self { conn, prefix: key_prefix.into() }
    }

    fn key(&self, scope: &str, key: &IdempotencyKey) -> String {
        format!("{}idem:{}:{}", self.prefix, escape_scope(scope), key.as_str())
    }
}

/// Percent-encodes `%` and `:` so the scope ends at the first `:` of the Redis key.
fn escape_scope(scope: &str) -> String {
    scope.replace('%', "%25").replace(':', "%3A")
}

fn corrupt(what: impl std::fmt::Display) -> PortError {
    PortError::Unexpected(anyhow::anyhow!("corrupt idempotency entry in Redis: {what}"))
}

fn parse_fingerprint(hex: &str) -> Result<Fingerprint, PortError> {
    Fingerprint::from_hex(hex).ok_or_else(|| corrupt(format!("fingerprint {hex:?}")))
}

#[async_trait]
impl IdempotencyStore for RedisIdempotencyStore {
    async fn reserve(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: DateTime<Utc>,
        in_flight_ttl: Duration,
    ) -> Result<Reservation, PortError> {
        let token = ReservationToken::from_u128(rand::random());
        let redis_key = self.key(scope, key);
        let reply: Vec<String> = self
            .conn
            .run("reserve (EVALSHA)", |mut conn| async move {
                RESERVE
                    .key(redis_key)
                    .arg(now.timestamp_millis())
                    .arg(deadline_ms(now, in_flight_ttl))
                    .arg(px_ms(in_flight_ttl))
                    .arg(token.to_string())
                    .arg(fingerprint.to_hex())
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        match reply.as_slice() {
            [state] if state == "reserved" => Ok(Reservation::Reserved { token }),
            [state, held, _] if state == "in_flight" => {
                Ok(Reservation::InFlight { fingerprint: parse_fingerprint(held)? })
            }
            [state, held, body] if state == "completed" => Ok(Reservation::Completed(StoredResponse {
                fingerprint: parse_fingerprint(held)?,
                body: body.clone(),
            })),
            other => Err(corrupt(format!("reply {other:?}"))),
        }
    }

    async fn complete(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: ReservationToken,
        response: StoredResponse,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Result<Completion, PortError> {
        let redis_key = self.key(scope, key);
        let stored: i64 = self
            .conn
            .run("complete (EVALSHA)", |mut conn| async move {
                COMPLETE
                    .key(redis_key)
                    .arg(now.timestamp_millis())
                    .arg(token.to_string())
                    .arg(deadline_ms(now, retention))
                    .arg(px_ms(retention))
                    .arg(response.fingerprint.to_hex())
                    .arg(response.body)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Ok(if stored == 1 { Completion::Stored } else { Completion::Lost })
    }

    async fn release(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: ReservationToken,
    ) -> Result<(), PortError> {
        let redis_key = self.key(scope, key);
        let _released: i64 = self
            .conn
            .run("release (EVALSHA)", |mut conn| async move {
                RELEASE.key(redis_key).arg(token.to_string()).invoke_async(&mut conn).await
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cannot_run_into_keys() {
        assert_eq!(escape_scope("shop"), "shop");
        assert_eq!(escape_scope("a:b"), "a%3Ab");
        assert_eq!(escape_scope("100%:"), "100%25%3A");
        // ("a:b", "c") and ("a", "b:c") would both be `a:b:c` without the escape.
        assert_ne!(format!("{}:c", escape_scope("a:b")), format!("{}:b:c", escape_scope("a")));
    }
}
