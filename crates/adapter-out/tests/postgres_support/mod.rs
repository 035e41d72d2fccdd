//! Fixtures of the PostgreSQL store tests: a fresh schema per store on the test server named by
//! `NH_TEST_DATABASE_URL`, so tests run in parallel against one server without seeing each other.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use hub_adapter_out::postgres::{PgSettings, PgStore};
use hub_application::contract::StoreParts;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// The environment variable naming the test server (a superuser URL).
pub const URL_VAR: &str = "NH_TEST_DATABASE_URL";

/// The test server's URL; fails the test (never skips it) when the variable is missing.
pub fn database_url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres): run `make test` \
             (scripts/test-services.sh starts the services)"
        )
    })
}

/// Small pools: many tests share one server (default `max_connections` = 100).
pub fn test_settings() -> PgSettings {
    PgSettings { max_connections: 3, ..PgSettings::default() }
}

/// Creates an empty schema `t_<random>` and returns options whose sessions use it (and only it)
/// as their `search_path`.
pub async fn fresh_schema() -> PgConnectOptions {
    let url = database_url();
    let schema = format!("t_{:016x}", rand::random::<u64>());
    let mut admin =
        PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("connecting to {URL_VAR}: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("create the test schema");
    admin.close().await.expect("close the admin connection");
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    options.options([("search_path", schema)])
}

/// A migrated store on a fresh schema.
pub async fn fresh_store() -> PgStore {
    store_on(fresh_schema().await).await
}

/// A migrated store with the test settings on `options`.
pub async fn store_on(options: PgConnectOptions) -> PgStore {
    let store = PgStore::connect_with(options, test_settings()).await.expect("connect the PostgreSQL store");
    store.migrate().await.expect("migrate the test schema");
    store
}

/// Every port of a fresh store.
pub async fn fresh_parts() -> StoreParts {
    StoreParts::from_store(Arc::new(fresh_store().await))
}

/// A TCP port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// How long an outage may take to be answered (the settings wait 2 s for a connection).
pub const OUTAGE_BOUND: Duration = Duration::from_secs(3);
