//! One span per HTTP request with W3C trace-context ids, so every log line written while the
//! request is served carries them (JSON logs: in `span` / `spans`) and can be joined with the
//! caller's trace.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::HttpState;
use super::metrics::UNMATCHED;

/// Serves the request inside a `request` span with `trace_id` (the caller's, from a valid
/// `traceparent` header, else a new one), a new `span_id`, the method and the route template.
pub(crate) async fn request_span(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let entropy = &state.app().deps().entropy;
    let trace_id = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(caller_trace_id)
        .unwrap_or_else(|| {
            // 80 random bits each: 128 of them for the trace, 64 for the span.
            let id = (entropy.ulid_bits() << 48) ^ entropy.ulid_bits();
            format!("{:032x}", id.max(1))
        });
    let span_id = format!("{:016x}", (entropy.ulid_bits() as u64).max(1));
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, |p| p.as_str()).to_owned();
    let span = tracing::info_span!(
        "request",
        trace_id = %trace_id,
        span_id = %span_id,
        method = %request.method(),
        route = %route,
    );
    next.run(request).instrument(span).await
}

/// The trace id of a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), when well formed
/// and not all zeros; the parent span id is not kept.
fn caller_trace_id(header: &str) -> Option<String> {
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let well_formed =
        hex(version, 2) && version != "ff" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2);
    // Version 00 has exactly four fields; later versions may add more.
    let fields_ok = version != "00" || parts.next().is_none();
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    (well_formed && fields_ok && !zero(trace) && !zero(parent)).then(|| trace.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_gives_its_trace_id() {
        assert_eq!(
            caller_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
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
            assert_eq!(caller_trace_id(header), None, "{header:?}");
        }
    }
}
