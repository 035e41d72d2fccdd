use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};

use crate::error::PortError;

/// A completed request's outcome, stored for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Fingerprint of the request that produced it.
    pub fingerprint: Fingerprint,
    /// The serialized outcome (opaque to the store).
    pub body: String,
}

/// Names one holder of a reservation; made by the store when it grants the reservation.
///
/// [`IdempotencyStore::complete`] and [`IdempotencyStore::release`] act only while this token
/// still holds the key, so a holder whose reservation expired (and was taken by a newer request)
/// can neither free nor overwrite the newer holder's entry. A store makes every token it grants
/// for a key different from the ones it granted before for that key (a counter, or 128 random
/// bits for a store shared by several replicas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReservationToken(u128);

impl ReservationToken {
    /// A token from its 128 bits.
    pub const fn from_u128(bits: u128) -> Self {
        Self(bits)
    }

    /// The token's 128 bits.
    pub const fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for ReservationToken {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// The answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key was free and is now held in flight by this request.
    Reserved {
        /// This holder's token, for [`IdempotencyStore::complete`] or
        /// [`IdempotencyStore::release`].
        token: ReservationToken,
    },
    /// Another request holds the key and has not completed.
    InFlight {
        /// Fingerprint of the request holding it.
        fingerprint: Fingerprint,
    },
    /// A request with this key completed; its stored outcome.
    Completed(StoredResponse),
}

impl Reservation {
    /// The holder's token when the key was reserved.
    pub fn token(&self) -> Option<ReservationToken> {
        match self {
            Self::Reserved { token } => Some(*token),
            _ => None,
        }
    }
}

/// What [`IdempotencyStore::complete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The token still held the key: the outcome is stored for replay.
    Stored,
    /// The reservation was no longer held at `now` (expired, released, or taken by a newer
    /// request): nothing was written, whatever the key holds stays as it is.
    Lost,
}

/// Idempotency keys (SPEC §5.1), namespaced per caller scope.
///
/// Expiry is decided by comparing an entry's deadline with the `now` argument, never a backend
/// clock: an entry whose deadline is at or before `now` counts as absent. A backend that also
/// expires keys on its own (Redis `PX`) does so only to free memory.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + std::fmt::Debug {
    /// Atomically reserves `(scope, key)` until `now + in_flight_ttl` (Redis `SET NX PX`) unless
    /// it is held or completed, and returns the new holder's token. A reservation whose holder
    /// died expires after `in_flight_ttl`.
    /// Errors: `Unavailable` when the store is down — callers must fail the request (503),
    /// never skip the check.
    async fn reserve(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: DateTime<Utc>,
        in_flight_ttl: Duration,
    ) -> Result<Reservation, PortError>;

    /// Stores the outcome of the key reserved with `token`, kept until `now + retention` —
    /// only if `token` still holds the key in flight at `now` (compare-and-set). Otherwise
    /// writes nothing and returns [`Completion::Lost`]: a stale holder never overwrites a newer
    /// holder's reservation or outcome. Errors: `Unavailable` when the store is down.
    async fn complete(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: ReservationToken,
        response: StoredResponse,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Result<Completion, PortError>;

    /// Releases the in-flight reservation held by `token` so the caller can retry (after a
    /// 5xx, 429 or dependency failure) — compare-and-delete: a key held by another token, a
    /// completed key or a free key is left as it is (no error). Errors: `Unavailable` when the
    /// store is down.
    async fn release(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: ReservationToken,
    ) -> Result<(), PortError>;
}
