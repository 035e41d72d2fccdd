//! Driven adapters of notification-hub: the technologies behind the application's ports.
//!
//! - [`sqlite`]: every store port on one SQLite file with grouped commits — the embedded store.
//! - [`memory`]: in-process idempotency store, rate limiter and delivery queues — the
//!   embedded defaults (SPEC §2), good for one replica.
//! - [`vendors`]: channel senders; so far the deterministic mock vendors (SPEC §9).

pub mod memory;
pub mod sqlite;
pub mod vendors;
