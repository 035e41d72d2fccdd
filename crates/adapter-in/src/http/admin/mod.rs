//! The operators' admin API (SPEC §5.6) under `/api/v1/admin/…`: the dead-letter queue, bulk
//! replay/discard jobs and the audit trail.
//!
//! Every admin route sits behind two layers, outermost first (ADR 0021):
//! 1. `limits`: 60 requests/min (configurable) per client IP × scope (`dlq.read`, `dlq.write`,
//!    `dlq.bulk`) with `tower_governor`, answering 429 RATE_LIMITED with `Retry-After`; the
//!    client IP is the peer address, or the `X-Forwarded-For` client when the peer is a
//!    trusted proxy. Rejected calls (401) count too, which slows token guessing.
//! 2. `auth`: `X-Admin-Token` compared in constant time; no token configured = every call 401.
//!
//! One file per role: `auth`, `limits`, `dto` (wire shapes), `dlq`, `bulk`, `audit` (handlers).

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use hub_domain::rate_limit::BucketPolicy;
use ipnet::IpNet;
use secrecy::SecretString;

use super::HttpState;

pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod bulk;
pub(crate) mod dlq;
pub(crate) mod dto;
mod errors;
pub(crate) mod limits;
pub(crate) mod openapi;
pub(crate) mod views;

/// The actor recorded in the audit trail for calls made with the admin token: a fixed,
/// non-secret label (there is one shared token, so nothing finer can be said honestly).
pub const ADMIN_ACTOR: &str = "admin";

/// How the admin API is protected: the token, the rate limit and the trusted proxy networks.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// The expected `X-Admin-Token`; `None` = every admin call answers 401.
    pub token: Option<SecretString>,
    /// Requests per client IP and scope: `capacity` at once, refilled evenly over `period`.
    pub rate_limit: BucketPolicy,
    /// Peers whose `X-Forwarded-For` is believed (reverse proxies, load balancers).
    pub trusted_proxies: Vec<IpNet>,
}

impl AdminSettings {
    /// The SPEC default: 60 requests per minute per client IP and scope.
    pub const DEFAULT_RATE_LIMIT: &'static str = "60/60s";
}

impl Default for AdminSettings {
    /// No token (admin API closed), 60 requests/min, no trusted proxies.
    fn default() -> Self {
        AdminSettings {
            token: None,
            rate_limit: BucketPolicy::parse(Self::DEFAULT_RATE_LIMIT).expect("valid literal"),
            trusted_proxies: Vec::new(),
        }
    }
}

/// What the admin layers share, built once per [`HttpState`].
#[derive(Debug, Clone)]
pub(crate) struct AdminState {
    pub(crate) token: auth::TokenCheck,
    pub(crate) limiter: Arc<limits::AdminGovernor>,
}

impl AdminState {
    pub(crate) fn new(settings: &AdminSettings) -> Self {
        AdminState {
            token: auth::TokenCheck::new(settings.token.as_ref()),
            limiter: Arc::new(limits::governor(settings.rate_limit, settings.trusted_proxies.clone())),
        }
    }
}

/// The admin routes with their rate-limit and token layers (`route_layer`: unknown admin paths
/// still answer 404 without a token).
pub(crate) fn routes(state: &HttpState) -> Router<HttpState> {
    Router::new()
        .route("/api/v1/admin/dlq", get(dlq::list))
        .route("/api/v1/admin/dlq/stats", get(dlq::stats))
        .route("/api/v1/admin/dlq/bulk-replay", post(bulk::bulk_replay))
        .route("/api/v1/admin/dlq/bulk-discard", post(bulk::bulk_discard))
        .route("/api/v1/admin/dlq/bulk-jobs/{jobId}", get(bulk::job))
        // Every other method (DELETE in particular) answers 405 with `Allow: GET`.
        .route("/api/v1/admin/dlq/{deliveryId}", get(dlq::detail).fallback(dlq::not_allowed))
        .route("/api/v1/admin/dlq/{deliveryId}/replay", post(dlq::replay))
        .route("/api/v1/admin/dlq/{deliveryId}/discard", post(dlq::discard))
        .route("/api/v1/admin/audit", get(audit::list))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token))
        .route_layer(limits::layer(state.admin().limiter.clone()))
}
