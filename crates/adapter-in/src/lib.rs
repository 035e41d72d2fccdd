//! Driving adapters: the HTTP API (`http`); Kafka consumers come with their own issue.

pub mod http;

pub use http::{HttpState, openapi, router};
