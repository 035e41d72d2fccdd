//! Driven adapters of notification-hub: the technologies behind the application's ports.
//!
//! - [`sqlite`]: every store port on one SQLite file with grouped commits — the embedded store.
//! - [`postgres`]: every store port on PostgreSQL ≥ 15 (SKIP LOCKED claims, NOTIFY wake-ups) —
//!   the production store.
//! - [`memory`]: in-process idempotency store, rate limiter and delivery queues — the
//!   embedded defaults (SPEC §2), good for one replica.
//! - [`redis`]: the idempotency store and rate limiter in Redis, shared by every replica.
//! - [`kafka`]: per-channel delivery queues on Kafka topics (librdkafka, bundled) — the
//!   production queue for several replicas.
//! - [`prometheus`]: the metrics port on a Prometheus registry, for `GET /metrics`.
//! - [`vendors`]: channel senders; so far the deterministic mock vendors (SPEC §9).

pub mod kafka;
pub mod memory;
pub mod postgres;
pub mod prometheus;
pub mod redis;
mod sql_columns;
pub mod sqlite;
pub mod vendors;
