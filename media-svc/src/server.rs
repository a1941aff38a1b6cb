//! Binds the listener and assembles the gRPC services and tower layers.

use std::{future::Future, net::SocketAddr};

use accommador_proto::{
    accommador::media::v1::media_service_server::{MediaServiceServer, SERVICE_NAME},
    serve,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::{api::MediaApi, config::ServerConfig};

/// Room for the protobuf framing around the image bytes: a request just over
/// the image limit must still reach our own size check (and get a precise
/// IMAGE_TOO_LARGE), while a far larger one is refused from its length prefix
/// before it is buffered.
const MESSAGE_OVERHEAD_BYTES: usize = 64 * 1024;

/// A bound, ready-to-run media-svc.
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
        let max_message_bytes = self.config.max_image_bytes + MESSAGE_OVERHEAD_BYTES;
        let media = MediaServiceServer::new(MediaApi::new())
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        let (_health, routes) = serve::introspection_routes(SERVICE_NAME).await;
        let routes = routes.add_service(media);

        tracing::info!(address = %self.local_addr(), "media-svc listening");
        tonic::transport::Server::builder()
            .http2_adaptive_window(Some(true))
            .http2_keepalive_interval(Some(serve::HTTP2_KEEPALIVE_INTERVAL))
            .layer(serve::rpc_trace_layer())
            .add_routes(routes)
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await?;
        tracing::info!("media-svc stopped");
        Ok(())
    }
}
