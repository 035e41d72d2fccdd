//! The use cases, by area. Each is a method of [`crate::App`].

pub mod audit;
pub mod bulk;
pub mod callbacks;
pub mod dispatch;
pub mod dlq;
pub mod health;
pub mod metrics;
pub mod notifications;
pub mod recipients;
pub mod relay;
pub mod scheduling;
pub mod send;
pub mod templates;
