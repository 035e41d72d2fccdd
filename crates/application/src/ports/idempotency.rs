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

/// The answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key was free and is now held in flight by this request.
    Reserved,
    /// Another request holds the key and has not completed.
    InFlight {
        /// Fingerprint of the request holding it.
        fingerprint: Fingerprint,
    },
    /// A request with this key completed; its stored outcome.
    Completed(StoredResponse),
}

/// Idempotency keys (SPEC §5.1), namespaced per caller scope.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + std::fmt::Debug {
    /// Atomically reserves `(scope, key)` for `in_flight_ttl` (Redis `SET NX PX`) unless it is
    /// held or completed. A reservation whose holder died expires after `in_flight_ttl`.
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

    /// Stores the outcome of the reserved key, kept for `retention`.
    async fn complete(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        response: StoredResponse,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Result<(), PortError>;

    /// Releases a reservation so the caller can retry (after a 5xx, 429 or dependency failure).
    async fn release(&self, scope: &str, key: &IdempotencyKey) -> Result<(), PortError>;
}
