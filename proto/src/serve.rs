//! What every server of the pair does the same way: logs, per-RPC spans,
//! health, reflection, and stopping on a signal.

use std::{future::Future, time::Duration};

use tonic::service::Routes;
use tonic_health::{
    ServingStatus,
    pb::health_server::HealthServer,
    server::{HealthReporter, HealthService},
};
use tower_http::{
    classify::{GrpcErrorsAsFailures, SharedClassifier},
    trace::{DefaultOnBodyChunk, DefaultOnEos, DefaultOnFailure, DefaultOnResponse, TraceLayer},
};
use tracing::{Level, Span};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::{
    guard::GuardLayer,
    limits::ServerLimits,
    tenant::{MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER, TENANT_ID_HEADER, TenantId},
};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global tracing subscriber. `RUST_LOG` picks what is logged
/// (default `info`). Logs go to stderr so stdout stays free for command output.
pub fn init_telemetry(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: a second call (tests starting several servers in one process) is harmless.
    let _ = match format {
        // Colours only for a person at a terminal, never into files or collectors.
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(true).with_writer(std::io::stderr))
            .try_init(),
    };
}

/// Picks rustls' cryptography (aws-lc-rs) for the whole process. Both
/// aws-lc-rs and ring end up linked through dependencies, and rustls then
/// refuses to guess; call this once at startup, before any TLS is set up.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is just as good.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The span every RPC runs in: the method, the tenant and the request id,
/// so that one user action can be followed across both services. A request
/// id the caller did not send stays empty for the handler to record.
///
/// Nothing a caller sends reaches the logs unchecked: a path that is not
/// one of our RPCs is `unknown` (and logged on its own, shortened and at most
/// once a second), a malformed tenant id is left out.
pub fn rpc_span<B>(request: &http::Request<B>) -> Span {
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
    let path = request.uri().path();
    let method = crate::metrics::method_label(path);
    if method == crate::metrics::UNKNOWN_METHOD {
        log_unknown_path(path);
    }
    let tenant = header(TENANT_ID_HEADER).filter(|raw| TenantId::parse(raw).is_ok()).unwrap_or("");
    let span = tracing::info_span!(
        "rpc",
        method,
        tenant,
        request_id = tracing::field::Empty,
        // The caller's remaining budget as sent (`grpc-timeout`, e.g. 950m).
        deadline = header(crate::tenant::GRPC_TIMEOUT_HEADER).filter(|raw| raw.len() <= 9).unwrap_or(""),
    );
    if let Some(request_id) = header(REQUEST_ID_HEADER).filter(|raw| raw.len() <= MAX_REQUEST_ID_LEN) {
        span.record("request_id", request_id);
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

/// The health service name that answers liveness ("the process serves"),
/// SERVING for as long as the server runs. The empty name and the service's
/// own name answer readiness, which each service ties to its dependencies
/// (the database, object storage).
pub const LIVENESS_SERVICE: &str = "liveness";

/// Health (`grpc.health.v1`) and reflection (v1 and v1alpha, since grpcurl
/// 1.8 speaks v1alpha) of one service.
pub struct Introspection {
    reporter: HealthReporter,
    routes: Routes,
}

impl Introspection {
    /// Health for `service_name` and liveness, and reflection over
    /// `descriptor_set` (that service's contract alone) and health. Errors
    /// only on a corrupt descriptor set, a build-time bug.
    pub async fn new(service_name: &str, descriptor_set: &[u8]) -> Self {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter.set_service_status(service_name, ServingStatus::Serving).await;
        reporter.set_service_status(LIVENESS_SERVICE, ServingStatus::Serving).await;
        let builder = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(descriptor_set)
                .register_encoded_file_descriptor_set(crate::ERROR_DETAILS_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .with_service_name(service_name)
                .with_service_name("grpc.health.v1.Health")
        };
        let reflection_v1 = builder().build_v1().expect("descriptor sets are generated at build time");
        let reflection_v1alpha = builder().build_v1alpha().expect("descriptor sets are generated at build time");
        let routes = Routes::new(health).add_service(reflection_v1).add_service(reflection_v1alpha);
        Self { reporter, routes }
    }

    /// Sets readiness: the overall status (empty name) and the service's.
    pub fn reporter(&self) -> HealthReporter {
        self.reporter.clone()
    }
}

/// Keeps readiness in step with a dependency: every `interval`, `check`
/// runs; readiness (the empty name and `service_name`) is NOT_SERVING while
/// it fails and SERVING again as soon as it passes. The first failure of an
/// outage is logged. Liveness never follows it. Returns when `stop` resolves.
pub async fn follow_readiness<F, E>(
    health: HealthReporter,
    service_name: &str,
    dependency: &str,
    interval: Duration,
    check: impl Fn() -> F,
    stop: impl Future<Output = ()>,
) where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::pin!(stop);
    let mut last = None;
    loop {
        let status = match check().await {
            Ok(()) => ServingStatus::Serving,
            Err(error) => {
                if last != Some(ServingStatus::NotServing) {
                    tracing::error!(%error, dependency, "dependency unreachable; readiness is NOT_SERVING");
                }
                ServingStatus::NotServing
            }
        };
        if last != Some(status) {
            health.set_service_status("", status).await;
            health.set_service_status(service_name, status).await;
            last = Some(status);
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// How a server is exposed: the transport limits, TLS on the main port, and
/// the optional plaintext health listener.
pub struct Exposure<'a> {
    pub limits: &'a ServerLimits,
    pub tls: Option<tonic::transport::ServerTlsConfig>,
    /// Serves only `grpc.health.v1.Health`, in plaintext even when the main
    /// port uses TLS: what Kubernetes' gRPC probes and container health
    /// checks can reach.
    pub health_listener: Option<tokio::net::TcpListener>,
    /// `ErrorInfo.domain` of the transport's own refusals.
    pub error_domain: &'static str,
}

/// Serves the service `add_service` adds beside health and reflection on `listener` (and health
/// alone on the health listener) until `shutdown` resolves, then lets
/// in-flight calls finish. Every call runs in its span, is counted in the
/// metrics and passes through the [`GuardLayer`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    introspection: Introspection,
    add_service: impl FnOnce(Routes) -> Routes,
    exposure: Exposure<'_>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let Exposure { limits, tls, health_listener, error_domain } = exposure;
    let guard = GuardLayer::new(limits, error_domain);
    let routes = add_service(introspection.routes);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };

    let mut main = limits.server_builder();
    if let Some(tls) = tls {
        main = main.tls_config(tls)?;
    }
    let main = main
        .layer(rpc_trace_layer())
        .layer(crate::metrics::RpcMetricsLayer)
        .layer(guard.clone())
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming(listener), until_stopped(stopped.clone()));
    let health = async {
        let Some(listener) = health_listener else { return Ok(()) };
        tracing::info!(address = ?listener.local_addr().ok(), "plaintext health listening");
        let health = HealthServer::new(HealthService::from_health_reporter(introspection.reporter));
        limits
            .server_builder()
            .layer(rpc_trace_layer())
            .layer(crate::metrics::RpcMetricsLayer)
            .layer(guard)
            .add_service(health)
            .serve_with_incoming_shutdown(incoming(listener), until_stopped(stopped.clone()))
            .await
    };
    let signal = async move {
        shutdown.await;
        let _ = stop.send(true);
        Ok::<_, tonic::transport::Error>(())
    };
    tokio::try_join!(signal, main, health)?;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: the moment to stop accepting
/// calls and let in-flight ones finish.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received, shutting down"),
        _ = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Asks the server at `address` for the health of `service` (empty: overall
/// readiness; [`LIVENESS_SERVICE`]: liveness) over plaintext gRPC: what the
/// `healthcheck` subcommands (container health checks) run.
pub async fn probe_health(address: std::net::SocketAddr, service: &str) -> anyhow::Result<tonic_health::ServingStatus> {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus as Wire, health_client::HealthClient,
    };
    // A server listening on every interface is probed on loopback.
    let address = if address.ip().is_unspecified() {
        std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), address.port())
    } else {
        address
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(3))
        .connect()
        .await?;
    let response = HealthClient::new(channel).check(HealthCheckRequest { service: service.to_owned() }).await?;
    Ok(match Wire::try_from(response.into_inner().status) {
        Ok(Wire::Serving) => tonic_health::ServingStatus::Serving,
        Ok(Wire::NotServing) => tonic_health::ServingStatus::NotServing,
        _ => tonic_health::ServingStatus::Unknown,
    })
}

/// The `healthcheck` subcommand's options.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthcheckArgs {
    /// Ask for liveness (the process serves) instead of readiness (it and
    /// its dependencies answer).
    #[arg(long)]
    pub liveness: bool,
}

/// Runs the `healthcheck` subcommand against the health listener when there
/// is one, else the main listener (which must then be plaintext): prints the
/// status, and exits with 0 only when SERVING.
pub async fn run_healthcheck(
    listen: std::net::SocketAddr,
    health_listen: Option<std::net::SocketAddr>,
    args: &HealthcheckArgs,
) -> ! {
    let service = if args.liveness { LIVENESS_SERVICE } else { "" };
    let serving = match probe_health(health_listen.unwrap_or(listen), service).await {
        Ok(tonic_health::ServingStatus::Serving) => {
            println!("SERVING");
            true
        }
        Ok(status) => {
            println!("{status:?}");
            false
        }
        Err(error) => {
            println!("unreachable: {error}");
            false
        }
    };
    std::process::exit(if serving { 0 } else { 1 })
}

/// The connections a server accepts, with Nagle's algorithm off. Accepting
/// from our own listener (bound before the server is built) bypasses the
/// builder's TCP settings, and with Nagle on, a response written in two
/// parts waits for the peer's delayed ACK: a flat 40 ms on every call.
pub fn incoming(listener: tokio::net::TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}
