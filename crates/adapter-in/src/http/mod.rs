//! The HTTP API of SPEC §5.1–§5.7 on axum: [`router`] over an [`HttpState`].
//!
//! One file per role: `router` (routes, fallbacks, the problem+json edge), `error` (`ApiError`),
//! `extract` (extractors that reject through `ApiError`), `dto` (wire shapes), one handler file
//! per area, `webhooks` (signature checks of vendor callbacks), `admin` (the operators' API of
//! §5.6 with its token and rate limits), `metrics` (`GET /metrics` and the request-latency
//! middleware), `trace` (a span per request with W3C trace ids), and `openapi` (the OpenAPI 3.1 document served at
//! `/api/v1/openapi.json`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hub_application::App;
use secrecy::SecretString;

mod admin;
mod callbacks;
mod dto;
mod error;
mod extract;
mod health;
mod metrics;
mod notifications;
mod openapi;
mod recipients;
mod router;
mod templates;
mod trace;
mod webhooks;

pub use admin::{ADMIN_ACTOR, AdminSettings};
pub use callbacks::CALLBACK_BODY_LIMIT;
pub use openapi::openapi;
pub use router::{probes_router, router};
pub use trace::{CallerTrace, TraceExport, TraceIds};

/// The caller scope of idempotency keys until API keys exist (SPEC §8a).
pub const DEFAULT_SCOPE: &str = "default";

/// Largest accepted request body (256 KiB); larger bodies are answered 413.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// What the handlers share: the application, the caller scope and the startup flag.
#[derive(Debug, Clone)]
pub struct HttpState {
    app: App,
    scope: Arc<str>,
    started: Arc<AtomicBool>,
    body_limit: usize,
    admin: admin::AdminState,
    callback_secrets: Arc<webhooks::CallbackSecrets>,
    trace_export: Option<Arc<dyn TraceExport>>,
}

impl HttpState {
    /// State over `app` with the default scope, the default body limit and startup not yet done.
    pub fn new(app: App) -> Self {
        HttpState {
            app,
            scope: Arc::from(DEFAULT_SCOPE),
            started: Arc::new(AtomicBool::new(false)),
            body_limit: DEFAULT_BODY_LIMIT,
            admin: admin::AdminState::new(&AdminSettings::default()),
            callback_secrets: Arc::default(),
            trace_export: None,
        }
    }

    /// Protects the admin API with these settings (token, rate limit, trusted proxies). The
    /// default has no token, so every admin call answers 401.
    pub fn with_admin(mut self, settings: &AdminSettings) -> Self {
        self.admin = admin::AdminState::new(settings);
        self
    }

    /// Forgets the admin rate-limit state of clients whose quota is full again; call it every
    /// minute or so to bound memory (the server does, in bootstrap).
    pub fn sweep_admin_rate_limits(&self) {
        let limiter = self.admin.limiter.limiter();
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }

    /// Uses another caller scope for idempotency keys.
    pub fn with_scope(mut self, scope: impl Into<Arc<str>>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Uses another request body limit, in bytes.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Uses these per-vendor `whsec_…` secrets to verify vendor callbacks (SPEC §5.5); a vendor
    /// without a usable secret has every callback refused (401). None by default.
    pub fn with_callback_secrets(mut self, secrets: BTreeMap<String, SecretString>) -> Self {
        self.callback_secrets = Arc::new(webhooks::CallbackSecrets::new(secrets));
        self
    }

    /// Exports every `request` span through `export`, whose ids the request logs then carry
    /// (bootstrap's OpenTelemetry export, ADR 0026). None by default: the ids are made here.
    pub fn with_trace_export(mut self, export: Arc<dyn TraceExport>) -> Self {
        self.trace_export = Some(export);
        self
    }

    /// Shares a startup flag owned elsewhere (bootstrap sets it once migrations ran).
    pub fn with_startup_flag(mut self, started: Arc<AtomicBool>) -> Self {
        self.started = started;
        self
    }

    /// The startup flag `/health/startup` reports.
    pub fn startup_flag(&self) -> Arc<AtomicBool> {
        self.started.clone()
    }

    /// Marks startup as done (`/health/startup` answers 200 from now on).
    pub fn mark_started(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    /// The application.
    pub fn app(&self) -> &App {
        &self.app
    }

    pub(crate) fn scope(&self) -> &str {
        &self.scope
    }

    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    pub(crate) fn body_limit(&self) -> usize {
        self.body_limit
    }

    pub(crate) fn admin(&self) -> &admin::AdminState {
        &self.admin
    }

    pub(crate) fn trace_export(&self) -> Option<&dyn TraceExport> {
        self.trace_export.as_deref()
    }

    pub(crate) fn callback_secrets(&self) -> &webhooks::CallbackSecrets {
        &self.callback_secrets
    }
}
