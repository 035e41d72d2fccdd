//! Driving adapters (HTTP, Kafka). Filled by the embedded-runtime issue.
