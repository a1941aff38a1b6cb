//! Configuration: every setting is a flag with an environment fallback, so
//! `contacts-svc --help` documents the whole surface.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use accommador_server::{command::ServerCommand, config::ServingConfig};
use clap::{Args, Parser, Subcommand};

use crate::book::OutboxSettings;

#[derive(Debug, Parser)]
#[command(name = "contacts-svc", version, about = "Write-once CRM contacts with profile pictures")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub server: ServerConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// `hash-token` and `healthcheck`, as every server of the pair has them.
    #[command(flatten)]
    Server(ServerCommand),
    /// Checks once that media-svc holds every live contact's picture claimed
    /// for that contact, re-claims what is missing, and prints a JSON report.
    /// Deletes nothing. Exit status 0, or 2 when some picture is gone from
    /// media-svc (listed in the report and logged). Uses the server's
    /// database and media-svc settings; the server may keep running.
    Reconcile,
}

#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Address the gRPC server listens on. Port 0 picks a free port.
    #[arg(long, env = "CONTACTS_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Health listener, transport limits, logs, and who may call (tenant API
    /// keys and service credentials) with TLS: as in media-svc.
    #[command(flatten)]
    pub serving: ServingConfig,

    /// Address of the Prometheus metrics endpoint (`/metrics`, plain HTTP).
    #[arg(long, env = "METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    pub metrics_listen: SocketAddr,

    /// Largest profile picture CreateContact and ReplaceProfilePicture accept,
    /// in bytes; a larger one is refused here (INVALID_ARGUMENT, reason
    /// IMAGE_TOO_LARGE) without being sent to media-svc. Keep it equal to
    /// media-svc's MEDIA_MAX_IMAGE_BYTES: set higher, media-svc refuses what
    /// lies between (the same error, passed through); set lower, media-svc's
    /// limit is never reached. Must stay under MAX_REQUEST_MESSAGE_BYTES.
    #[arg(long, env = "MAX_PICTURE_BYTES", default_value_t = 2_621_440)]
    pub max_picture_bytes: usize,

    /// Folder for local data; holds the SQLite database when --database-url is unset.
    #[arg(long, env = "DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,

    /// Calls of one tenant served at once; more are refused with
    /// RESOURCE_EXHAUSTED (reason TENANT_BUSY), so one tenant's burst cannot
    /// take every database connection and media-svc worker from the others.
    #[arg(long, env = "TENANT_MAX_IN_PROGRESS", default_value_t = 32)]
    pub tenant_max_in_progress: usize,

    /// Database: `postgres://user:password@host/db` in production; unset
    /// means SQLite in --data-dir. Migrations run at startup.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// media-svc's gRPC endpoint, or several, comma-separated. Each host
    /// name is resolved every --media-resolve-interval to all its addresses
    /// (in Kubernetes: a headless Service), and each call goes to one of
    /// them (power of two choices by calls in flight).
    #[arg(long, env = "MEDIA_ENDPOINT", default_value = "http://127.0.0.1:50052")]
    pub media_endpoint: String,

    /// How often MEDIA_ENDPOINT's host names are resolved again. A failed
    /// resolution keeps the last addresses; an address no longer answered is
    /// dropped once its calls finish.
    #[arg(long, env = "MEDIA_RESOLVE_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub media_resolve_interval: Duration,

    /// Most media-svc addresses calls are spread over (those already in use
    /// are kept first).
    #[arg(long, env = "MEDIA_MAX_ADDRESSES", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub media_max_addresses: u16,

    /// Deadline of each call to media-svc.
    #[arg(long, env = "MEDIA_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub media_timeout: Duration,

    /// How long signed picture URLs stay valid (at least half of it after each read).
    #[arg(long, env = "PICTURE_URL_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub picture_url_ttl: Duration,

    /// Where clients reach this service over HTTP, the start of the stable
    /// picture URLs it hands out (e.g. https://contacts.example.com). Unset:
    /// `http://` (`https://` with TLS) and the listen address.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Keys that sign stable picture URLs: `id:secret` entries separated by
    /// `,`, ids of letters and digits, secrets of at least 32 bytes in
    /// base64url. The first signs; every one listed still verifies, so keep
    /// a retired key listed while its URLs should work. Unset: a key made
    /// once and kept in the database (which also always verifies).
    #[arg(long, env = "PICTURE_URL_KEYS", hide_env_values = true)]
    pub picture_url_keys: Option<secrecy::SecretString>,

    /// Pictures whose signed URLs are kept between reads (while they are good
    /// for half of PICTURE_URL_TTL), so a page shown again costs no call to
    /// media-svc. About 1 KB each; 0 keeps none.
    #[arg(long, env = "PICTURE_URL_CACHE_ENTRIES", default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub picture_url_cache_entries: u32,

    /// Stable picture URLs resolved at once (each asks media-svc for a signed
    /// URL); more are answered 503 with Retry-After.
    #[arg(long, env = "STABLE_URL_MAX_IN_PROGRESS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub stable_url_max_in_progress: u32,

    /// Browser origins allowed to call the API with gRPC-Web from their own
    /// pages (CORS), separated by `,`, e.g. https://app.example.com. The
    /// console this service serves is same-origin and needs none.
    #[arg(long, env = "WEB_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub web_allowed_origins: Vec<String>,

    /// Folder of the built web console (`web/dist`), served at `/`. Unset:
    /// no console (`/` answers 404).
    #[arg(long, env = "WEB_CONSOLE_DIR")]
    pub web_console_dir: Option<PathBuf>,

    /// Region for phone numbers written without a country code (ISO 3166 alpha-2).
    #[arg(long, env = "DEFAULT_PHONE_REGION", default_value = "US")]
    pub default_phone_region: String,

    /// Bearer token contacts-svc presents to media-svc (a service credential there).
    #[arg(long, env = "MEDIA_TOKEN", hide_env_values = true)]
    pub media_token: Option<String>,

    /// PEM CA certificate to verify media-svc's TLS certificate (use an https:// endpoint).
    #[arg(long, env = "MEDIA_TLS_CA")]
    pub media_tls_ca: Option<PathBuf>,

    /// PEM client certificate for mutual TLS with media-svc (needs --media-tls-key).
    #[arg(long, env = "MEDIA_TLS_CERT", requires = "media_tls_key")]
    pub media_tls_cert: Option<PathBuf>,

    /// PEM private key of --media-tls-cert.
    #[arg(long, env = "MEDIA_TLS_KEY", requires = "media_tls_cert")]
    pub media_tls_key: Option<PathBuf>,

    /// How often the claim outbox looks for due picture claims, and the first
    /// retry delay of a claim that failed (doubled per attempt, with jitter).
    #[arg(long, env = "CLAIM_RETRY_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub claim_retry_interval: Duration,

    /// Longest delay between two attempts of one picture claim.
    #[arg(long, env = "CLAIM_RETRY_MAX", default_value = "5m", value_parser = humantime::parse_duration)]
    pub claim_retry_max: Duration,

    /// Picture claims taken per outbox pass (the pass repeats at once while
    /// whole batches are due).
    #[arg(long, env = "CLAIM_BATCH", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub claim_batch: u64,

    /// Picture claims delivered to media-svc at once.
    #[arg(long, env = "CLAIM_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub claim_concurrency: u16,

    /// How often every live contact's picture is checked against media-svc
    /// (see the `reconcile` subcommand); 0s turns the periodic job off.
    #[arg(long, env = "RECONCILE_INTERVAL", default_value = "6h", value_parser = humantime::parse_duration)]
    pub reconcile_interval: Duration,

    /// How long contact events are kept for ListContactEvents; a cursor
    /// older than this is refused (OUT_OF_RANGE).
    #[arg(long, env = "EVENTS_RETENTION", default_value = "30days", value_parser = humantime::parse_duration)]
    pub events_retention: Duration,

    /// How often events past the retention are pruned.
    #[arg(long, env = "EVENTS_PRUNE_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub events_prune_interval: Duration,

    /// NATS server the event relay publishes to (e.g. nats://nats:4222);
    /// unset, events are only read over gRPC.
    #[arg(long, env = "EVENTS_NATS_URL", hide_env_values = true)]
    pub events_nats_url: Option<String>,

    /// The JetStream stream the relay creates when missing and publishes to.
    #[arg(long, env = "EVENTS_NATS_STREAM", default_value = "ACCOMMADOR_CONTACTS")]
    pub events_nats_stream: String,

    /// How often the relay looks for events written through other replicas
    /// and retries what failed (this replica's writes wake it at once).
    #[arg(long, env = "EVENTS_RELAY_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub events_relay_interval: Duration,

    /// Most WatchContactEvents streams open at once (a quarter of it per tenant).
    #[arg(long, env = "EVENTS_MAX_WATCHERS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub events_max_watchers: u32,

    /// How often an idle event stream gets a heartbeat.
    #[arg(long, env = "EVENTS_HEARTBEAT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub events_heartbeat: Duration,

    /// How often an event stream looks for events written through other
    /// replicas (its own replica's writes wake it at once).
    #[arg(long, env = "EVENTS_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub events_poll_interval: Duration,
}

impl ServerConfig {
    pub fn watch(&self) -> crate::api::WatchSettings {
        crate::api::WatchSettings {
            max_watchers: self.events_max_watchers as usize,
            // Zero would spin: a stream waits at least this long between looks.
            heartbeat: self.events_heartbeat.max(Duration::from_millis(100)),
            poll_interval: self.events_poll_interval.max(Duration::from_millis(10)),
        }
    }

    /// The stable picture URLs' address and keys; `bound` is the address
    /// the server actually listens on (the configured port may be 0).
    pub fn stable_pictures(&self, bound: SocketAddr) -> anyhow::Result<crate::book::PictureUrlSettings> {
        use secrecy::ExposeSecret;
        let keys = match &self.picture_url_keys {
            Some(keys) => keys
                .expose_secret()
                .split(',')
                .filter(|entry| !entry.trim().is_empty())
                .map(crate::book::UrlKey::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?,
            None => Vec::new(),
        };
        let public_url = match &self.public_url {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => url.clone(),
            Some(url) => anyhow::bail!("PUBLIC_URL {url:?} must start with http:// or https://"),
            None => {
                let scheme = if self.serving.security.tls_cert.is_some() { "https" } else { "http" };
                format!("{scheme}://{bound}")
            }
        };
        Ok(crate::book::PictureUrlSettings {
            public_url,
            keys,
            signed_cache_entries: self.picture_url_cache_entries as usize,
            ttl: self.picture_url_ttl,
        })
    }

    pub fn web(&self) -> crate::web::WebSettings {
        crate::web::WebSettings {
            console_dir: self.web_console_dir.clone(),
            max_resolving: self.stable_url_max_in_progress as usize,
        }
    }

    pub fn outbox(&self) -> OutboxSettings {
        OutboxSettings {
            interval: self.claim_retry_interval,
            max_backoff: self.claim_retry_max.max(self.claim_retry_interval),
            // Three whole ClaimImage calls: a lease never runs out under a
            // delivery still in progress.
            lease: self.media_timeout.saturating_mul(3).max(Duration::from_secs(30)),
            batch: self.claim_batch,
            concurrency: usize::from(self.claim_concurrency),
        }
    }

    /// TLS settings for the connection to media-svc, when any is configured.
    pub fn media_tls(&self) -> anyhow::Result<Option<tonic::transport::ClientTlsConfig>> {
        if self.media_tls_ca.is_none() && self.media_tls_cert.is_none() {
            return Ok(None);
        }
        let read = |path: &PathBuf| std::fs::read(path).map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()));
        let mut tls = tonic::transport::ClientTlsConfig::new();
        if let Some(ca) = &self.media_tls_ca {
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(read(ca)?));
        }
        if let (Some(cert), Some(key)) = (&self.media_tls_cert, &self.media_tls_key) {
            tls = tls.identity(tonic::transport::Identity::from_pem(read(cert)?, read(key)?));
        }
        Ok(Some(tls))
    }

    /// The database URL: the configured one, or SQLite in the data folder.
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)?;
        let path = self.data_dir.join("contacts.sqlite");
        Ok(format!("sqlite://{}?mode=rwc", path.display()))
    }
}
