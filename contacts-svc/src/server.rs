//! Binds the listener, connects the database and media-svc, and assembles
//! the gRPC services and the claim outbox.

use std::{future::Future, net::SocketAddr, sync::Arc};

use accommador_proto::{
    accommador::contacts::v1::contacts_service_server::{ContactsServiceServer, SERVICE_NAME},
    status::byte_size,
};
use accommador_server::{
    auth::Admit,
    routes::{Introspection, follow_readiness},
    serve::{Exposure, serve},
    web::WebAccess,
};
use anyhow::Context;

use crate::{
    api::ContactsApi,
    book::ContactBook,
    config::ServerConfig,
    domain::{PhoneNormalizer, PictureLimit},
    error::ERROR_DOMAIN,
    media::{Balancing, MediaClient},
    store::Store,
};

/// The use cases over a migrated database and a (lazily connecting)
/// media-svc client: what the server serves and `reconcile` runs.
pub async fn connect_book(config: &ServerConfig, bound: SocketAddr) -> anyhow::Result<ContactBook> {
    let default_region = PhoneNormalizer::parse_region(&config.default_phone_region).map_err(anyhow::Error::msg)?;
    let store = Store::connect(&config.database_url()?).await.context("connect the database")?;
    tracing::info!(backend = ?store.backend(), "database ready");
    let pictures = PictureLimit { max_bytes: config.max_picture_bytes };
    let media = MediaClient::connect_lazy(
        &config.media_endpoint,
        config.media_timeout,
        config.picture_url_ttl,
        config.media_token.clone(),
        config.media_tls()?,
        pictures,
        Balancing {
            resolve_interval: config.media_resolve_interval,
            max_addresses: usize::from(config.media_max_addresses),
        },
    )?;
    Ok(ContactBook::new(
        store,
        media,
        PhoneNormalizer { default_region },
        pictures,
        config.outbox(),
        config.events_retention,
        config.stable_pictures(bound)?,
    )
    .await?)
}

/// A bound, ready-to-run contacts-svc.
pub struct Application {
    exposure: Exposure,
    config: ServerConfig,
    book: Arc<ContactBook>,
}

impl Application {
    /// Connects and migrates the database and binds the listener; with port
    /// 0 the OS picks one, see [`Application::local_addr`].
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        let picture_limit = byte_size(config.max_picture_bytes);
        let exposure =
            Exposure::bind("contacts-svc", config.listen, &config.serving, Admit::TenantsAndServices, ERROR_DOMAIN)
                .await?
                .with_message_hint(format!("a profile picture may be at most {picture_limit}"))
                .with_web(WebAccess::parse(&config.web_allowed_origins).map_err(anyhow::Error::msg)?);
        let book = connect_book(&config, exposure.local_addr()).await?;
        Ok(Self { exposure, config, book: Arc::new(book) })
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
        // One transport limit far above the picture limit (MAX_REQUEST_MESSAGE_BYTES):
        // any picture the guard lets through reaches the book's precise IMAGE_TOO_LARGE.
        let max_message_bytes = self.exposure.max_message_bytes();
        // Event streams end when shutdown begins, or serving would wait on them.
        let (stop_streams, streams_stopped) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = stop_streams.send(true);
        };
        let api = ContactsApi::new(
            self.book.clone(),
            self.config.tenant_max_in_progress,
            self.config.watch(),
            streams_stopped,
        );
        let contacts = ContactsServiceServer::new(api)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        let contacts = tonic::service::interceptor::InterceptedService::new(contacts, self.exposure.authenticator());
        let web = self.config.web();
        let introspection = Introspection::new(SERVICE_NAME, accommador_proto::CONTACTS_FILE_DESCRIPTOR_SET).await;

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
                follow_readiness(health, SERVICE_NAME, "database", DATABASE_CHECK_INTERVAL, check, stop).await
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

        let relay = self.config.events_nats_url.clone().map(|url| {
            let (book, stopped) = (self.book.clone(), stopped());
            let (stream, interval) = (self.config.events_nats_stream.clone(), self.config.events_relay_interval);
            let max_age = self.config.events_retention;
            tokio::spawn(async move {
                tokio::select! {
                    _ = relay_events(&book, &url, &stream, max_age, interval) => {}
                    _ = stopped => {}
                }
            })
        });
        let retention = tokio::spawn({
            let (book, stopped, interval) = (self.book.clone(), stopped(), self.config.events_prune_interval);
            async move { book.run_event_retention(interval, stopped).await }
        });

        let book = self.book.clone();
        let add_routes =
            |routes: tonic::service::Routes| crate::web::with_http_routes(routes.add_service(contacts), book, &web);
        let served = serve(self.exposure, introspection, add_routes, shutdown).await;
        let _ = stop_jobs.send(true);
        let _ = tokio::join!(outbox, readiness, retention);
        if let Some(relay) = relay {
            let _ = relay.await;
        }
        if let Some(reconciliation) = reconciliation {
            let _ = reconciliation.await;
        }
        tracing::info!("contacts-svc stopped");
        served
    }
}

/// Connects to NATS (again and again while it is down; the events wait in
/// the database meanwhile) and relays events for good.
async fn relay_events(
    book: &ContactBook,
    url: &str,
    stream: &str,
    max_age: std::time::Duration,
    interval: std::time::Duration,
) {
    let mut wait = std::time::Duration::from_millis(500);
    loop {
        match crate::nats::EventPublisher::connect(url, stream, max_age).await {
            Ok(publisher) => {
                tracing::info!(stream, "relaying contact events to NATS JetStream");
                return crate::relay::EventRelay::new(book, publisher).run(interval, std::future::pending()).await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot reach NATS for the event relay; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
        }
    }
}

/// How often the database is checked for the readiness status.
const DATABASE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
