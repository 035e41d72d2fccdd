//! A fixed set of mutex-guarded shards, chosen by the hash of a key.
//!
//! The in-process idempotency store and rate limiter keep their maps here so that requests for
//! different keys rarely wait for each other: a lock covers one shard (1/N of the keys) and is
//! held only for a few map operations, never across an `.await`.

use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The shard count used by the default constructors: enough that a few dozen concurrent
/// requests rarely meet on one lock, small enough that a full sweep stays cheap.
pub(crate) const DEFAULT_SHARDS: usize = 32;

/// `N` independently locked values of `T`, picked by the hash of a key.
#[derive(Debug)]
pub(crate) struct Shards<T> {
    shards: Box<[Mutex<T>]>,
    // Per-instance random keys, so a caller cannot aim many keys at one shard.
    hasher: RandomState,
}

impl<T: Default> Shards<T> {
    /// `count` empty shards (at least one).
    pub(crate) fn new(count: usize) -> Self {
        let shards = (0..count.max(1)).map(|_| Mutex::new(T::default())).collect();
        Self { shards, hasher: RandomState::new() }
    }
}

impl<T> Shards<T> {
    /// Locks the shard that holds `key`.
    pub(crate) fn lock<K: Hash + ?Sized>(&self, key: &K) -> MutexGuard<'_, T> {
        // The modulo of a u64 by a usize-sized count always fits back into usize.
        let index = (self.hasher.hash_one(key) % self.shards.len() as u64) as usize;
        lock(&self.shards[index])
    }

    /// Locks each shard in turn (one at a time), for sweeps and counts.
    pub(crate) fn each(&self) -> impl Iterator<Item = MutexGuard<'_, T>> + '_ {
        self.shards.iter().map(lock)
    }
}

/// Locks a mutex, ignoring poisoning: the critical sections here are plain map and heap
/// operations that do not panic halfway through an update, so the data stays valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
