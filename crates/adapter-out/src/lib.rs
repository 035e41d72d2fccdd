//! Driven adapters (stores, queues, vendors). Filled by the embedded-runtime issue.
