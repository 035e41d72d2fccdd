//! Redis (≥ 7) adapters, the production set of SPEC §2: the idempotency store and the rate
//! limiter shared by every replica, on one self-reconnecting connection (ADR 0017).
//!
//! Every answer is decided by a small Lua script from the caller's `now`, never the Redis
//! clock; server-side expiry only frees memory. Redis down, unreachable or stalled is
//! `PortError::Unavailable` within the connection's command timeout (the API answers 503) —
//! never a hang and never a request let through unchecked.

mod connection;
mod idempotency;
mod rate_limiter;
mod time;

pub use connection::{RedisConnection, RedisSettings};
pub use idempotency::RedisIdempotencyStore;
pub use rate_limiter::RedisRateLimiter;
