//! The shared port contract suite (`hub_application::contract`) against the in-memory fakes.
//!
//! Each macro expands to one test per contract check, every test with a fresh fake.

mod store {
    hub_application::store_contract_tests!(async { hub_application::contract::StoreParts::in_memory() });
}

mod idempotency {
    hub_application::idempotency_contract_tests!(async {
        std::sync::Arc::new(hub_application::fakes::InMemoryIdempotency::new())
    });
}

mod rate_limiter {
    hub_application::rate_limiter_contract_tests!(async {
        std::sync::Arc::new(hub_application::fakes::InMemoryRateLimiter::new())
    });
}

mod queue {
    hub_application::queue_contract_tests!(async {
        std::sync::Arc::new(hub_application::fakes::InMemoryQueue::new())
    });
}
