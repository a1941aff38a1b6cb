//! Trace export over OTLP (gRPC) and the W3C trace context that links one
//! service's spans to the other's.
//!
//! Enabled by the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (the
//! `--otlp-endpoint` setting), a plaintext gRPC collector address such as
//! `http://otel-collector:4317`; the other standard `OTEL_*` variables the
//! SDK reads apply too. Unset, nothing is exported, no propagator is
//! installed, and [`inject_context`] and [`extract_context`] do nothing.
//!
//! Spans wait for export in a bounded queue: 2,048 spans by default
//! (`OTEL_BSP_MAX_QUEUE_SIZE`), sent in batches of up to 512
//! (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`) every 5 s (`OTEL_BSP_SCHEDULE_DELAY`).
//! When the collector is slower than the traffic, spans beyond the queue are
//! dropped, never buffered without bound and never slowing a request.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::{
    propagation::{Extractor, Injector},
    trace::TracerProvider as _,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Set once trace export is configured: until then the RPC span carries no
/// OpenTelemetry fields and no incoming trace context is read.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports its traces.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The provider exporting to `endpoint` when one is configured, with the
/// W3C trace-context propagator installed; `None` otherwise.
pub(crate) fn tracer_provider(
    endpoint: Option<&str>,
    service_name: &'static str,
) -> anyhow::Result<Option<SdkTracerProvider>> {
    let Some(endpoint) = endpoint.filter(|endpoint| !endpoint.is_empty()) else { return Ok(None) };
    EXPORTING.store(true, Ordering::Relaxed);
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service_name).build())
        // The batch processor's queue is bounded by OTEL_BSP_MAX_QUEUE_SIZE (see above).
        .with_batch_exporter(exporter)
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Some(provider))
}

/// The tracer the subscriber's OpenTelemetry layer hands spans to.
pub(crate) fn tracer(provider: &SdkTracerProvider, service_name: &'static str) -> opentelemetry_sdk::trace::Tracer {
    provider.tracer(service_name)
}

/// Writes the current span's trace context (`traceparent`) into the
/// metadata of an outgoing call, so the callee's spans join this trace.
pub fn inject_context(metadata: &mut MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

/// Makes `span` a child of the trace context the caller sent, if any.
pub fn extract_context<B>(request: &http::Request<B>, span: &tracing::Span) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    // Err only when no OpenTelemetry layer is installed: nothing to link.
    let _ = span.set_parent(parent);
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (MetadataKey::from_bytes(key.as_bytes()), MetadataValue::try_from(value)) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
