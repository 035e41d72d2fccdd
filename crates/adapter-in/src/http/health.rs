//! Probes (SPEC §5.7): liveness, readiness per dependency, startup.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::HttpState;
use super::dto::health::{DependencyDto, Health, ReadinessDto, StatusDto};

/// The process is up.
#[utoipa::path(
    get,
    path = "/health/live",
    operation_id = "live",
    tag = "health",
    responses((status = 200, description = "Always UP while the process serves requests.", body = StatusDto))
)]
pub(crate) async fn live() -> Json<StatusDto> {
    Json(StatusDto { status: Health::Up })
}

/// Every configured dependency answers.
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "ready",
    tag = "health",
    responses(
        (status = 200, description = "Every dependency is UP.", body = ReadinessDto),
        (status = 503, description = "Some dependency is DOWN.", body = ReadinessDto),
    )
)]
pub(crate) async fn ready(State(state): State<HttpState>) -> (StatusCode, Json<ReadinessDto>) {
    let checks = state.app().readiness().await;
    let mut dependencies = std::collections::BTreeMap::new();
    for check in &checks {
        if let Some(error) = &check.error {
            // The cause may name hosts or users: it goes to the log, not to the probe's body.
            tracing::warn!(dependency = check.name, error = %error, "dependency not ready");
        }
        dependencies.insert(check.name, DependencyDto { status: Health::of(check.up) });
    }
    let up = checks.iter().all(|c| c.up);
    let status = if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(ReadinessDto { status: Health::of(up), dependencies }))
}

/// Start-up (migrations) is done.
#[utoipa::path(
    get,
    path = "/health/startup",
    operation_id = "startup",
    tag = "health",
    responses(
        (status = 200, description = "Start-up is done.", body = StatusDto),
        (status = 503, description = "Still starting (migrations running).", body = StatusDto),
    )
)]
pub(crate) async fn startup(State(state): State<HttpState>) -> (StatusCode, Json<StatusDto>) {
    let started = state.is_started();
    let status = if started { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(StatusDto { status: Health::of(started) }))
}
