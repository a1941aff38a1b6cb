//! Binds the listener, connects storage, and assembles the gRPC services,
//! the janitor and the storage health monitor.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use accommador_proto::{
    accommador::media::v1::media_service_server::{MediaServiceServer, SERVICE_NAME},
    status::byte_size,
};
use accommador_server::{
    auth::Admit,
    routes::{Introspection, follow_readiness},
    serve::{Exposure, serve},
};

use crate::{
    api::MediaApi,
    config::ServerConfig,
    error::ERROR_DOMAIN,
    images::{ImageLibrary, LibrarySettings, Processor},
    pipeline::Pipeline,
    storage::{ObjectStore, S3Settings, embedded},
};

/// How often storage reachability is checked for the health status.
const STORAGE_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// A bound, ready-to-run media-svc.
pub struct Application {
    exposure: Exposure,
    config: ServerConfig,
    library: Arc<ImageLibrary>,
}

impl Application {
    /// Binds the listener and connects storage (starting the embedded S3
    /// server when no endpoint is configured). With port 0 the OS picks a
    /// port, see [`Application::local_addr`].
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        let image_limit = byte_size(config.limits.max_image_bytes);
        let exposure = Exposure::bind("media-svc", config.listen, &config.serving, Admit::ServicesOnly, ERROR_DOMAIN)
            .await?
            .with_message_hint(format!("an image may be at most {image_limit}"));
        let store = connect_storage(&config).await?;
        let workers = config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
        let library = ImageLibrary::new(
            store,
            Pipeline::new(config.limits.into()),
            Processor::new(workers, config.max_queued_bytes),
            LibrarySettings { pending_grace: config.pending_grace },
        );
        Ok(Self { exposure, config, library: Arc::new(library) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.exposure.local_addr()
    }

    /// The plaintext health listener's address, when one is configured.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.exposure.health_addr()
    }

    /// Serves until `shutdown` resolves, then lets in-flight calls finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        // One transport limit far above the image limit (MAX_REQUEST_MESSAGE_BYTES):
        // any upload the guard lets through reaches the pipeline's precise IMAGE_TOO_LARGE.
        let max_message_bytes = self.exposure.max_message_bytes();
        let media = MediaServiceServer::new(MediaApi::new(self.library.clone()))
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        let media = tonic::service::interceptor::InterceptedService::new(media, self.exposure.authenticator());
        let introspection = Introspection::new(SERVICE_NAME, accommador_proto::MEDIA_FILE_DESCRIPTOR_SET).await;
        let health = introspection.reporter();

        let (stop_background, background_stopped) = tokio::sync::watch::channel(false);
        let stopped = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
            let _ = receiver.wait_for(|stop| *stop).await;
        };
        let janitor_id = format!("janitor-{}", uuid::Uuid::new_v4().simple());
        let janitor = tokio::spawn({
            let library = self.library.clone();
            let interval = self.config.janitor_interval;
            let stop = stopped(background_stopped.clone());
            async move { library.run_janitor(&janitor_id, interval, stop).await }
        });
        let monitor = tokio::spawn({
            let library = self.library.clone();
            let stop = stopped(background_stopped);
            async move {
                let check = || library.store().check_bucket();
                follow_readiness(health, SERVICE_NAME, "object storage", STORAGE_CHECK_INTERVAL, check, stop).await
            }
        });

        let served = serve(self.exposure, introspection, |routes| routes.add_service(media), shutdown).await;
        let _ = stop_background.send(true);
        let _ = tokio::join!(janitor, monitor);
        tracing::info!("media-svc stopped");
        served
    }
}

async fn connect_storage(config: &ServerConfig) -> anyhow::Result<ObjectStore> {
    let s3 = &config.s3;
    let settings = match &s3.s3_endpoint {
        Some(endpoint) => S3Settings {
            endpoint: Some(endpoint.clone()),
            public_endpoint: s3.s3_public_endpoint.clone(),
            region: s3.s3_region.clone(),
            bucket: s3.s3_bucket.clone(),
            access_key_id: s3.s3_access_key_id.clone(),
            secret_access_key: s3.s3_secret_access_key.clone(),
            force_path_style: s3.s3_force_path_style,
        },
        None => {
            let server = embedded::start(&config.data_dir.join("media"), s3.embedded_s3_listen).await?;
            S3Settings {
                endpoint: Some(server.endpoint.clone()),
                public_endpoint: s3.s3_public_endpoint.clone(),
                region: s3.s3_region.clone(),
                bucket: s3.s3_bucket.clone(),
                access_key_id: server.credentials.access_key_id,
                secret_access_key: server.credentials.secret_access_key,
                force_path_style: true,
            }
        }
    };
    let store = ObjectStore::new(&settings)?;
    if s3.s3_endpoint.is_none() {
        store.create_bucket_if_missing().await?;
    } else if let Err(error) = store.check_bucket().await {
        // Not fatal: health says NOT_SERVING until the bucket answers.
        tracing::error!(%error, bucket = %settings.bucket, "bucket not reachable at startup");
    }
    tracing::info!(endpoint = ?settings.endpoint, bucket = %settings.bucket, "object storage configured");
    Ok(store)
}
