//! In-process idempotency keys (the embedded default; Redis `SET NX PX` in production).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use hub_application::PortError;
use hub_application::ports::{Completion, IdempotencyStore, Reservation, ReservationToken, StoredResponse};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};

use super::shards::{DEFAULT_SHARDS, Shards};

/// How many expired keys one call may remove at most, so no request pays for a whole backlog.
/// Every call adds at most one expiry, so a budget above one still drains any backlog.
const SWEEP_BUDGET: usize = 32;

/// `(scope, key)`: scopes are independent namespaces.
type Slot = (String, String);

#[derive(Debug)]
enum State {
    InFlight { fingerprint: Fingerprint, token: ReservationToken },
    Completed { response: StoredResponse },
}

#[derive(Debug)]
struct Entry {
    state: State,
    expires: DateTime<Utc>,
}

impl Entry {
    fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.expires > now
    }
}

#[derive(Debug, Default)]
struct Shard {
    entries: HashMap<Slot, Entry>,
    /// Every expiry ever set, soonest first. An item may be stale (its key was overwritten or
    /// released); the map's own expiry is what counts when it comes up.
    expiries: BinaryHeap<Reverse<(DateTime<Utc>, Slot)>>,
}

impl Shard {
    fn set(&mut self, slot: Slot, entry: Entry) {
        self.expiries.push(Reverse((entry.expires, slot.clone())));
        self.entries.insert(slot, entry);
    }

    /// Removes up to `budget` keys that expired at `now`; returns how many were removed.
    fn sweep(&mut self, now: DateTime<Utc>, budget: usize) -> usize {
        let mut removed = 0;
        for _ in 0..budget {
            match self.expiries.peek() {
                Some(Reverse((expires, _))) if *expires <= now => {}
                _ => break,
            }
            let Some(Reverse((_, slot))) = self.expiries.pop() else { break };
            if self.entries.get(&slot).is_some_and(|e| !e.live_at(now)) {
                self.entries.remove(&slot);
                removed += 1;
            }
        }
        if removed > 0 {
            shrink_if_sparse(&mut self.entries);
        }
        removed
    }
}

/// Gives memory back after a burst: maps never shrink on their own. Shrinking only when a map
/// is at a quarter of its capacity keeps the cost amortised O(1) per removed key.
fn shrink_if_sparse(entries: &mut HashMap<Slot, Entry>) {
    if entries.capacity() > 64 && entries.len() < entries.capacity() / 4 {
        entries.shrink_to(entries.len() * 2);
    }
}

fn after(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(ttl).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Idempotency keys held in this process, for a single replica (SPEC §2 embedded set).
///
/// Semantics follow the [`IdempotencyStore`] port: a key is reserved in flight for
/// `in_flight_ttl`, completed outcomes are kept for `retention`, an expired entry counts as
/// absent, scopes are independent, and `complete` / `release` act only while the caller's
/// token still holds the key in flight. Tokens come from a per-store counter, so no two
/// reservations made by one store share a token.
///
/// **Concurrency.** Keys are spread over 32 mutex-guarded shards by a per-instance random
/// hash; each call locks one shard for a few map operations and never across an `.await`, so
/// unrelated requests do not queue on one global lock, while the check-and-set of one key is
/// still atomic.
///
/// **Bounded memory.** Each shard keeps a min-heap of expiry times next to its map. Every
/// `reserve` and `complete` first pops up to 32 expired items from its shard's heap and removes
/// those keys (amortised O(log n) per call, no full scans, no background task);
/// [`MemoryIdempotencyStore::purge_expired`] sweeps everything, for a periodic maintenance
/// task. Memory therefore follows the keys that are live (plus stale heap items, which
/// themselves expire within the longest TTL).
///
/// Everything is lost when the process exits: a retry of a request made before the restart is
/// then not answered as a replay, but the notification store's own unique key on
/// `(scope, idempotency key)` still refuses to accept it twice.
#[derive(Debug)]
pub struct MemoryIdempotencyStore {
    shards: Shards<Shard>,
    /// The last token granted.
    tokens: AtomicU64,
}

impl MemoryIdempotencyStore {
    /// An empty store with the default number of shards.
    pub fn new() -> Self {
        Self::with_shards(DEFAULT_SHARDS)
    }

    /// An empty store with `shards` shards (at least one).
    pub fn with_shards(shards: usize) -> Self {
        Self { shards: Shards::new(shards), tokens: AtomicU64::new(0) }
    }

    /// Keys held, in flight or completed, including expired ones not swept yet.
    pub fn len(&self) -> usize {
        self.shards.each().map(|s| s.entries.len()).sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key expired at `now` from every shard; returns how many were removed.
    pub fn purge_expired(&self, now: DateTime<Utc>) -> usize {
        self.shards.each().map(|mut s| s.sweep(now, usize::MAX)).sum()
    }
}

impl Default for MemoryIdempotencyStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn reserve(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: DateTime<Utc>,
        in_flight_ttl: Duration,
    ) -> Result<Reservation, PortError> {
        let slot = (scope.to_owned(), key.as_str().to_owned());
        let mut shard = self.shards.lock(&slot);
        shard.sweep(now, SWEEP_BUDGET);
        match shard.entries.get(&slot) {
            Some(entry) if entry.live_at(now) => Ok(match &entry.state {
                State::InFlight { fingerprint, .. } => Reservation::InFlight { fingerprint: *fingerprint },
                State::Completed { response } => Reservation::Completed(response.clone()),
            }),
            _ => {
                let token =
                    ReservationToken::from_u128(u128::from(self.tokens.fetch_add(1, Ordering::Relaxed) + 1));
                let entry = Entry {
                    state: State::InFlight { fingerprint: *fingerprint, token },
                    expires: after(now, in_flight_ttl),
                };
                shard.set(slot, entry);
                Ok(Reservation::Reserved { token })
            }
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
        let slot = (scope.to_owned(), key.as_str().to_owned());
        let mut shard = self.shards.lock(&slot);
        shard.sweep(now, SWEEP_BUDGET);
        let holds = matches!(
            shard.entries.get(&slot),
            Some(entry @ Entry { state: State::InFlight { token: held, .. }, .. })
                if *held == token && entry.live_at(now)
        );
        if !holds {
            return Ok(Completion::Lost);
        }
        shard.set(slot, Entry { state: State::Completed { response }, expires: after(now, retention) });
        Ok(Completion::Stored)
    }

    async fn release(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: ReservationToken,
    ) -> Result<(), PortError> {
        let slot = (scope.to_owned(), key.as_str().to_owned());
        let mut shard = self.shards.lock(&slot);
        // Its heap item stays until it comes up; it then finds nothing and is dropped.
        if matches!(
            shard.entries.get(&slot),
            Some(Entry { state: State::InFlight { token: held, .. }, .. }) if *held == token
        ) {
            shard.entries.remove(&slot);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
