//! The shared port contract suite against the embedded adapters: SQLite store, in-process idempotency store, rate limiter and queue.

mod idempotency {
    hub_application::idempotency_contract_tests!(async {
        std::sync::Arc::new(hub_adapter_out::memory::MemoryIdempotencyStore::new())
    });
}

mod rate_limiter {
    hub_application::rate_limiter_contract_tests!(async {
        std::sync::Arc::new(hub_adapter_out::memory::MemoryRateLimiter::new())
    });
}

mod queue {
    hub_application::queue_contract_tests!(async {
        std::sync::Arc::new(hub_adapter_out::memory::MemoryDeliveryQueue::default())
    });
}

mod sqlite_store {
    use std::sync::Arc;

    use hub_adapter_out::sqlite::SqliteStore;
    use hub_application::contract::StoreParts;

    /// A fresh database file per test under the target directory's scratch space (the store
    /// outlives this function, so no self-deleting temp dir; `cargo clean` removes them).
    async fn fresh() -> StoreParts {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir").keep();
        let store = SqliteStore::open(&dir.join("contract.db")).await.expect("open SQLite store");
        StoreParts::from_store(Arc::new(store))
    }

    hub_application::store_contract_tests!(fresh());
}
