//! Configuration: the embedded `config/default.toml`, then an optional file, then `NH_*`
//! environment variables (SPEC §2). Validated once, into typed settings; a bad value fails with
//! a message naming the key.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hub_domain::rate_limit::{BucketPolicy, RateLimits};
use hub_domain::retry::{RetryPolicy, format_duration, parse_duration};
use hub_domain::time_window::DailyWindow;
use hub_domain::{Locale, SlackTarget, Timezone};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

/// The defaults, embedded in the binary.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// The largest `worker_batch`: one batch is one statement with a parameter array per column.
const MAX_WORKER_BATCH: usize = 1000;

/// Keys whose values are secrets: masked by `notification-hub config` and in logs.
const SECRET_KEYS: [&str; 4] = ["admin_token", "callback_secrets", "database_url", "redis_url"];

/// A configuration value was rejected; names the key by its environment name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// `NH_RETRY_SCHEDULE`, or the file path for file-level errors.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn env_name(key: &str) -> String {
    format!("NH_{}", key.to_ascii_uppercase())
}

fn error(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError { key: env_name(key), message: message.to_string() }
}

/// Which backend the store uses.
#[derive(Debug, Clone)]
pub enum StoreBackend {
    /// SQLite file.
    Sqlite(PathBuf),
    /// PostgreSQL URL (production set).
    Postgres(SecretString),
}

/// The roles a process runs (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// HTTP API.
    pub api: bool,
    /// Outbox relay.
    pub relay: bool,
    /// Channel workers, due scheduler, lease reaper, bulk jobs.
    pub worker: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where and as what spans are exported over OTLP/HTTP (ADR 0026).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelExport {
    /// The collector's traces URL: `otel_endpoint` with `/v1/traces` appended.
    pub traces_url: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

/// The effective, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen address.
    pub http_addr: SocketAddr,
    /// Folder of the embedded database.
    pub data_dir: PathBuf,
    /// Store backend.
    pub store: StoreBackend,
    /// Redis URL, when the production idempotency store and limiter are configured.
    pub redis_url: Option<SecretString>,
    /// Kafka brokers, when the production queues are configured.
    pub kafka_brokers: Option<String>,
    /// Kafka topic prefix.
    pub kafka_topic_prefix: String,
    /// Partitions of the topics created at start.
    pub kafka_partitions: i32,
    /// Replication factor of the topics created at start.
    pub kafka_replication_factor: i32,
    /// PostgreSQL connections per process.
    pub database_pool_size: u32,
    /// PostgreSQL connections kept open while idle (at most `database_pool_size`).
    pub database_pool_min: u32,
    /// Apply PostgreSQL migrations at start.
    pub database_migrate_on_start: bool,
    /// Prefix of every Redis key.
    pub redis_key_prefix: String,
    /// Roles to run.
    pub roles: Roles,
    /// Admin token (`None` = admin API refuses everything).
    pub admin_token: Option<SecretString>,
    /// Admin requests per client IP and scope.
    pub admin_rate_limit: BucketPolicy,
    /// Proxies whose `X-Forwarded-For` is believed by the admin rate limit.
    pub trusted_proxies: Vec<IpNet>,
    /// Vendor callback secrets by vendor.
    pub callback_secrets: BTreeMap<String, SecretString>,
    /// Retry schedule.
    pub retry: RetryPolicy,
    /// Default recipient timezone.
    pub default_timezone: Timezone,
    /// Default locale.
    pub default_locale: Locale,
    /// Kakao night window.
    pub kakao_night_window: DailyWindow,
    /// Its timezone.
    pub kakao_night_timezone: Timezone,
    /// Token buckets.
    pub rate_limits: RateLimits,
    /// Mock vendor latency.
    pub mock_vendor_latency: Duration,
    /// Slack aliases → webhook URLs.
    pub slack_aliases: BTreeMap<String, String>,
    /// Log format.
    pub log_format: LogFormat,
    /// OpenTelemetry trace export (`None` = off: no exporter, no background thread).
    pub otel: Option<OtelExport>,
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// Idempotency retention.
    pub idempotency_retention: Duration,
    /// Concurrent dispatches (vendor calls in flight) per channel.
    pub worker_concurrency: usize,
    /// Queue messages one dispatcher takes, claims and stores at once.
    pub worker_batch: usize,
    /// Dispatch lease.
    pub dispatch_lease: Duration,
    /// Bulk replays per second.
    pub bulk_replay_rate: u32,
    /// How long a replica holds a bulk job while it runs one batch.
    pub bulk_job_lease: Duration,
    /// The raw values, for `notification-hub config`.
    raw: BTreeMap<String, String>,
}

impl PartialEq for StoreBackend {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StoreBackend::Sqlite(a), StoreBackend::Sqlite(b)) => a == b,
            (StoreBackend::Postgres(a), StoreBackend::Postgres(b)) => a.expose_secret() == b.expose_secret(),
            _ => false,
        }
    }
}

fn flatten(text: &str, origin: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError { key: origin.to_owned(), message: e.to_string() })?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => {
                return Err(ConfigError {
                    key: origin.to_owned(),
                    message: format!("`{key}` must be a string or a number, not {}", other.type_str()),
                });
            }
        };
        out.insert(key, text);
    }
    Ok(out)
}

impl Config {
    /// Loads defaults, then `file` (if any), then environment variables read through `env`.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut raw = flatten(DEFAULT_TOML, "config/default.toml")?;
        if let Some(path) = file {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError { key: origin.clone(), message: format!("cannot read: {e}") })?;
            for (key, value) in flatten(&text, &origin)? {
                if !raw.contains_key(&key) {
                    return Err(ConfigError { key: origin, message: format!("unknown key `{key}`") });
                }
                raw.insert(key, value);
            }
        }
        let keys: Vec<String> = raw.keys().cloned().collect();
        for key in keys {
            if let Some(value) = env(&env_name(&key)) {
                raw.insert(key, value);
            }
        }
        Self::from_raw(raw)
    }

    fn from_raw(raw: BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let get = |key: &str| raw.get(key).map(|v| v.trim().to_owned()).unwrap_or_default();
        let opt = |key: &str| Some(get(key)).filter(|v| !v.is_empty());
        let duration = |key: &str| parse_duration(&get(key)).map_err(|e| error(key, e));
        let number = |key: &str| get(key).parse::<u64>().map_err(|_| error(key, "must be a whole number"));

        let data_dir = PathBuf::from(get("data_dir"));
        let store = match opt("database_url") {
            None => StoreBackend::Sqlite(data_dir.join("notification-hub.db")),
            Some(url) if url.starts_with("sqlite://") || url.starts_with("sqlite:") => {
                let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
                if path.is_empty() {
                    return Err(error("database_url", "sqlite URL needs a file path"));
                }
                StoreBackend::Sqlite(PathBuf::from(path))
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                StoreBackend::Postgres(SecretString::from(url))
            }
            Some(_) => return Err(error("database_url", "must start with sqlite:// or postgres://")),
        };
        let redis_url = match opt("redis_url") {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                Some(SecretString::from(url))
            }
            Some(_) => return Err(error("redis_url", "must start with redis:// or rediss://")),
            None => None,
        };
        let mut roles = Roles { api: false, relay: false, worker: false };
        for role in get("roles").split(',').map(str::trim).filter(|r| !r.is_empty()) {
            match role {
                "api" => roles.api = true,
                "relay" => roles.relay = true,
                "worker" => roles.worker = true,
                other => return Err(error("roles", format!("unknown role `{other}` (api, relay, worker)"))),
            }
        }
        if !(roles.api || roles.relay || roles.worker) {
            return Err(error("roles", "name at least one of api, relay, worker"));
        }
        let mut callback_secrets = BTreeMap::new();
        for item in get("callback_secrets").split(',').map(str::trim).filter(|i| !i.is_empty()) {
            // Split at the first `=`: base64 secrets end in `=`.
            let Some((vendor, secret)) = item.split_once('=') else {
                return Err(error("callback_secrets", "entries are vendor=secret"));
            };
            if vendor.trim().is_empty() || secret.trim().is_empty() {
                return Err(error("callback_secrets", "entries are vendor=secret with both parts"));
            }
            callback_secrets.insert(vendor.trim().to_owned(), SecretString::from(secret.trim().to_owned()));
        }
        let mut slack_aliases = BTreeMap::new();
        for item in get("slack_aliases").split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((alias, url)) = item.split_once('=') else {
                return Err(error("slack_aliases", "entries are alias=https://…"));
            };
            match (SlackTarget::parse(alias.trim()), SlackTarget::parse(url.trim())) {
                (Ok(SlackTarget::Alias(a)), Ok(SlackTarget::Webhook(u))) => {
                    slack_aliases.insert(a, u);
                }
                _ => return Err(error("slack_aliases", format!("`{item}` is not alias=https://…"))),
            }
        }
        let http_addr = get("http_addr")
            .parse::<SocketAddr>()
            .map_err(|_| error("http_addr", "must be host:port with a numeric IP, e.g. 127.0.0.1:8080"))?;
        let worker_concurrency = usize::try_from(number("worker_concurrency")?).unwrap_or(usize::MAX);
        if worker_concurrency == 0 {
            return Err(error("worker_concurrency", "must be at least 1"));
        }
        let worker_batch = usize::try_from(number("worker_batch")?).unwrap_or(usize::MAX);
        if !(1..=MAX_WORKER_BATCH).contains(&worker_batch) {
            return Err(error("worker_batch", format!("must be between 1 and {MAX_WORKER_BATCH}")));
        }
        let bulk_replay_rate = u32::try_from(number("bulk_replay_rate")?)
            .ok()
            .filter(|r| *r > 0)
            .ok_or_else(|| error("bulk_replay_rate", "must be between 1 and 4294967295"))?;
        let small = |key: &str, max: u64| {
            number(key).and_then(|n| {
                if (1..=max).contains(&n) {
                    Ok(n)
                } else {
                    Err(error(key, format!("must be between 1 and {max}")))
                }
            })
        };
        let database_pool_size = small("database_pool_size", 1_000)? as u32;
        let database_pool_min = match number("database_pool_min")? {
            n if n <= 1_000 => (n as u32).min(database_pool_size),
            _ => return Err(error("database_pool_min", "must be between 0 and 1000")),
        };
        let database_migrate_on_start = match get("database_migrate_on_start").as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(error("database_migrate_on_start", "must be true or false")),
        };
        let dispatch_lease = duration("dispatch_lease")?;
        if dispatch_lease < Duration::from_secs(1) {
            return Err(error("dispatch_lease", "must be at least 1s"));
        }
        let bulk_job_lease = duration("bulk_job_lease")?;
        if bulk_job_lease < Duration::from_secs(1) {
            return Err(error("bulk_job_lease", "must be at least 1s"));
        }
        let service_name =
            opt("otel_service_name").ok_or_else(|| error("otel_service_name", "must not be empty"))?;
        Ok(Config {
            http_addr,
            store,
            redis_url,
            kafka_brokers: opt("kafka_brokers"),
            kafka_topic_prefix: get("kafka_topic_prefix"),
            kafka_partitions: small("kafka_partitions", 10_000)? as i32,
            kafka_replication_factor: small("kafka_replication_factor", 32)? as i32,
            database_pool_size,
            database_pool_min,
            database_migrate_on_start,
            redis_key_prefix: get("redis_key_prefix"),
            roles,
            admin_token: opt("admin_token").map(SecretString::from),
            admin_rate_limit: BucketPolicy::parse(&get("admin_rate_limit")).map_err(|e| {
                error("admin_rate_limit", format!("{e} (expected capacity/period, e.g. 60/60s)"))
            })?,
            trusted_proxies: parse_networks(&get("trusted_proxies"))?,
            callback_secrets,
            retry: RetryPolicy::parse(&get("retry_schedule")).map_err(|e| error("retry_schedule", e))?,
            default_timezone: Timezone::parse(&get("default_timezone"))
                .map_err(|e| error("default_timezone", e))?,
            default_locale: Locale::parse(&get("default_locale")).map_err(|e| error("default_locale", e))?,
            kakao_night_window: DailyWindow::parse(&get("kakao_night_window"))
                .map_err(|e| error("kakao_night_window", format!("{e} (expected HH:MM-HH:MM)")))?,
            kakao_night_timezone: Timezone::parse(&get("kakao_night_timezone"))
                .map_err(|e| error("kakao_night_timezone", e))?,
            rate_limits: RateLimits::parse(&get("rate_limits")).map_err(|e| error("rate_limits", e))?,
            mock_vendor_latency: duration("mock_vendor_latency")?,
            slack_aliases,
            log_format: match get("log_format").as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(error("log_format", "must be text or json")),
            },
            otel: parse_otel_endpoint(&get("otel_endpoint"))?
                .map(|traces_url| OtelExport { traces_url, service_name }),
            shutdown_grace: duration("shutdown_grace")?,
            idempotency_retention: duration("idempotency_retention")?,
            worker_concurrency,
            worker_batch,
            dispatch_lease,
            bulk_replay_rate,
            bulk_job_lease,
            data_dir,
            raw,
        })
    }

    /// Every key with its environment name and effective value, secrets masked.
    pub fn render_effective(&self) -> String {
        let mut out = String::from("# effective configuration (secrets masked)\n");
        for (key, value) in &self.raw {
            let shown =
                if SECRET_KEYS.contains(&key.as_str()) { mask_secret(key, value) } else { value.clone() };
            let _ = writeln!(out, "{key} = {shown:?}    # {}", env_name(key));
        }
        out
    }

    /// Which embedded backends are in use (running several replicas needs none).
    pub fn embedded_backends(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if matches!(self.store, StoreBackend::Sqlite(_)) {
            out.push("store (SQLite)");
        }
        if self.redis_url.is_none() {
            out.push("idempotency and rate limits (in-process)");
        }
        if self.kafka_brokers.is_none() {
            out.push("queues (in-process)");
        }
        out
    }

    /// The shutdown grace as text, for logs.
    pub fn grace_text(&self) -> String {
        format_duration(self.shutdown_grace)
    }
}

/// `NH_TRUSTED_PROXIES`: comma-separated CIDRs; a bare address is a single host.
fn parse_networks(text: &str) -> Result<Vec<IpNet>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    error("trusted_proxies", format!("`{item}` is not a CIDR network such as 10.0.0.0/8"))
                })
        })
        .collect()
}

/// `NH_OTEL_ENDPOINT`: empty (no export) or the `http://` / `https://` base URL of an OTLP/HTTP
/// collector, optionally with a path prefix; returns its traces URL (`…/v1/traces`).
fn parse_otel_endpoint(text: &str) -> Result<Option<String>, ConfigError> {
    const KEY: &str = "otel_endpoint";
    if text.is_empty() {
        return Ok(None);
    }
    let expected =
        "must be the http:// or https:// base URL of an OTLP/HTTP collector, e.g. http://otel-collector:4318";
    let uri = text.parse::<axum::http::Uri>().map_err(|_| error(KEY, expected))?;
    let scheme_ok =
        uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    if !scheme_ok || !host_ok || uri.query().is_some() || text.contains('#') {
        return Err(error(KEY, expected));
    }
    let base = text.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        return Err(error(KEY, "give the collector's base URL; /v1/traces is appended"));
    }
    Ok(Some(format!("{base}/v1/traces")))
}

fn mask_secret(key: &str, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    match key {
        // Keep the scheme and host of URLs; hide credentials.
        "database_url" | "redis_url" => match value.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                format!("{scheme}://***@{host}")
            }
            None => "***".into(),
        },
        "callback_secrets" => value
            .split(',')
            .map(|item| item.split_once('=').map_or("***".to_owned(), |(v, _)| format!("{}=***", v.trim())))
            .collect::<Vec<_>>()
            .join(","),
        _ => "***".into(),
    }
}

#[cfg(test)]
mod tests;
