use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::PortError;

/// What [`CallbackLog::remember`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    /// The id was not known (or its record had expired): an unsettled claim is recorded now, and
    /// the caller applies the callback, then settles or forgets the claim.
    New,
    /// The id is claimed by a caller that has neither settled nor forgotten it yet, and the claim
    /// has not expired: that caller is still applying the callback (or crashed doing so).
    InFlight,
    /// The id is known, settled and its record has not expired: a replay.
    AlreadySeen,
}

/// The `webhook-id`s of vendor callbacks claimed or already taken (SPEC §5.5): a replay of a
/// signed callback inside the signature tolerance is answered 200 without doing anything again.
///
/// Kept in the database (not in process memory) so every replica sees the same ids and a
/// restart forgets nothing. A record is live while `now < keep_until`; it is either an
/// unsettled claim (the callback is being applied; short-lived, so a crash cannot keep the id
/// forever) or settled (the callback was applied; kept for the replay window).
#[async_trait]
pub trait CallbackLog: Send + Sync + std::fmt::Debug {
    /// Claims `(vendor, webhook_id)` until `claim_until` — an unsettled record — unless a live
    /// record exists, in one atomic step (two concurrent calls never both get
    /// [`Remembered::New`]). An expired record (`keep_until <= now`), settled or not, counts as
    /// absent and is replaced. A live record answers [`Remembered::InFlight`] when unsettled and
    /// [`Remembered::AlreadySeen`] when settled, and is left unchanged.
    /// Errors: `Unavailable`, `Unexpected`.
    async fn remember(
        &self,
        vendor: &str,
        webhook_id: &str,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
    ) -> Result<Remembered, PortError>;

    /// Marks the record of `(vendor, webhook_id)` settled (the callback was applied) and keeps
    /// it until `keep_until`, whether it was live or not. Unknown ids are ignored: nothing is
    /// recorded. Errors: `Unavailable`, `Unexpected`.
    async fn settle(
        &self,
        vendor: &str,
        webhook_id: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<(), PortError>;

    /// Deletes the record of `(vendor, webhook_id)` (the callback was not applied, so the
    /// vendor's retry must be taken). Unknown ids are ignored. Errors: `Unavailable`, `Unexpected`.
    async fn forget(&self, vendor: &str, webhook_id: &str) -> Result<(), PortError>;

    /// Deletes up to `limit` records that expired at `now` (`keep_until <= now`), settled or
    /// not; returns how many. Errors: `Unavailable`, `Unexpected`.
    async fn purge_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<u64, PortError>;
}
