//! `serve`: builds one adapter per port from the configuration (SPEC §2), wires the `App`, runs
//! the roles of `NH_ROLES` and shuts down gracefully on SIGTERM/SIGINT (SPEC §4).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hub_adapter_in::http::{HttpState, router};
use hub_adapter_out::memory::{MemoryDeliveryQueue, MemoryIdempotencyStore, MemoryRateLimiter};
use hub_adapter_out::sqlite::SqliteStore;
use hub_adapter_out::vendors::mock::MockSender;
use hub_application::ports::{SenderRegistry, SystemClock, SystemEntropy};
use hub_application::{App, Deps, Settings};
use hub_domain::resolver::ResolverPolicy;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, StoreBackend};
use crate::runtime;

/// Dispatches a worker may hold before its lease ends: the mock latency plus a margin.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Opens the configured store, applying migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<SqliteStore>> {
    match &config.store {
        StoreBackend::Sqlite(path) => {
            let store = SqliteStore::open(path)
                .await
                .with_context(|| format!("opening the SQLite store at {}", path.display()))?;
            Ok(Arc::new(store))
        }
        StoreBackend::Postgres(_) => bail!(
            "NH_DATABASE_URL: PostgreSQL is not available in this build yet (production-backends issue); \
             leave it unset for the embedded SQLite store"
        ),
    }
}

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
        ..Settings::default()
    }
}

/// Runs until SIGTERM/SIGINT, then drains within the grace period.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    if config.redis_url.is_some() {
        bail!("NH_REDIS_URL: Redis is not available in this build yet (production-backends issue)");
    }
    if config.kafka_brokers.is_some() {
        bail!("NH_KAFKA_BROKERS: Kafka is not available in this build yet (production-backends issue)");
    }
    let store = open_store(&config).await?;
    let wake = store.commit_signal();
    let deps = Deps {
        clock: Arc::new(SystemClock),
        entropy: Arc::new(SystemEntropy),
        notifications: store.clone(),
        deliveries: store.clone(),
        dlq: store.clone(),
        outbox: store.clone(),
        recipients: store.clone(),
        devices: store.clone(),
        templates: store.clone(),
        queue: Arc::new(MemoryDeliveryQueue::default()),
        idempotency: Arc::new(MemoryIdempotencyStore::new()),
        rate_limiter: Arc::new(MemoryRateLimiter::new()),
        senders: SenderRegistry::uniform(Arc::new(MockSender::new(config.mock_vendor_latency))),
        audit: store.clone(),
        jobs: store.clone(),
        probes: vec![store.clone()],
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

    if config.roles.worker {
        // The in-process queue starts empty: queue again what the last process had queued.
        let requeued = app.requeue_all_due(500).await.context("re-queueing due deliveries at start")?;
        if requeued > 0 {
            tracing::info!(count = requeued, "re-queued due deliveries left by the previous process");
        }
        runtime::spawn_workers(&app, config.worker_concurrency, wake.clone(), &token, &tasks);
    }
    if config.roles.relay {
        runtime::spawn_relay(&app, wake.clone(), &token, &tasks);
    }
    wake.notify_one();

    let server = if config.roles.api {
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("NH_HTTP_ADDR: cannot listen on {}", config.http_addr))?;
        let state = HttpState::new(app.clone());
        state.mark_started();
        let shutdown = token.clone();
        tracing::info!(addr = %config.http_addr, roles = ?config.roles, "notification-hub listening");
        Some(tokio::spawn(async move {
            axum::serve(listener, router(state)).with_graceful_shutdown(shutdown.cancelled_owned()).await
        }))
    } else {
        tracing::info!(roles = ?config.roles, "notification-hub started without the API role");
        None
    };

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
