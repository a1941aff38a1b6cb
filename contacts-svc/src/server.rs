//! Binds the listener and assembles the gRPC services and tower layers.

use std::{future::Future, net::SocketAddr};

use accommador_proto::{
    accommador::contacts::v1::contacts_service_server::{ContactsServiceServer, SERVICE_NAME},
    serve,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::{api::ContactsApi, config::ServerConfig};

/// A bound, ready-to-run contacts-svc.
pub struct Application {
    listener: TcpListener,
    config: ServerConfig,
}

impl Application {
    /// Binds the listener; with port 0 the OS picks one, see [`Application::local_addr`].
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self { listener, config })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then lets in-flight calls finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let contacts = ContactsServiceServer::new(ContactsApi::new())
            .max_decoding_message_size(self.config.max_message_bytes)
            .max_encoding_message_size(self.config.max_message_bytes);
        let (_health, routes) = serve::introspection_routes(SERVICE_NAME).await;
        let routes = routes.add_service(contacts);

        tracing::info!(address = %self.local_addr(), "contacts-svc listening");
        tonic::transport::Server::builder()
            .http2_adaptive_window(Some(true))
            .http2_keepalive_interval(Some(serve::HTTP2_KEEPALIVE_INTERVAL))
            .layer(serve::rpc_trace_layer())
            .add_routes(routes)
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await?;
        tracing::info!("contacts-svc stopped");
        Ok(())
    }
}
