//! The shared port contract suite against the in-process adapters of the embedded default.

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
