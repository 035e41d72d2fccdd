use std::sync::Arc;
use std::time::Duration;

use hub_domain::rate_limit::RateLimits;
use hub_domain::resolver::ResolverPolicy;
use hub_domain::retry::RetryPolicy;
use hub_domain::{Locale, Timezone};

use crate::ports::HealthProbe;
use crate::ports::{
    AuditLog, CallbackLog, Clock, DeliveryQueue, DeliveryStore, DeviceStore, DlqStore, Entropy,
    IdempotencyStore, JobStore, MetricEvent, Metrics, NotificationStore, Outbox, RateLimiter, RecipientStore,
    SenderRegistry, TemplateStore,
};

/// Every port the use cases need, wired as trait objects by bootstrap (or the fakes in tests).
#[derive(Debug, Clone)]
pub struct Deps {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness for ids and jitter.
    pub entropy: Arc<dyn Entropy>,
    /// Notifications (atomic accept).
    pub notifications: Arc<dyn NotificationStore>,
    /// Deliveries.
    pub deliveries: Arc<dyn DeliveryStore>,
    /// DLQ reads.
    pub dlq: Arc<dyn DlqStore>,
    /// Outbox (relay side).
    pub outbox: Arc<dyn Outbox>,
    /// Recipients and preferences.
    pub recipients: Arc<dyn RecipientStore>,
    /// Push devices.
    pub devices: Arc<dyn DeviceStore>,
    /// Templates.
    pub templates: Arc<dyn TemplateStore>,
    /// Per-channel queues.
    pub queue: Arc<dyn DeliveryQueue>,
    /// Idempotency keys.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Token buckets.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Vendors per channel.
    pub senders: SenderRegistry,
    /// Audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// `webhook-id`s of vendor callbacks already taken.
    pub callbacks: Arc<dyn CallbackLog>,
    /// Bulk jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Dependencies readiness checks, in display order.
    pub probes: Vec<Arc<dyn HealthProbe>>,
    /// Where metric events go (SPEC §5.7).
    pub metrics: Arc<dyn Metrics>,
}

/// Policies and limits, from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Retry schedule (`NH_RETRY_SCHEDULE`).
    pub retry: RetryPolicy,
    /// Kakao night window (`NH_KAKAO_NIGHT_WINDOW`, `NH_KAKAO_NIGHT_TIMEZONE`).
    pub resolver: ResolverPolicy,
    /// Token buckets per channel (`NH_RATE_LIMITS`).
    pub rate_limits: RateLimits,
    /// Locale of recipients that have none and last template fallback (`NH_DEFAULT_LOCALE`).
    pub default_locale: Locale,
    /// Timezone of recipients that have none (`NH_DEFAULT_TIMEZONE`).
    pub default_timezone: Timezone,
    /// How long completed idempotency keys are kept (24 h).
    pub idempotency_retention: Duration,
    /// How long an in-flight reservation survives a crashed request.
    pub idempotency_in_flight_ttl: Duration,
    /// How long a worker holds a claimed delivery before the reaper takes it back.
    pub dispatch_lease: Duration,
    /// A due delivery queued longer ago than this without being claimed is queued again.
    pub requeue_after: Duration,
    /// How long the relay hides claimed outbox rows.
    pub outbox_lease: Duration,
    /// Published outbox rows are deleted after this.
    pub outbox_retention: Duration,
    /// Slack aliases recipients may use instead of a webhook URL.
    pub slack_aliases: Vec<String>,
    /// Kafka topic prefix, shown in DLQ details.
    pub topic_prefix: String,
    /// Bulk replays per second.
    pub bulk_replay_rate: u32,
    /// How long a bulk-job runner holds a job.
    pub job_lease: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry: RetryPolicy::default(),
            resolver: ResolverPolicy::default(),
            rate_limits: RateLimits::default(),
            default_locale: Locale::parse("en").expect("valid literal"),
            default_timezone: Timezone::parse("Asia/Seoul").expect("valid literal"),
            idempotency_retention: Duration::from_secs(24 * 3600),
            idempotency_in_flight_ttl: Duration::from_secs(60),
            dispatch_lease: Duration::from_secs(60),
            requeue_after: Duration::from_secs(300),
            outbox_lease: Duration::from_secs(30),
            outbox_retention: Duration::from_secs(3600),
            slack_aliases: Vec::new(),
            topic_prefix: String::new(),
            bulk_replay_rate: 100,
            job_lease: Duration::from_secs(30),
        }
    }
}

/// The application: every use case of SPEC §5.1–§5.6 and the background work of §4.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) deps: Deps,
    pub(crate) settings: Arc<Settings>,
}

impl App {
    /// Builds the application from its ports and settings. Delivery updates go through a
    /// wrapper that counts every state a delivery enters ([`MetricEvent::DeliveryFinal`]),
    /// whichever use case wrote it.
    pub fn new(mut deps: Deps, settings: Settings) -> Self {
        deps.deliveries = crate::use_cases::metrics::metered(deps.deliveries, deps.metrics.clone());
        App { deps, settings: Arc::new(settings) }
    }

    /// The ports.
    pub fn deps(&self) -> &Deps {
        &self.deps
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Records a metric event.
    pub(crate) fn record(&self, event: MetricEvent) {
        self.deps.metrics.record(event);
    }

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.deps.clock.now()
    }

    /// 80 random bits and the current millisecond, for a new ULID.
    pub(crate) fn id_parts(&self) -> (u64, u128) {
        let ms = u64::try_from(self.now().timestamp_millis()).unwrap_or(0);
        (ms, self.deps.entropy.ulid_bits())
    }
}

pub(crate) fn chrono_duration(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// Adapts an [`Entropy`] to the domain's `RandomSource`.
#[derive(Debug)]
pub(crate) struct EntropySource<'a>(pub(crate) &'a dyn crate::ports::Entropy);

impl hub_domain::retry::RandomSource for EntropySource<'_> {
    fn next_unit(&mut self) -> f64 {
        self.0.unit()
    }
}
