//! Binds the listener, connects the database and media-svc, and assembles
//! the gRPC services and the claim outbox.

use std::{future::Future, net::SocketAddr, sync::Arc};

use accommador_proto::{
    accommador::contacts::v1::contacts_service_server::{ContactsServiceServer, SERVICE_NAME},
    auth::{Admit, Authenticator, Credentials, check_exposure},
    serve,
};
use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    api::ContactsApi, book::ContactBook, config::ServerConfig, domain::PhoneNormalizer, error::ERROR_DOMAIN,
    media::MediaClient, store::Store,
};

/// The use cases over a migrated database and a (lazily connecting)
/// media-svc client: what the server serves and `reconcile` runs.
pub async fn connect_book(config: &ServerConfig) -> anyhow::Result<ContactBook> {
    let default_region = PhoneNormalizer::parse_region(&config.default_phone_region).map_err(anyhow::Error::msg)?;
    let store = Store::connect(&config.database_url()?).await.context("connect the database")?;
    tracing::info!(backend = ?store.backend(), "database ready");
    let media = MediaClient::connect_lazy(
        &config.media_endpoint,
        config.media_timeout,
        config.picture_url_ttl,
        config.media_token.clone(),
        config.media_tls()?,
    )?;
    Ok(ContactBook::new(store, media, PhoneNormalizer { default_region }, config.outbox()).await?)
}

/// A bound, ready-to-run contacts-svc.
pub struct Application {
    listener: TcpListener,
    health_listener: Option<TcpListener>,
    config: ServerConfig,
    book: Arc<ContactBook>,
    credentials: Credentials,
}

impl Application {
    /// Connects and migrates the database and binds the listener; with port
    /// 0 the OS picks one, see [`Application::local_addr`].
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        let credentials = config.security.load_credentials()?;
        check_exposure("contacts-svc", config.listen, &credentials).map_err(anyhow::Error::msg)?;
        let book = connect_book(&config).await?;
        let listener = TcpListener::bind(config.listen).await?;
        let health_listener = match config.health_listen {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        };
        Ok(Self { listener, health_listener, config, book: Arc::new(book), credentials })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The plaintext health listener's address, when one is configured.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_listener.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then lets in-flight calls finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let contacts =
            ContactsServiceServer::new(ContactsApi::new(self.book.clone(), self.config.tenant_max_in_progress))
                .max_decoding_message_size(self.config.max_message_bytes)
                .max_encoding_message_size(self.config.max_message_bytes);
        let authenticator = Authenticator::new(self.credentials.clone(), Admit::TenantsAndServices, ERROR_DOMAIN);
        let contacts = tonic::service::interceptor::InterceptedService::new(contacts, authenticator);
        let introspection =
            serve::Introspection::new(SERVICE_NAME, accommador_proto::CONTACTS_FILE_DESCRIPTOR_SET).await;

        // Background jobs stop when the server does.
        let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut receiver = jobs_stopped.clone();
            async move {
                let _ = receiver.wait_for(|stopped| *stopped).await;
            }
        };
        let readiness = tokio::spawn({
            let (book, health, stop) = (self.book.clone(), introspection.reporter(), stopped());
            async move {
                let check = || book.ready();
                serve::follow_readiness(health, SERVICE_NAME, "database", DATABASE_CHECK_INTERVAL, check, stop).await
            }
        });
        let outbox = tokio::spawn({
            let (book, stopped) = (self.book.clone(), stopped());
            async move { book.run_claim_outbox(stopped).await }
        });
        let reconciliation = (!self.config.reconcile_interval.is_zero()).then(|| {
            let (book, stopped, interval) = (self.book.clone(), stopped(), self.config.reconcile_interval);
            tokio::spawn(async move { book.run_reconciliation(interval, stopped).await })
        });

        tracing::info!(address = %self.local_addr(), tls = self.config.security.tls_cert.is_some(), "contacts-svc listening");
        let exposure = serve::Exposure {
            limits: &self.config.transport,
            tls: self.config.security.server_tls()?,
            health_listener: self.health_listener,
            error_domain: ERROR_DOMAIN,
        };
        let served =
            serve::serve(self.listener, introspection, |routes| routes.add_service(contacts), exposure, shutdown).await;
        let _ = stop_jobs.send(true);
        let _ = tokio::join!(outbox, readiness);
        if let Some(reconciliation) = reconciliation {
            let _ = reconciliation.await;
        }
        tracing::info!("contacts-svc stopped");
        served
    }
}

/// How often the database is checked for the readiness status.
const DATABASE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
