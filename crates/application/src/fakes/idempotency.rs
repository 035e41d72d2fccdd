use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use hub_domain::idempotency::{Fingerprint, IdempotencyKey};

use crate::error::PortError;
use crate::ports::{Completion, IdempotencyStore, Reservation, ReservationToken, StoredResponse};

#[derive(Debug, Clone)]
enum Entry {
    InFlight { fingerprint: Fingerprint, token: ReservationToken, expires: DateTime<Utc> },
    Done { response: StoredResponse, expires: DateTime<Utc> },
}

/// In-process idempotency keys with expiry, like the embedded adapter; tokens come from a
/// counter.
#[derive(Debug, Default)]
pub struct InMemoryIdempotency {
    entries: Mutex<HashMap<(String, String), Entry>>,
    down: AtomicBool,
    tokens: AtomicU64,
}

impl InMemoryIdempotency {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail with `Unavailable` (like Redis down) until switched back.
    pub fn set_unavailable(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Forgets every key (like a Redis flush).
    pub fn flush(&self) {
        self.entries.lock().expect("lock").clear();
    }

    /// Number of keys held (in flight or completed).
    pub fn len(&self) -> usize {
        self.entries.lock().expect("lock").len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self) -> Result<(), PortError> {
        if self.down.load(Ordering::SeqCst) {
            Err(PortError::unavailable("idempotency store down"))
        } else {
            Ok(())
        }
    }
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotency {
    async fn reserve(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: DateTime<Utc>,
        in_flight_ttl: Duration,
    ) -> Result<Reservation, PortError> {
        self.check()?;
        let mut entries = self.entries.lock().expect("lock");
        let slot = (scope.to_owned(), key.as_str().to_owned());
        match entries.get(&slot) {
            Some(Entry::InFlight { fingerprint: held, expires, .. }) if *expires > now => {
                return Ok(Reservation::InFlight { fingerprint: *held });
            }
            Some(Entry::Done { response, expires }) if *expires > now => {
                return Ok(Reservation::Completed(response.clone()));
            }
            _ => {}
        }
        let token = ReservationToken::from_u128(u128::from(self.tokens.fetch_add(1, Ordering::SeqCst) + 1));
        entries.insert(
            slot,
            Entry::InFlight { fingerprint: *fingerprint, token, expires: after(now, in_flight_ttl) },
        );
        Ok(Reservation::Reserved { token })
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
        self.check()?;
        let mut entries = self.entries.lock().expect("lock");
        let slot = (scope.to_owned(), key.as_str().to_owned());
        match entries.get(&slot) {
            Some(Entry::InFlight { token: held, expires, .. }) if *held == token && *expires > now => {
                entries.insert(slot, Entry::Done { response, expires: after(now, retention) });
                Ok(Completion::Stored)
            }
            _ => Ok(Completion::Lost),
        }
    }

    async fn release(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: ReservationToken,
    ) -> Result<(), PortError> {
        self.check()?;
        let mut entries = self.entries.lock().expect("lock");
        let slot = (scope.to_owned(), key.as_str().to_owned());
        if matches!(entries.get(&slot), Some(Entry::InFlight { token: held, .. }) if *held == token) {
            entries.remove(&slot);
        }
        Ok(())
    }
}
