//! One adapter per port from the configuration (SPEC §2): the embedded set (SQLite, in-process
//! idempotency store, limiter and queues) or the production set (PostgreSQL, Redis, Kafka),
//! each backend switched independently.

use std::sync::Arc;

use anyhow::Context;
use hub_adapter_out::kafka::{KafkaDeliveryQueue, KafkaSettings};
use hub_adapter_out::memory::{MemoryDeliveryQueue, MemoryIdempotencyStore, MemoryRateLimiter};
use hub_adapter_out::postgres::{PgSettings, PgStore};
use hub_adapter_out::redis::{RedisConnection, RedisIdempotencyStore, RedisRateLimiter, RedisSettings};
use hub_adapter_out::sqlite::SqliteStore;
use hub_application::ports::{
    AuditLog, CallbackLog, DeliveryQueue, DeliveryStore, DeviceStore, DlqStore, HealthProbe,
    IdempotencyStore, JobStore, NotificationStore, Outbox, RateLimiter, RecipientStore, TemplateStore,
};
use secrecy::ExposeSecret;
use tokio::sync::Notify;

use crate::config::{Config, StoreBackend};

/// The opened store: one value implementing every store port.
#[derive(Debug, Clone)]
pub enum Store {
    /// The embedded SQLite file.
    Sqlite(Arc<SqliteStore>),
    /// PostgreSQL.
    Postgres(Arc<PgStore>),
}

/// Every store port, as the application's `Deps` wants them.
#[derive(Debug, Clone)]
pub struct StorePorts {
    /// Notifications.
    pub notifications: Arc<dyn NotificationStore>,
    /// Deliveries.
    pub deliveries: Arc<dyn DeliveryStore>,
    /// The DLQ read side.
    pub dlq: Arc<dyn DlqStore>,
    /// The outbox.
    pub outbox: Arc<dyn Outbox>,
    /// Recipients.
    pub recipients: Arc<dyn RecipientStore>,
    /// Devices.
    pub devices: Arc<dyn DeviceStore>,
    /// Templates.
    pub templates: Arc<dyn TemplateStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// `webhook-id`s of vendor callbacks already taken.
    pub callbacks: Arc<dyn CallbackLog>,
    /// Bulk jobs.
    pub jobs: Arc<dyn JobStore>,
    /// The store's health probe.
    pub probe: Arc<dyn HealthProbe>,
}

fn ports_of<S>(store: Arc<S>) -> StorePorts
where
    S: NotificationStore
        + DeliveryStore
        + DlqStore
        + Outbox
        + RecipientStore
        + DeviceStore
        + TemplateStore
        + AuditLog
        + CallbackLog
        + JobStore
        + HealthProbe
        + 'static,
{
    StorePorts {
        notifications: store.clone(),
        deliveries: store.clone(),
        dlq: store.clone(),
        outbox: store.clone(),
        recipients: store.clone(),
        devices: store.clone(),
        templates: store.clone(),
        audit: store.clone(),
        callbacks: store.clone(),
        jobs: store.clone(),
        probe: store,
    }
}

impl Store {
    /// Opens the configured store. SQLite always applies its migrations; PostgreSQL applies them
    /// when `migrate` is true (`notification-hub migrate`, or `database_migrate_on_start`).
    pub async fn open(config: &Config, migrate: bool) -> anyhow::Result<Store> {
        match &config.store {
            StoreBackend::Sqlite(path) => {
                let store = SqliteStore::open(path)
                    .await
                    .with_context(|| format!("opening the SQLite store at {}", path.display()))?;
                Ok(Store::Sqlite(Arc::new(store)))
            }
            StoreBackend::Postgres(url) => {
                let settings = PgSettings {
                    max_connections: config.database_pool_size,
                    min_connections: config.database_pool_min,
                    ..PgSettings::default()
                };
                let store = PgStore::connect(url.expose_secret(), settings)
                    .await
                    .context("NH_DATABASE_URL: connecting to PostgreSQL")?;
                if migrate {
                    store.migrate().await.context("applying the PostgreSQL migrations")?;
                    tracing::info!("PostgreSQL schema is current");
                }
                Ok(Store::Postgres(Arc::new(store)))
            }
        }
    }

    /// Every store port.
    pub fn ports(&self) -> StorePorts {
        match self {
            Store::Sqlite(store) => ports_of(store.clone()),
            Store::Postgres(store) => ports_of(store.clone()),
        }
    }

    /// Notified when outbox rows were committed (SQLite: by the writer; PostgreSQL: by `NOTIFY`
    /// from any replica).
    pub fn outbox_signal(&self) -> Arc<Notify> {
        match self {
            Store::Sqlite(store) => store.commit_signal(),
            Store::Postgres(store) => store.outbox_signal(),
        }
    }

    /// Closes connections (after the work drained).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(store) => store.close().await,
            Store::Postgres(store) => store.close().await,
        }
    }
}

/// Every backend of one process.
#[derive(Debug, Clone)]
pub struct Backends {
    /// The store.
    pub store: Store,
    /// The delivery queues.
    pub queue: Arc<dyn DeliveryQueue>,
    /// True for Kafka: queued messages outlive the process, nothing to re-queue at start.
    pub queue_is_durable: bool,
    /// Idempotency keys.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Token buckets.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Readiness checks: the store, then Redis and Kafka when configured.
    pub probes: Vec<Arc<dyn HealthProbe>>,
}

impl Backends {
    /// Connects every configured backend (PostgreSQL migrations per `database_migrate_on_start`).
    pub async fn open(config: &Config) -> anyhow::Result<Backends> {
        let store = Store::open(config, config.database_migrate_on_start).await?;
        let mut probes = vec![store.ports().probe];
        let (idempotency, rate_limiter): (Arc<dyn IdempotencyStore>, Arc<dyn RateLimiter>) =
            match &config.redis_url {
                None => (Arc::new(MemoryIdempotencyStore::new()), Arc::new(MemoryRateLimiter::new())),
                Some(url) => {
                    let conn = RedisConnection::connect(url.expose_secret(), RedisSettings::default())
                        .await
                        .context("NH_REDIS_URL: connecting to Redis")?;
                    probes.push(Arc::new(conn.clone()));
                    let prefix = config.redis_key_prefix.clone();
                    (
                        Arc::new(RedisIdempotencyStore::new(conn.clone(), prefix.clone())),
                        Arc::new(RedisRateLimiter::new(conn, prefix)),
                    )
                }
            };
        // Only the relay (publish) and the workers (consume) use the queues: an API-only replica
        // neither connects to Kafka nor reports it in readiness, so a Kafka outage never stops
        // accepting (the rows wait in the outbox).
        let uses_queues = config.roles.relay || config.roles.worker;
        let (queue, queue_is_durable): (Arc<dyn DeliveryQueue>, bool) = match &config.kafka_brokers {
            Some(_) if !uses_queues => (Arc::new(MemoryDeliveryQueue::default()), true),
            None => (Arc::new(MemoryDeliveryQueue::default()), false),
            Some(brokers) => {
                let settings = KafkaSettings {
                    brokers: brokers.clone(),
                    topic_prefix: config.kafka_topic_prefix.clone(),
                    group_prefix: format!("{}notification-hub.", config.kafka_topic_prefix),
                    partitions: config.kafka_partitions,
                    replication_factor: config.kafka_replication_factor,
                    // A message handed to a dispatcher comes back when its dispatch outlives
                    // the lease (the lease reaper then owns the delivery anyway).
                    visibility_timeout: crate::serve::settings(config).dispatch_lease,
                    ..KafkaSettings::default()
                };
                let queue = KafkaDeliveryQueue::connect(settings)
                    .await
                    .context("NH_KAFKA_BROKERS: connecting to Kafka")?;
                let queue = Arc::new(queue);
                probes.push(queue.clone());
                (queue, true)
            }
        };
        Ok(Backends { store, queue, queue_is_durable, idempotency, rate_limiter, probes })
    }
}
