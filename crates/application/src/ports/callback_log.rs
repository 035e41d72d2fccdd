use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::PortError;

/// What [`CallbackLog::remember`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    /// The id was not known (or its record had expired): it is recorded now.
    New,
    /// The id is known and its record has not expired: a replay.
    AlreadySeen,
}

/// The `webhook-id`s of vendor callbacks already taken (SPEC §5.5): a replay of a signed
/// callback inside the signature tolerance is answered 200 without doing anything again.
///
/// Kept in the database (not in process memory) so every replica sees the same ids and a
/// restart forgets nothing. A record is live while `now < keep_until`.
#[async_trait]
pub trait CallbackLog: Send + Sync + std::fmt::Debug {
    /// Records `(vendor, webhook_id)` until `keep_until` unless a live record exists, in one
    /// atomic step (two concurrent calls never both get [`Remembered::New`]). An expired record
    /// (`keep_until <= now`) counts as absent and is replaced. Errors: `Unavailable`, `Unexpected`.
    async fn remember(
        &self,
        vendor: &str,
        webhook_id: &str,
        now: DateTime<Utc>,
        keep_until: DateTime<Utc>,
    ) -> Result<Remembered, PortError>;

    /// Deletes the record of `(vendor, webhook_id)` (the callback was not applied, so the
    /// vendor's retry must be taken). Unknown ids are ignored. Errors: `Unavailable`, `Unexpected`.
    async fn forget(&self, vendor: &str, webhook_id: &str) -> Result<(), PortError>;

    /// Deletes up to `limit` records that expired at `now` (`keep_until <= now`); returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>, limit: usize) -> Result<u64, PortError>;
}
