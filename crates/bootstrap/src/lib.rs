//! The notification-hub process: configuration, telemetry, wiring of adapters to ports, the
//! roles (api, relay, worker) and graceful shutdown (SPEC §2, §4).

pub mod backends;
pub mod config;
pub mod runtime;
pub mod serve;
pub mod telemetry;
