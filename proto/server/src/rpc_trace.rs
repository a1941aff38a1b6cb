//! The span every RPC runs in, and the layer that opens and closes it.

use accommador_proto::tenant::{
    GRPC_TIMEOUT_HEADER, MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER, TENANT_ID_HEADER, TenantId,
};
use tower_http::{
    classify::{GrpcErrorsAsFailures, SharedClassifier},
    trace::{DefaultOnBodyChunk, DefaultOnEos, DefaultOnFailure, DefaultOnResponse, TraceLayer},
};
use tracing::{Level, Span};

/// The span every RPC runs in: the method, the tenant and the request id,
/// so that one user action can be followed across both services (and, when
/// traces are exported, a child of the caller's span). A request
/// id the caller did not send stays empty for the handler to record.
///
/// Nothing a caller sends reaches the logs unchecked: a path that is not
/// one of our RPCs is `unknown` (and logged on its own, shortened and at most
/// once a second), a malformed tenant id is left out.
pub fn rpc_span<B>(request: &http::Request<B>) -> Span {
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
    let path = request.uri().path();
    let method = crate::metrics::request_label(request);
    if method == crate::metrics::UNKNOWN_METHOD {
        log_unknown_path(path);
    }
    let tenant = header(TENANT_ID_HEADER).filter(|raw| TenantId::parse(raw).is_ok()).unwrap_or("");
    let span = tracing::info_span!(
        "rpc",
        method,
        tenant,
        request_id = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        // The caller's remaining budget as sent (`grpc-timeout`, e.g. 950m).
        deadline = header(GRPC_TIMEOUT_HEADER).filter(|raw| raw.len() <= 9).unwrap_or(""),
    );
    if let Some(request_id) = header(REQUEST_ID_HEADER).filter(|raw| raw.len() <= MAX_REQUEST_ID_LEN) {
        span.record("request_id", request_id);
    }
    if crate::otlp::exporting() {
        // Named after the RPC in trace viewers; empty (hence absent from log
        // lines) when nothing is exported.
        span.record("otel.name", method);
        span.record("otel.kind", "server");
        crate::otlp::extract_context(request, &span);
    }
    span
}

/// Longest part of an unknown path that is logged, in bytes.
const MAX_LOGGED_PATH: usize = 128;

/// Logs a call to a path we do not serve, at most once a second, with how
/// many were left unlogged since: a flood of made-up paths costs a log line
/// a second, not one per call.
fn log_unknown_path(path: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_LOGGED_SECOND: AtomicU64 = AtomicU64::new(0);
    static UNLOGGED: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let last = LAST_LOGGED_SECOND.load(Ordering::Relaxed);
    if now <= last || LAST_LOGGED_SECOND.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
        UNLOGGED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let shortened = &path[..path.floor_char_boundary(MAX_LOGGED_PATH)];
    let unlogged = UNLOGGED.swap(0, Ordering::Relaxed);
    tracing::warn!(path = shortened, path_bytes = path.len(), unlogged_since = unlogged, "call to an unknown method");
}

/// The tower layer returned by [`rpc_trace_layer`].
pub type RpcTraceLayer<B> = TraceLayer<
    SharedClassifier<GrpcErrorsAsFailures>,
    fn(&http::Request<B>) -> Span,
    (),
    DefaultOnResponse,
    DefaultOnBodyChunk,
    DefaultOnEos,
    DefaultOnFailure,
>;

/// A tower layer that runs each RPC in [`rpc_span`] and logs its outcome
/// (gRPC status and latency) when it completes.
pub fn rpc_trace_layer<B>() -> RpcTraceLayer<B> {
    TraceLayer::new_for_grpc()
        .make_span_with(rpc_span::<B> as fn(&http::Request<B>) -> Span)
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
        .on_failure(DefaultOnFailure::new().level(Level::WARN))
}
