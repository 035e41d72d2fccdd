use async_trait::async_trait;

use crate::error::PortError;

/// A dependency whose health readiness reports (store, Redis, Kafka).
#[async_trait]
pub trait HealthProbe: Send + Sync + std::fmt::Debug {
    /// Short stable name shown in the readiness document (`store`, `redis`, `kafka`).
    fn name(&self) -> &'static str;

    /// Checks the dependency with a cheap round trip. `Err(Unavailable)` when it cannot be
    /// reached in time; implementations bound their own wait (about 1 s).
    async fn check(&self) -> Result<(), PortError>;
}
