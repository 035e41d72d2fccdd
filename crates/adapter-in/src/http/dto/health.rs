//! Probe answers (SPEC §5.7).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

/// UP or DOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Health {
    /// Working.
    Up,
    /// Not working.
    Down,
}

impl Health {
    /// UP when `up`.
    pub(crate) fn of(up: bool) -> Self {
        if up { Health::Up } else { Health::Down }
    }
}

/// `/health/live` and `/health/startup`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Status)]
pub(crate) struct StatusDto {
    /// UP or DOWN.
    pub(crate) status: Health,
}

/// One dependency's readiness.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Dependency)]
pub(crate) struct DependencyDto {
    /// UP or DOWN (the cause is logged, not shown).
    pub(crate) status: Health,
}

/// `/health/ready`: UP only when every dependency is.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Readiness)]
pub(crate) struct ReadinessDto {
    /// UP when every dependency is UP.
    pub(crate) status: Health,
    /// Per dependency (`store`, `redis`, `kafka` as configured).
    pub(crate) dependencies: BTreeMap<&'static str, DependencyDto>,
}
