//! In-process adapters, the embedded defaults of SPEC §2 (one replica, no services): memory is
//! bounded by live data, locks are short and sharded, and nothing survives a restart (each type
//! says what that costs).

mod idempotency;
mod queue;
mod rate_limiter;
mod shards;

pub use idempotency::MemoryIdempotencyStore;
pub use queue::{DEFAULT_VISIBILITY_TIMEOUT, MemoryDeliveryQueue};
pub use rate_limiter::MemoryRateLimiter;
