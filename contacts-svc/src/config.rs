//! Configuration: every setting is a flag with an environment fallback, so
//! `contacts-svc --help` documents the whole surface.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use accommador_proto::serve::LogFormat;
use clap::{Args, Parser};

#[derive(Debug, Parser)]
#[command(name = "contacts-svc", version, about = "Write-once CRM contacts with profile pictures")]
pub struct Cli {
    #[command(flatten)]
    pub server: ServerConfig,
}

#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Address the gRPC server listens on. Port 0 picks a free port.
    #[arg(long, env = "CONTACTS_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Largest gRPC message accepted, in bytes. It bounds CreateContact's
    /// picture: keep it above media-svc's image limit (2.5 MiB) so that a
    /// slightly-too-large picture gets media-svc's precise IMAGE_TOO_LARGE,
    /// while a far larger request is refused before it is buffered.
    #[arg(long, env = "CONTACTS_MAX_MESSAGE_BYTES", default_value_t = 2_752_512)]
    pub max_message_bytes: usize,

    /// Folder for local data; holds the SQLite database when --database-url is unset.
    #[arg(long, env = "DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,

    /// Database: `postgres://user:password@host/db` in production; unset
    /// means SQLite in --data-dir. Migrations run at startup.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// media-svc's gRPC endpoint.
    #[arg(long, env = "MEDIA_ENDPOINT", default_value = "http://127.0.0.1:50052")]
    pub media_endpoint: String,

    /// Deadline of each call to media-svc.
    #[arg(long, env = "MEDIA_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub media_timeout: Duration,

    /// How long signed picture URLs stay valid (at least half of it after each read).
    #[arg(long, env = "PICTURE_URL_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub picture_url_ttl: Duration,

    /// Region for phone numbers written without a country code (ISO 3166 alpha-2).
    #[arg(long, env = "DEFAULT_PHONE_REGION", default_value = "US")]
    pub default_phone_region: String,

    /// How often queued picture claims are delivered to media-svc (and failed ones retried).
    #[arg(long, env = "CLAIM_RETRY_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub claim_retry_interval: Duration,
}

impl ServerConfig {
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
