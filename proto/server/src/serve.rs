//! Binds and serves one service: the main listener (TLS when configured)
//! with the service, health and reflection, and the optional plaintext
//! health listener, both behind the same span, metrics and guard layers.

use std::{future::Future, net::SocketAddr};

use tokio::net::TcpListener;
use tonic::{service::Routes, transport::ServerTlsConfig};
use tonic_health::{pb::health_server::HealthServer, server::HealthService};

use crate::{
    auth::{Admit, Authenticator, check_exposure},
    config::ServingConfig,
    guard::GuardLayer,
    limits::ServerLimits,
    routes::Introspection,
    rpc_trace::rpc_trace_layer,
    telemetry::Telemetry,
    web::{GrpcWebSwitchLayer, WebAccess},
};

pub use crate::connections::incoming;

/// How a server is exposed: its bound listeners, the transport limits, TLS
/// on the main port and who may call. Built once by [`Exposure::bind`] from
/// the shared [`ServingConfig`].
pub struct Exposure {
    /// The service's name in logs and refusals (`contacts-svc`).
    service: &'static str,
    listener: TcpListener,
    /// Serves only `grpc.health.v1.Health`, in plaintext even when the main
    /// port uses TLS: what Kubernetes' gRPC probes and container health
    /// checks can reach.
    health_listener: Option<TcpListener>,
    limits: ServerLimits,
    tls: Option<ServerTlsConfig>,
    authenticator: Authenticator,
    /// `ErrorInfo.domain` of the transport's own refusals.
    error_domain: &'static str,
    /// Ends the refusal of a request message over MAX_REQUEST_MESSAGE_BYTES:
    /// the limit the caller actually ran into, such as the picture limit.
    message_hint: Option<String>,
    /// Browsers on the main port (gRPC-Web, CORS, HTTP/1.1), when the
    /// service serves them.
    web: Option<WebAccess>,
}

impl Exposure {
    /// Loads the credentials (refusing to run without any beyond loopback)
    /// and the TLS files, and binds `listen` and the health listener. With
    /// port 0 the OS picks a port, see [`Exposure::local_addr`].
    pub async fn bind(
        service: &'static str,
        listen: SocketAddr,
        config: &ServingConfig,
        admit: Admit,
        error_domain: &'static str,
    ) -> anyhow::Result<Self> {
        let credentials = config.security.load_credentials()?;
        check_exposure(service, listen, &credentials).map_err(anyhow::Error::msg)?;
        let tls = config.security.server_tls()?;
        let listener = TcpListener::bind(listen).await?;
        let health_listener = match config.health_listen {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        };
        Ok(Self {
            service,
            listener,
            health_listener,
            limits: config.transport.clone(),
            tls,
            authenticator: Authenticator::new(credentials, admit, error_domain),
            error_domain,
            message_hint: None,
            web: None,
        })
    }

    /// What a refusal of a request message over MAX_REQUEST_MESSAGE_BYTES
    /// adds after the transport limit, e.g. "a profile picture may be at
    /// most 2.5 MiB (2621440 bytes)".
    pub fn with_message_hint(mut self, hint: String) -> Self {
        self.message_hint = Some(hint);
        self
    }

    /// Serves browsers too: gRPC-Web (and CORS for `access`'s origins) on
    /// the main port, which then also speaks HTTP/1.1.
    pub fn with_web(mut self, access: WebAccess) -> Self {
        self.web = Some(access);
        self
    }

    /// MAX_REQUEST_MESSAGE_BYTES, for the service's own message limits.
    pub fn max_message_bytes(&self) -> usize {
        self.limits.max_request_message_bytes
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The plaintext health listener's address, when one is configured.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_listener.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    /// The interceptor to wrap the service in; health and reflection stay open.
    pub fn authenticator(&self) -> Authenticator {
        self.authenticator.clone()
    }
}

/// Serves the service `add_service` adds beside health and reflection on the main listener (and health
/// alone on the health listener) until `shutdown` resolves, then lets
/// in-flight calls finish. Every call runs in its span, is counted in the
/// metrics and passes through the [`GuardLayer`].
pub async fn serve(
    exposure: Exposure,
    introspection: Introspection,
    add_service: impl FnOnce(Routes) -> Routes,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let service = exposure.service;
    tracing::info!(address = %exposure.local_addr(), tls = exposure.tls.is_some(), "{service} listening");
    let Exposure { listener, limits, tls, health_listener, error_domain, message_hint, web, .. } = exposure;
    let limits = &limits;
    let guard = GuardLayer::new(limits, error_domain, message_hint);
    let routes = add_service(introspection.routes);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };

    let mut main = limits.server_builder();
    if let Some(tls) = tls {
        main = main.tls_config(tls)?;
    }
    // Outermost: a browser's call is gRPC by the time the span, the metrics
    // and the guard see it, and their refusals go back as gRPC-Web.
    let cors = web.as_ref().and_then(WebAccess::cors);
    let main = main
        .accept_http1(web.is_some())
        .layer(tower::util::option_layer(cors))
        .layer(GrpcWebSwitchLayer { enabled: web.is_some(), max_header_bytes: limits.max_header_list_bytes as usize })
        .layer(rpc_trace_layer())
        .layer(crate::metrics::RpcMetricsLayer)
        .layer(guard.clone())
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming(listener, limits.connection_bounds()), until_stopped(stopped.clone()));
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
            .serve_with_incoming_shutdown(
                incoming(listener, limits.connection_bounds()),
                until_stopped(stopped.clone()),
            )
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

/// What a server process sets up before anything else, inside the runtime:
/// the log subscriber (and trace export as `service`), rustls' provider and
/// the Prometheus endpoint. Keep the returned [`Telemetry`] until the
/// server stops, then shut it down.
pub fn start_process(
    service: &'static str,
    config: &ServingConfig,
    metrics_listen: SocketAddr,
) -> anyhow::Result<Telemetry> {
    let telemetry = crate::telemetry::init(config.log_format, config.otlp_endpoint.as_deref(), service)?;
    crate::tls::install_crypto_provider();
    crate::metrics::install(metrics_listen)?;
    Ok(telemetry)
}
