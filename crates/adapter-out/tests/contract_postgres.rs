//! The shared store contract suite against the PostgreSQL store, each test on a fresh schema of
//! the server named by `NH_TEST_DATABASE_URL`.

mod postgres_support;

mod postgres_store {
    hub_application::store_contract_tests!(super::postgres_support::fresh_parts());
}
