//! One span per HTTP request with W3C trace-context ids, so every log line written while the
//! request is served carries them (JSON logs: in `span` / `spans`) and can be joined with the
//! caller's trace. When a [`TraceExport`] is installed (bootstrap's OpenTelemetry export, ADR
//! 0026), it starts the exported span and the logged ids are that span's, so logs and exported
//! traces join too.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::{Empty, display};

use super::HttpState;
use super::metrics::UNMATCHED;

/// The W3C trace context a request arrived with, from a valid `traceparent` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerTrace {
    /// The caller's trace id (never zero).
    pub trace_id: u128,
    /// The caller's span, the parent of the request span (never zero).
    pub parent_span_id: u64,
    /// Whether the caller records the trace (bit 0 of the flags, `sampled`).
    pub sampled: bool,
}

/// The ids a `request` span logs as `trace_id` (32 hex digits) and `span_id` (16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// Trace id.
    pub trace_id: u128,
    /// Span id.
    pub span_id: u64,
}

/// Exports `request` spans to a tracing backend.
pub trait TraceExport: Send + Sync + std::fmt::Debug {
    /// Called with each new `request` span, before it is entered, and the caller's trace
    /// context if any. Returns the ids the backend gave the span (in the caller's trace when
    /// there is one), which the span then logs; `None` (the span is not exported) leaves the
    /// ids to this adapter.
    fn start_request(&self, span: &tracing::Span, caller: Option<CallerTrace>) -> Option<TraceIds>;
}

/// Serves the request inside a `request` span with `trace_id` (the caller's, from a valid
/// `traceparent` header, else a new one), a new `span_id`, the method and the route template.
pub(crate) async fn request_span(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let caller = request.headers().get("traceparent").and_then(|v| v.to_str().ok()).and_then(caller_trace);
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, |p| p.as_str()).to_owned();
    let span = tracing::info_span!(
        "request",
        trace_id = Empty,
        span_id = Empty,
        method = %request.method(),
        route = %route,
    );
    let ids =
        state.trace_export().and_then(|export| export.start_request(&span, caller)).unwrap_or_else(|| {
            let entropy = &state.app().deps().entropy;
            TraceIds {
                trace_id: caller.map_or_else(
                    // 80 random bits each: 128 of them for the trace, 64 for the span.
                    || ((entropy.ulid_bits() << 48) ^ entropy.ulid_bits()).max(1),
                    |caller| caller.trace_id,
                ),
                span_id: (entropy.ulid_bits() as u64).max(1),
            }
        });
    span.record("trace_id", display(format_args!("{:032x}", ids.trace_id)));
    span.record("span_id", display(format_args!("{:016x}", ids.span_id)));
    next.run(request).instrument(span).await
}

/// The trace context of a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), when well
/// formed and neither id is all zeros.
fn caller_trace(header: &str) -> Option<CallerTrace> {
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let well_formed =
        hex(version, 2) && version != "ff" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2);
    // Version 00 has exactly four fields; later versions may add more.
    if !well_formed || (version == "00" && parts.next().is_some()) {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok().filter(|id| *id != 0)?;
    let parent_span_id = u64::from_str_radix(parent, 16).ok().filter(|id| *id != 0)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(CallerTrace { trace_id, parent_span_id, sampled: flags & 1 == 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_gives_its_trace_parent_span_and_sampled_flag() {
        assert_eq!(
            caller_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some(CallerTrace {
                trace_id: 0x4bf92f3577b34da6a3ce929d0e0e4736,
                parent_span_id: 0x00f067aa0ba902b7,
                sampled: true,
            })
        );
        assert_eq!(
            caller_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").map(|c| c.sampled),
            Some(false)
        );
    }

    #[test]
    fn a_malformed_or_zero_traceparent_is_ignored() {
        for header in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(caller_trace(header), None, "{header:?}");
        }
    }
}
