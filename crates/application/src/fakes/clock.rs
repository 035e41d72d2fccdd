use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

use crate::ports::{Clock, Entropy};

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += TimeDelta::from_std(by).expect("duration fits");
    }

    /// Sets the clock.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// Deterministic entropy: ULID bits count up; jitter is always the midpoint (no jitter).
#[derive(Debug, Default)]
pub struct SequenceEntropy {
    next: AtomicU64,
    unit_bits: AtomicU64,
}

impl SequenceEntropy {
    /// Starts at 1 with jitter unit 0.5.
    pub fn new() -> Self {
        let e = SequenceEntropy::default();
        e.set_unit(0.5);
        e
    }

    /// Sets the value `unit()` returns.
    pub fn set_unit(&self, unit: f64) {
        self.unit_bits.store(unit.to_bits(), Ordering::SeqCst);
    }
}

impl Entropy for SequenceEntropy {
    fn ulid_bits(&self) -> u128 {
        u128::from(self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn unit(&self) -> f64 {
        f64::from_bits(self.unit_bits.load(Ordering::SeqCst))
    }
}
