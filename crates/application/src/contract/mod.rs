//! The shared contract test suite of the ports (feature `test-util`).
//!
//! Every port method's doc comment is its contract; the checks here turn those docs into
//! executable assertions, and ONE suite runs against every adapter: the in-memory fakes
//! (`tests/contract_fakes.rs`), and the SQLite, PostgreSQL, Redis and Kafka adapters.
//!
//! - Each port group is a module of public `async fn` checks that take the port(s) under test
//!   (`&StoreParts`, `&dyn IdempotencyStore`, `&dyn RateLimiter`, `&dyn DeliveryQueue`) and
//!   panic with a message naming the broken promise.
//! - The checks assume a FRESH, empty instance; the macros [`store_contract_tests!`],
//!   [`idempotency_contract_tests!`], [`rate_limiter_contract_tests!`] and
//!   [`queue_contract_tests!`] call the adapter's constructor once per test, so a database
//!   adapter can isolate each test by schema, key prefix or topic prefix.
//! - Time is passed in: every instant is fixed (around [`fixtures::t0`],
//!   2026-01-15T03:00:00Z). Nothing sleeps and nothing reads the system clock, so an adapter
//!   must honour the `now` arguments (a Redis adapter cannot rely on server-side expiry alone).
//! - Orders of typed values follow their Rust `Ord`: channels in canonical order
//!   ([`hub_domain::Channel::CANONICAL`]), an unknown error class before the known ones.
//!
//! [`store_contract_tests!`]: crate::store_contract_tests
//! [`idempotency_contract_tests!`]: crate::idempotency_contract_tests
//! [`rate_limiter_contract_tests!`]: crate::rate_limiter_contract_tests
//! [`queue_contract_tests!`]: crate::queue_contract_tests

use std::sync::Arc;

use crate::ports::{
    AuditLog, CallbackLog, DeliveryStore, DeviceStore, DlqStore, JobStore, NotificationStore, Outbox,
    RecipientStore, TemplateStore,
};

pub mod fixtures;

pub mod callbacks;
pub mod deliveries;
pub mod delivery_updates;
pub mod devices;
pub mod dispatch_batches;
pub mod dlq;
pub mod idempotency;
pub mod notifications;
pub mod operations;
pub mod outbox;
pub mod queue;
pub mod rate_limiter;
pub mod recipients;
pub mod scheduling;
pub mod templates;

mod macros;

/// Every store port of one database adapter, as the application wires them.
#[derive(Debug, Clone)]
pub struct StoreParts {
    /// Notifications (atomic accept, listing).
    pub notifications: Arc<dyn NotificationStore>,
    /// Deliveries (claims, conditional updates, scheduling).
    pub deliveries: Arc<dyn DeliveryStore>,
    /// The DLQ read side.
    pub dlq: Arc<dyn DlqStore>,
    /// The relay's side of the outbox.
    pub outbox: Arc<dyn Outbox>,
    /// Recipients and preferences.
    pub recipients: Arc<dyn RecipientStore>,
    /// Push devices.
    pub devices: Arc<dyn DeviceStore>,
    /// Templates and their versions.
    pub templates: Arc<dyn TemplateStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// `webhook-id`s of vendor callbacks already taken.
    pub callbacks: Arc<dyn CallbackLog>,
    /// Bulk jobs.
    pub jobs: Arc<dyn JobStore>,
}

impl StoreParts {
    /// Every port from one store value that implements them all (the usual database adapter).
    pub fn from_store<S: crate::fakes::AllStores>(store: Arc<S>) -> Self {
        StoreParts {
            notifications: store.clone(),
            deliveries: store.clone(),
            dlq: store.clone(),
            outbox: store.clone(),
            recipients: store.clone(),
            devices: store.clone(),
            templates: store.clone(),
            audit: store.clone(),
            callbacks: store.clone(),
            jobs: store,
        }
    }

    /// Every port from a fresh [`InMemoryStore`](crate::fakes::InMemoryStore).
    pub fn in_memory() -> Self {
        Self::from_store(Arc::new(crate::fakes::InMemoryStore::new()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// `file::name` of every `pub async fn` in the given contract source files.
    fn declared(files: &[(&str, &str)]) -> BTreeSet<String> {
        files
            .iter()
            .flat_map(|(file, source)| {
                source.lines().filter_map(move |line| {
                    let rest = line.trim_start().strip_prefix("pub async fn ")?;
                    let name: String =
                        rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    Some(format!("{file}::{name}"))
                })
            })
            .collect()
    }

    fn listed(names: &[&str]) -> BTreeSet<String> {
        let set: BTreeSet<String> = names.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(set.len(), names.len(), "a check is listed twice");
        set
    }

    #[test]
    fn every_store_check_is_run_by_the_store_macro() {
        let files = [
            ("notifications", include_str!("notifications.rs")),
            ("deliveries", include_str!("deliveries.rs")),
            ("delivery_updates", include_str!("delivery_updates.rs")),
            ("dispatch_batches", include_str!("dispatch_batches.rs")),
            ("scheduling", include_str!("scheduling.rs")),
            ("dlq", include_str!("dlq.rs")),
            ("outbox", include_str!("outbox.rs")),
            ("recipients", include_str!("recipients.rs")),
            ("devices", include_str!("devices.rs")),
            ("templates", include_str!("templates.rs")),
            ("operations", include_str!("operations.rs")),
            ("callbacks", include_str!("callbacks.rs")),
        ];
        assert_eq!(listed(crate::__store_contract_checks!(names)), declared(&files));
    }

    #[test]
    fn every_port_check_is_run_by_its_macro() {
        let idempotency = [("idempotency", include_str!("idempotency.rs"))];
        assert_eq!(listed(crate::__idempotency_contract_checks!(names)), declared(&idempotency));
        let limiter = [("rate_limiter", include_str!("rate_limiter.rs"))];
        assert_eq!(listed(crate::__rate_limiter_contract_checks!(names)), declared(&limiter));
        let queue = [("queue", include_str!("queue.rs"))];
        assert_eq!(listed(crate::__queue_contract_checks!(names)), declared(&queue));
    }

    #[test]
    fn test_names_are_unique_across_the_groups() {
        let all: Vec<&str> = [
            crate::__store_contract_checks!(names),
            crate::__idempotency_contract_checks!(names),
            crate::__rate_limiter_contract_checks!(names),
            crate::__queue_contract_checks!(names),
        ]
        .concat();
        let names: BTreeSet<&str> = all.iter().filter_map(|n| n.split("::").nth(1)).collect();
        assert_eq!(names.len(), all.len(), "two checks would expand to tests of the same name");
    }
}
