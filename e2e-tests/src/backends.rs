//! The production backends for the black-box tests: PostgreSQL, Redis and Kafka.
//!
//! Where they come from, in order:
//! 1. `NH_TEST_DATABASE_URL`, `NH_TEST_REDIS_URL`, `NH_TEST_KAFKA_BROKERS` — set by
//!    `scripts/test-services.sh`, which `make test` runs the tests under;
//! 2. containers started with testcontainers when a Docker engine answers (the public CI);
//! 3. neither: the test fails, saying to run `make test`. Never a silent skip.
//!
//! Each [`Production::isolated`] call gives one hub deployment its own database, Redis key prefix
//! and Kafka topic prefix (and so its own consumer groups), so tests run in parallel against
//! shared servers.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

use testcontainers_modules::kafka::apache::{KAFKA_PORT, Kafka};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::redis::{REDIS_PORT, Redis};
use testcontainers_modules::testcontainers::ContainerAsync;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use tokio::sync::OnceCell;

/// Where the production backends of this test run are.
#[derive(Debug, Clone)]
pub struct Production {
    /// A superuser URL of the PostgreSQL server (its `postgres` database).
    pub database_url: String,
    /// The Redis server.
    pub redis_url: String,
    /// Kafka bootstrap servers.
    pub kafka_brokers: String,
    /// Which Kafka answers: `tansu`, `mock` (librdkafka's mock cluster), `container`, `given`.
    pub kafka_kind: String,
}

/// The containers, kept for the life of the test process.
#[allow(dead_code)]
struct Containers(ContainerAsync<Postgres>, ContainerAsync<Redis>, ContainerAsync<Kafka>);

static BACKENDS: OnceCell<Production> = OnceCell::const_new();
static CONTAINERS: OnceLock<Containers> = OnceLock::new();

/// The production backends (see the module docs); panics with instructions when there are none.
pub async fn production() -> &'static Production {
    BACKENDS
        .get_or_init(|| async {
            match from_env() {
                Some(production) => production,
                None => from_containers().await,
            }
        })
        .await
}

fn from_env() -> Option<Production> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (database_url, redis_url, kafka_brokers) =
        (var("NH_TEST_DATABASE_URL"), var("NH_TEST_REDIS_URL"), var("NH_TEST_KAFKA_BROKERS"));
    match (database_url, redis_url, kafka_brokers) {
        (Some(database_url), Some(redis_url), Some(kafka_brokers)) => Some(Production {
            database_url,
            redis_url,
            kafka_brokers,
            kafka_kind: var("NH_TEST_KAFKA_KIND").unwrap_or_else(|| "given".to_owned()),
        }),
        (None, None, None) => None,
        _ => panic!(
            "set all three of NH_TEST_DATABASE_URL, NH_TEST_REDIS_URL and NH_TEST_KAFKA_BROKERS, \
             or none (run `make test`: scripts/test-services.sh starts the services)"
        ),
    }
}

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn from_containers() -> Production {
    assert!(
        docker_answers(),
        "no production backends: NH_TEST_DATABASE_URL, NH_TEST_REDIS_URL and NH_TEST_KAFKA_BROKERS \
         are unset and no Docker engine answers. Run `make test` (scripts/test-services.sh starts \
         PostgreSQL, Redis and a Kafka broker without Docker)."
    );
    let postgres = Postgres::default().start().await.expect("start the PostgreSQL container");
    let redis = Redis::default().start().await.expect("start the Redis container");
    let kafka = Kafka::default().start().await.expect("start the Kafka container");
    let host = |port| format!("127.0.0.1:{port}");
    let production = Production {
        database_url: format!(
            "postgres://postgres:postgres@{}/postgres",
            host(postgres.get_host_port_ipv4(5432).await.expect("PostgreSQL port"))
        ),
        redis_url: format!(
            "redis://{}",
            host(redis.get_host_port_ipv4(REDIS_PORT).await.expect("Redis port"))
        ),
        kafka_brokers: host(kafka.get_host_port_ipv4(KAFKA_PORT).await.expect("Kafka port")),
        kafka_kind: "container".to_owned(),
    };
    let _ = CONTAINERS.set(Containers(postgres, redis, kafka));
    production
}

impl Production {
    /// The environment of one isolated deployment: a new database on the server, and a fresh
    /// Redis key prefix and Kafka topic prefix. Hubs started with the same environment share
    /// them (replicas of one deployment).
    pub async fn isolated(&self) -> Vec<(String, String)> {
        let name = format!("nh_e2e_{}", ulid::Ulid::new().to_string().to_lowercase());
        let status = Command::new("psql")
            .args([
                &self.database_url,
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .status()
            .expect("run psql (the PostgreSQL client) to create the test database");
        assert!(status.success(), "CREATE DATABASE {name} failed");
        let base = self.database_url.rsplit_once('/').map_or(self.database_url.as_str(), |(base, _)| base);
        vec![
            ("NH_DATABASE_URL".to_owned(), format!("{base}/{name}")),
            ("NH_REDIS_URL".to_owned(), self.redis_url.clone()),
            ("NH_REDIS_KEY_PREFIX".to_owned(), format!("{name}:")),
            ("NH_KAFKA_BROKERS".to_owned(), self.kafka_brokers.clone()),
            ("NH_KAFKA_TOPIC_PREFIX".to_owned(), format!("{name}.")),
        ]
    }
}
