//! `serve`: builds one adapter per port from the configuration (SPEC §2), wires the `App`, runs
//! the roles of `NH_ROLES` and shuts down gracefully on SIGTERM/SIGINT (SPEC §4).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hub_adapter_in::http::{AdminSettings, HttpState, probes_router, router};
use hub_adapter_out::prometheus::PrometheusMetrics;
use hub_adapter_out::vendors::mock::MockSender;
use hub_application::ports::{Metrics, SenderRegistry, SystemClock, SystemEntropy};
use hub_application::{App, Deps, Settings};
use hub_domain::resolver::ResolverPolicy;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backends::Backends;
use crate::config::Config;
use crate::{runtime, telemetry};

/// Dispatches a worker may hold before its lease ends: the mock latency plus a margin.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The application settings from the configuration.
pub fn settings(config: &Config) -> Settings {
    Settings {
        retry: config.retry.clone(),
        resolver: ResolverPolicy {
            kakao_night: config.kakao_night_window,
            kakao_night_tz: config.kakao_night_timezone.tz(),
        },
        rate_limits: config.rate_limits,
        default_locale: config.default_locale.clone(),
        default_timezone: config.default_timezone,
        idempotency_retention: config.idempotency_retention,
        dispatch_lease: config.dispatch_lease.max(config.mock_vendor_latency + LEASE_MARGIN),
        slack_aliases: config.slack_aliases.keys().cloned().collect(),
        topic_prefix: config.kafka_topic_prefix.clone(),
        bulk_replay_rate: config.bulk_replay_rate,
        job_lease: config.bulk_job_lease,
        ..Settings::default()
    }
}

/// Runs until SIGTERM/SIGINT, then drains within the grace period.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let backends = Backends::open(&config).await?;
    let store = backends.store.clone();
    let wake = store.outbox_signal();
    let ports = store.ports();
    // Served at `GET /metrics` by every role (ADR 0023).
    let metrics: Arc<dyn Metrics> = Arc::new(PrometheusMetrics::new());
    let mock = MockSender::new(config.mock_vendor_latency).with_metrics(metrics.clone());
    let deps = Deps {
        clock: Arc::new(SystemClock),
        entropy: Arc::new(SystemEntropy),
        notifications: ports.notifications,
        deliveries: ports.deliveries,
        dlq: ports.dlq,
        outbox: ports.outbox,
        recipients: ports.recipients,
        devices: ports.devices,
        templates: ports.templates,
        queue: backends.queue,
        idempotency: backends.idempotency,
        rate_limiter: backends.rate_limiter,
        senders: SenderRegistry::uniform(Arc::new(mock)),
        audit: ports.audit,
        callbacks: ports.callbacks,
        jobs: ports.jobs,
        probes: backends.probes,
        metrics,
    };
    let app = App::new(deps, settings(&config));
    let embedded = config.embedded_backends();
    if !embedded.is_empty() {
        tracing::warn!(
            backends = %embedded.join(", "),
            "embedded backends in use: run a single replica (several replicas need PostgreSQL, Redis and Kafka)"
        );
    }

    let token = CancellationToken::new();
    let tasks = TaskTracker::new();
    tokio::spawn(shutdown_on_signal(token.clone()));

    if config.roles.worker && !backends.queue_is_durable {
        // The in-process queue starts empty: queue again what the last process had queued.
        let requeued = app.requeue_all_due(500).await.context("re-queueing due deliveries at start")?;
        if requeued > 0 {
            tracing::info!(count = requeued, "re-queued due deliveries left by the previous process");
        }
    }
    if config.roles.worker {
        runtime::spawn_workers(
            &app,
            config.worker_concurrency,
            config.worker_batch,
            wake.clone(),
            &token,
            &tasks,
        );
    }
    if config.roles.relay {
        runtime::spawn_relay(&app, wake.clone(), &token, &tasks);
    }
    wake.notify_one();

    // Without the API role the listener serves only the probes, so relay/worker replicas can
    // be health-checked like API replicas.
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("NH_HTTP_ADDR: cannot listen on {}", config.http_addr))?;
    let mut state = HttpState::new(app.clone())
        .with_admin(&AdminSettings {
            token: config.admin_token.clone(),
            rate_limit: config.admin_rate_limit,
            trusted_proxies: config.trusted_proxies.clone(),
        })
        .with_callback_secrets(config.callback_secrets.clone());
    if let Some(export) = telemetry::trace_export(&config) {
        // Request spans become exported spans in the caller's trace, with the ids they log.
        state = state.with_trace_export(export);
    }
    state.mark_started();
    if config.roles.api {
        spawn_admin_limit_sweeper(state.clone(), &token, &tasks);
    }
    let routes = if config.roles.api { router(state) } else { probes_router(state) };
    let shutdown = token.clone();
    tracing::info!(addr = %config.http_addr, roles = ?config.roles, "notification-hub listening");
    let server = Some(tokio::spawn(async move {
        // The peer address feeds the admin rate limit (client IP × scope).
        axum::serve(listener, routes.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }));

    token.cancelled().await;
    tracing::info!(grace = %config.grace_text(), "shutting down: draining requests and dispatches");
    tasks.close();
    let drain = async {
        if let Some(server) = server {
            match server.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server ended with an error"),
                Err(e) => tracing::warn!(error = %e, "HTTP server task failed"),
                Ok(Ok(())) => {}
            }
        }
        tasks.wait().await;
    };
    if tokio::time::timeout(config.shutdown_grace, drain).await.is_err() {
        tracing::warn!("grace period over with work still running; leases will be reaped after restart");
    }
    store.close().await;
    tracing::info!("notification-hub stopped");
    Ok(())
}

/// Forgets, every minute, the admin rate-limit state of clients whose quota is full again.
fn spawn_admin_limit_sweeper(state: HttpState, token: &CancellationToken, tasks: &TaskTracker) {
    let token = token.clone();
    tasks.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = every.tick() => state.sweep_admin_rate_limits(),
            }
        }
    });
}

/// Cancels the token on the first SIGTERM or SIGINT.
async fn shutdown_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                let _ = ctrl_c.await;
                token.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    token.cancel();
}
