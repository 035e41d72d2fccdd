//! Logging through `tracing`: text for people, JSON for machines (`NH_LOG_FORMAT`), levels from
//! `RUST_LOG` (default `info`). Addresses and bodies never reach a log: the domain types mask
//! themselves and spans skip payloads.
//!
//! Every HTTP request is served in a `request` span with W3C `trace_id` (the caller's
//! `traceparent`, else a new one) and `span_id`; JSON lines carry the current span and the list
//! of enclosing spans (`span`, `spans`), so a request's lines share its trace id.
//!
//! With `NH_OTEL_ENDPOINT` set, spans are also exported over OTLP/HTTP (protobuf) in batches
//! from the SDK's own thread (ADR 0026). The `request` span is then started as an OpenTelemetry
//! span in the caller's trace, and the ids it logs are that span's, so logs and traces join.
//! Without the key there is no exporter, no layer and no thread.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hub_adapter_in::http::{CallerTrace, TraceExport, TraceIds};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat, OtelExport};

/// How long the exporter may take, at the end of the process, to send the spans it holds.
/// The Helm chart's termination margin (10 s after the drain grace) covers it.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The trace export of the process, when `otel_endpoint` is set. Keep it until the end, then
/// call [`Telemetry::shutdown`] so the last batch is sent.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported (an exporter and its batch thread exist).
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still held and stops the exporter, waiting at most `timeout`; failures
    /// are logged, not returned (the process is ending anyway).
    pub fn shutdown(self, timeout: Duration) {
        if let Some(provider) = self.provider {
            match provider.shutdown_with_timeout(timeout) {
                Ok(()) => tracing::debug!("trace exporter flushed"),
                Err(e) => tracing::warn!(error = %e, "trace exporter did not flush; the last spans are lost"),
            }
        }
    }
}

/// Installs the global subscriber, with the trace export when configured; a second call
/// (tests) installs nothing and exports nothing.
pub fn init(config: &Config) -> anyhow::Result<Telemetry> {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (subscriber, telemetry) = build(config, std::io::stderr, ansi)?;
    if subscriber.try_init().is_err() {
        return Ok(Telemetry::default());
    }
    if let Some(otel) = &config.otel {
        tracing::info!(url = %otel.traces_url, service = %otel.service_name, "exporting traces over OTLP/HTTP");
    }
    Ok(telemetry)
}

/// The subscriber [`init`] installs, writing uncoloured log lines to `writer`, and its trace
/// export; for tests, which install it for one thread (`tracing::subscriber::set_default`).
pub fn subscriber<W>(config: &Config, writer: W) -> anyhow::Result<(impl Subscriber + Send + Sync, Telemetry)>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build(config, writer, false)
}

fn build<W>(
    config: &Config,
    writer: W,
    ansi: bool,
) -> anyhow::Result<(impl Subscriber + Send + Sync, Telemetry)>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (text, json) = match config.log_format {
        LogFormat::Text => (Some(fmt::layer().with_writer(writer).with_ansi(ansi).with_target(false)), None),
        LogFormat::Json => {
            let json = fmt::layer().with_writer(writer).with_ansi(ansi).json();
            (None, Some(json.flatten_event(true).with_current_span(true)))
        }
    };
    let provider = config.otel.as_ref().map(tracer_provider).transpose()?;
    let export = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(env!("CARGO_PKG_NAME"))));
    let subscriber = tracing_subscriber::registry().with(filter).with(text).with(json).with(export);
    Ok((subscriber, Telemetry { provider }))
}

/// An SDK tracer provider whose batch processor posts protobuf to the collector.
fn tracer_provider(otel: &OtelExport) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(otel.traces_url.as_str())
        .build()
        .with_context(|| format!("NH_OTEL_ENDPOINT: cannot export to {}", otel.traces_url))?;
    let resource = Resource::builder()
        .with_service_name(otel.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// What the HTTP adapter calls for each `request` span when spans are exported, or `None`
/// when they are not.
pub fn trace_export(config: &Config) -> Option<Arc<dyn TraceExport>> {
    config.otel.as_ref().map(|_| Arc::new(OtelRequestSpans) as Arc<dyn TraceExport>)
}

/// Starts each HTTP `request` span as an OpenTelemetry span, child of the caller's span when
/// the request came with a `traceparent`, and hands its ids to the adapter to log.
#[derive(Debug)]
struct OtelRequestSpans;

impl TraceExport for OtelRequestSpans {
    fn start_request(&self, span: &tracing::Span, caller: Option<CallerTrace>) -> Option<TraceIds> {
        if let Some(caller) = caller {
            let flags = if caller.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
            let parent = SpanContext::new(
                TraceId::from(caller.trace_id),
                SpanId::from(caller.parent_span_id),
                flags,
                true,
                TraceState::default(),
            );
            // Fails only when no OpenTelemetry layer is installed (or the span is disabled):
            // then nothing is exported and the adapter makes the ids.
            span.set_parent(Context::new().with_remote_span_context(parent)).ok()?;
        }
        // Starts the span now, so its ids are known before the first log line.
        let context = span.context();
        let started = context.span().span_context().clone();
        started.is_valid().then(|| TraceIds {
            trace_id: u128::from_be_bytes(started.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(started.span_id().to_bytes()),
        })
    }
}
