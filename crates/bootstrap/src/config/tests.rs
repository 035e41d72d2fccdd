use std::collections::HashMap;

use super::*;

fn load_with(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Config::load(None, &|name| map.get(name).cloned())
}

#[test]
fn defaults_start_the_embedded_set_on_localhost() {
    let c = load_with(&[]).unwrap();
    assert_eq!(c.http_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.store, StoreBackend::Sqlite(PathBuf::from("./data/notification-hub.db")));
    assert!(c.redis_url.is_none() && c.kafka_brokers.is_none());
    assert_eq!(c.roles, Roles { api: true, relay: true, worker: true });
    assert_eq!(c.retry.max_tries(), 6);
    assert_eq!(c.default_timezone.name(), "Asia/Seoul");
    assert_eq!(c.kakao_night_window.to_string(), "20:50-08:00");
    assert_eq!(c.shutdown_grace, Duration::from_secs(25));
    assert_eq!(c.embedded_backends().len(), 3);
}

#[test]
fn every_spec_env_name_is_read() {
    let c = load_with(&[
        ("NH_HTTP_ADDR", "0.0.0.0:9000"),
        ("NH_DATABASE_URL", "postgres://hub:pw@db:5432/hub"),
        ("NH_REDIS_URL", "redis://cache:6379"),
        ("NH_KAFKA_BROKERS", "k1:9092,k2:9092"),
        ("NH_KAFKA_TOPIC_PREFIX", "prod."),
        ("NH_ROLES", "api, worker"),
        ("NH_ADMIN_TOKEN", "s3cret"),
        ("NH_CALLBACK_SECRETS", "ses=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=,twilio=whsec_abc="),
        ("NH_RETRY_SCHEDULE", "2s, 10s"),
        ("NH_DEFAULT_TIMEZONE", "Europe/Berlin"),
        ("NH_DEFAULT_LOCALE", "de"),
        ("NH_KAKAO_NIGHT_WINDOW", "21:00-07:30"),
        ("NH_KAKAO_NIGHT_TIMEZONE", "UTC"),
        ("NH_RATE_LIMITS", "SMS=10/60s"),
        ("NH_MOCK_VENDOR_LATENCY", "100ms"),
        ("NH_LOG_FORMAT", "json"),
    ])
    .unwrap();
    assert_eq!(c.http_addr.port(), 9000);
    assert!(matches!(c.store, StoreBackend::Postgres(_)));
    assert!(c.redis_url.is_some());
    assert_eq!(c.kafka_brokers.as_deref(), Some("k1:9092,k2:9092"));
    assert_eq!(c.kafka_topic_prefix, "prod.");
    assert_eq!(c.roles, Roles { api: true, relay: false, worker: true });
    assert_eq!(c.callback_secrets["ses"].expose_secret(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=");
    assert_eq!(c.callback_secrets["twilio"].expose_secret(), "whsec_abc=");
    assert_eq!(c.retry.max_tries(), 3);
    assert_eq!(c.default_locale.as_str(), "de");
    assert_eq!(c.rate_limits.policy(hub_domain::Channel::Sms).capacity(), 10);
    assert_eq!(c.rate_limits.policy(hub_domain::Channel::Email).capacity(), 30);
    assert_eq!(c.mock_vendor_latency, Duration::from_millis(100));
    assert_eq!(c.log_format, LogFormat::Json);
    assert!(c.embedded_backends().is_empty());
}

#[test]
fn a_bad_value_fails_naming_its_key() {
    for (key, value) in [
        ("NH_HTTP_ADDR", "localhost"),
        ("NH_DATABASE_URL", "mysql://x"),
        ("NH_REDIS_URL", "http://x"),
        ("NH_ROLES", "api,cron"),
        ("NH_ROLES", ""),
        ("NH_CALLBACK_SECRETS", "ses"),
        ("NH_RETRY_SCHEDULE", "1s,soon"),
        ("NH_DEFAULT_TIMEZONE", "Mars/Base"),
        ("NH_DEFAULT_LOCALE", "english"),
        ("NH_KAKAO_NIGHT_WINDOW", "21:00"),
        ("NH_KAKAO_NIGHT_TIMEZONE", "Nowhere"),
        ("NH_RATE_LIMITS", "FAX=1/1s"),
        ("NH_MOCK_VENDOR_LATENCY", "fast"),
        ("NH_LOG_FORMAT", "xml"),
        ("NH_SLACK_ALIASES", "ops=http://insecure"),
        ("NH_WORKER_CONCURRENCY", "0"),
        ("NH_WORKER_BATCH", "0"),
        ("NH_WORKER_BATCH", "1001"),
        ("NH_DATABASE_POOL_MIN", "-1"),
        ("NH_DATABASE_POOL_MIN", "1001"),
        ("NH_SHUTDOWN_GRACE", "-1s"),
        ("NH_ADMIN_RATE_LIMIT", "60"),
        ("NH_ADMIN_RATE_LIMIT", "0/60s"),
        ("NH_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("NH_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local"),
        ("NH_BULK_JOB_LEASE", "500ms"),
        ("NH_OTEL_ENDPOINT", "otel-collector:4318"),
        ("NH_OTEL_ENDPOINT", "grpc://otel-collector:4317"),
        ("NH_OTEL_ENDPOINT", "http://"),
        ("NH_OTEL_ENDPOINT", "http://otel-collector:4318/v1/traces"),
        ("NH_OTEL_ENDPOINT", "http://otel-collector:4318/?tenant=a"),
        ("NH_OTEL_ENDPOINT", "http://otel collector:4318"),
        ("NH_OTEL_SERVICE_NAME", " "),
    ] {
        let err = load_with(&[(key, value)]).unwrap_err();
        assert_eq!(err.key, key, "{value}: {err}");
        assert!(err.to_string().starts_with(key));
    }
}

#[test]
fn the_idle_pool_floor_defaults_to_two_and_never_exceeds_the_pool() {
    let c = load_with(&[]).unwrap();
    assert_eq!((c.database_pool_size, c.database_pool_min), (16, 2));
    let c = load_with(&[("NH_DATABASE_POOL_SIZE", "1")]).unwrap();
    assert_eq!((c.database_pool_size, c.database_pool_min), (1, 1));
    let c = load_with(&[("NH_DATABASE_POOL_MIN", "0")]).unwrap();
    assert_eq!(c.database_pool_min, 0);
    let c = load_with(&[("NH_DATABASE_POOL_SIZE", "8"), ("NH_DATABASE_POOL_MIN", "20")]).unwrap();
    assert_eq!(c.database_pool_min, 8);
}

#[test]
fn a_file_overrides_defaults_and_env_overrides_the_file() {
    let dir = std::env::temp_dir().join(format!("nh-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hub.toml");
    std::fs::write(&path, "http_addr = \"127.0.0.1:9100\"\nworker_concurrency = 4\n").unwrap();
    let c = Config::load(Some(&path), &|_| None).unwrap();
    assert_eq!((c.http_addr.port(), c.worker_concurrency), (9100, 4));
    let c = Config::load(Some(&path), &|n| (n == "NH_WORKER_CONCURRENCY").then(|| "8".to_owned())).unwrap();
    assert_eq!(c.worker_concurrency, 8);
    std::fs::write(&path, "http_adr = \"x\"\n").unwrap();
    let err = Config::load(Some(&path), &|_| None).unwrap_err();
    assert!(err.message.contains("unknown key `http_adr`"), "{err}");
    let err = Config::load(Some(&dir.join("missing.toml")), &|_| None).unwrap_err();
    assert!(err.message.contains("cannot read"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_effective_config_masks_secrets_but_shows_hosts() {
    let c = load_with(&[
        ("NH_DATABASE_URL", "postgres://hub:pw@db:5432/hub"),
        ("NH_ADMIN_TOKEN", "s3cret"),
        ("NH_CALLBACK_SECRETS", "ses=whsec_abc="),
    ])
    .unwrap();
    let text = c.render_effective();
    assert!(!text.contains("s3cret") && !text.contains(":pw@") && !text.contains("whsec_abc"), "{text}");
    assert!(text.contains("postgres://***@db:5432/hub"));
    assert!(text.contains("ses=***"));
    assert!(text.contains("NH_RETRY_SCHEDULE"));
}

#[test]
fn the_embedded_defaults_file_names_every_key_the_loader_reads() {
    let raw = flatten(DEFAULT_TOML, "default").unwrap();
    for key in [
        "http_addr",
        "database_url",
        "redis_url",
        "kafka_brokers",
        "kafka_topic_prefix",
        "roles",
        "admin_token",
        "callback_secrets",
        "retry_schedule",
        "default_timezone",
        "default_locale",
        "kakao_night_window",
        "kakao_night_timezone",
        "rate_limits",
        "mock_vendor_latency",
        "log_format",
        "otel_endpoint",
        "otel_service_name",
    ] {
        assert!(raw.contains_key(key), "{key} missing from config/default.toml");
    }
}

#[test]
fn the_admin_rate_limit_and_trusted_proxies_are_read_and_default_to_the_spec() {
    let c = load_with(&[]).unwrap();
    assert_eq!(c.admin_rate_limit.to_string(), "60/60s");
    assert!(c.trusted_proxies.is_empty());
    let c = load_with(&[
        ("NH_ADMIN_RATE_LIMIT", "120/1m"),
        ("NH_TRUSTED_PROXIES", " 10.0.0.0/8, 192.168.1.10 ,2001:db8::/32,172.16.5.4/12"),
    ])
    .unwrap();
    assert_eq!(c.admin_rate_limit.capacity(), 120);
    assert_eq!(c.admin_rate_limit.period(), Duration::from_secs(60));
    let nets: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(nets, ["10.0.0.0/8", "192.168.1.10/32", "2001:db8::/32", "172.16.0.0/12"]);
}

#[test]
fn the_bulk_job_lease_defaults_to_thirty_seconds_and_is_read() {
    assert_eq!(load_with(&[]).unwrap().bulk_job_lease, Duration::from_secs(30));
    assert_eq!(load_with(&[("NH_BULK_JOB_LEASE", "2s")]).unwrap().bulk_job_lease, Duration::from_secs(2));
}

#[test]
fn trace_export_is_off_by_default_and_on_with_an_http_or_https_collector_url() {
    assert_eq!(load_with(&[]).unwrap().otel, None);
    for (endpoint, traces_url) in [
        ("http://otel-collector:4318", "http://otel-collector:4318/v1/traces"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"),
        ("https://collector.example.com/otlp/", "https://collector.example.com/otlp/v1/traces"),
    ] {
        let otel = load_with(&[("NH_OTEL_ENDPOINT", endpoint)]).unwrap().otel.expect(endpoint);
        assert_eq!(
            otel,
            OtelExport { traces_url: traces_url.into(), service_name: "notification-hub".into() }
        );
    }
    let c =
        load_with(&[("NH_OTEL_ENDPOINT", "http://otel:4318"), ("NH_OTEL_SERVICE_NAME", "hub-eu")]).unwrap();
    assert_eq!(c.otel.unwrap().service_name, "hub-eu");
}
