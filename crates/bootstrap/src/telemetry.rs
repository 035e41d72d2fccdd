//! Logging through `tracing`: text for people, JSON for machines (`NH_LOG_FORMAT`), levels from
//! `RUST_LOG` (default `info`). Addresses and bodies never reach a log: the domain types mask
//! themselves and spans skip payloads.
//!
//! Every HTTP request is served in a `request` span with W3C `trace_id` (the caller's
//! `traceparent`, else a new one) and `span_id`; JSON lines carry the current span and the list
//! of enclosing spans (`span`, `spans`), so a request's lines share its trace id.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call (tests) is ignored.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}
