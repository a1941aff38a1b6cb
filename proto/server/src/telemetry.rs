//! The process's tracing subscriber: log lines (human or JSON) on stderr,
//! and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the same spans exported
//! over OTLP ([`crate::otlp`]).

use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber with logs only: for offline commands,
/// which have no spans worth exporting. `RUST_LOG` picks what is logged
/// (default `info`). Logs go to stderr so stdout stays free for command output.
pub fn init_logs(format: LogFormat) {
    install(format, None);
}

/// Installs the global subscriber of a server: logs, plus trace export as
/// `service_name` to `otlp_endpoint` when one is configured. Call inside the tokio runtime
/// (the exporter's gRPC channel lives on it), and end with
/// [`Telemetry::shutdown`] so the spans still queued are sent.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>, service_name: &'static str) -> anyhow::Result<Telemetry> {
    let provider = crate::otlp::tracer_provider(otlp_endpoint, service_name)?;
    install(format, provider.as_ref().map(|provider| crate::otlp::tracer(provider, service_name)));
    if provider.is_some() {
        tracing::info!(endpoint = otlp_endpoint, "exporting traces over OTLP");
    }
    Ok(Telemetry { provider })
}

fn install(format: LogFormat, tracer: Option<opentelemetry_sdk::trace::Tracer>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        // Colours only for a person at a terminal, never into files or collectors.
        LogFormat::Text => fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => {
            fmt::layer().json().flatten_event(true).with_current_span(true).with_writer(std::io::stderr).boxed()
        }
    };
    let otlp = tracer.map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
    // try_init: a second call (tests starting several servers in one process) is harmless.
    let _ = tracing_subscriber::registry().with(filter).with(logs).with(otlp).try_init();
}

/// Holds the trace exporter, if any, until the server is done.
#[must_use = "call `shutdown` when the server stops, or queued spans are lost"]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still queued (waiting at most the exporter's timeout)
    /// and stops the exporter. Without OTLP, does nothing.
    pub async fn shutdown(mut self) {
        let Some(provider) = self.provider.take() else { return };
        // Blocks until the export thread is done; keep it off the runtime's workers.
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "OTLP exporter did not shut down cleanly; some spans may be lost");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // An early return (a startup error) still flushes what was traced.
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}
