//! Readiness of the dependencies (SPEC §5.7).

use crate::App;

/// One dependency's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyStatus {
    /// `store`, `redis`, `kafka`.
    pub name: &'static str,
    /// Reachable.
    pub up: bool,
    /// Why not, when down (no secrets: the error's message only).
    pub error: Option<String>,
}

impl App {
    /// Checks every dependency, one after the other (each probe bounds its own wait); ready
    /// when all are up.
    pub async fn readiness(&self) -> Vec<DependencyStatus> {
        let checks = self.deps.probes.iter().map(|probe| async move {
            let result = probe.check().await;
            DependencyStatus {
                name: probe.name(),
                up: result.is_ok(),
                error: result.err().map(|e| e.to_string()),
            }
        });
        let mut out = Vec::with_capacity(self.deps.probes.len());
        for check in checks {
            out.push(check.await);
        }
        out
    }
}
