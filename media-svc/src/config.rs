//! Configuration: every setting is a flag with an environment fallback, so
//! `media-svc --help` documents the whole surface.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use accommador_server::{command::ServerCommand, config::ServingConfig};
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::pipeline::Limits;

#[derive(Debug, Parser)]
#[command(name = "media-svc", version, about = "Validates, normalizes and stores contact profile pictures")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub server: ServerConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs validation and normalization offline on files: writes the
    /// renditions to --out and prints one JSON line per file (or its error).
    /// Exits non-zero when any file was refused.
    Process(ProcessArgs),
    /// `hash-token` and `healthcheck`, as every server of the pair has them.
    #[command(flatten)]
    Server(ServerCommand),
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Image files to process.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,

    /// Folder for the renditions, named `<file stem>-<size>.<jpg|png>`.
    #[arg(long)]
    pub out: PathBuf,

    #[command(flatten)]
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Address the gRPC server listens on. Port 0 picks a free port.
    #[arg(long, env = "MEDIA_LISTEN", default_value = "127.0.0.1:50052")]
    pub listen: SocketAddr,

    /// Health listener, transport limits, logs, and who may call (service
    /// credentials only) with TLS: as in contacts-svc.
    #[command(flatten)]
    pub serving: ServingConfig,

    /// Address of the Prometheus metrics endpoint (`/metrics`, plain HTTP).
    #[arg(long, env = "METRICS_LISTEN", default_value = "127.0.0.1:9465")]
    pub metrics_listen: SocketAddr,

    /// Folder for local data: the embedded S3 server's objects and credentials.
    #[arg(long, env = "DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub s3: S3Config,

    /// Images processed at once; default: the number of CPUs.
    #[arg(long, env = "MEDIA_WORKERS")]
    pub workers: Option<usize>,

    /// Bytes of uploads allowed to wait for a worker at once; beyond that,
    /// RESOURCE_EXHAUSTED. Waiting images are otherwise bounded by their
    /// deadlines: one that cannot be processed in time is refused at once.
    #[arg(long, env = "MEDIA_MAX_QUEUED_BYTES", default_value_t = 48 * 1024 * 1024)]
    pub max_queued_bytes: usize,

    /// How long an unclaimed upload is kept before the janitor deletes it.
    /// It protects contacts whose claim is still on its way: keep it long.
    /// Also how long a retried ReleaseImage of a deleted image still succeeds.
    #[arg(long, env = "MEDIA_PENDING_GRACE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub pending_grace: Duration,

    /// How often the janitor looks for expired pending uploads.
    #[arg(long, env = "MEDIA_JANITOR_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub janitor_interval: Duration,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct LimitsConfig {
    /// Largest accepted image file in bytes (2.5 MiB by default).
    #[arg(long, env = "MEDIA_MAX_IMAGE_BYTES", default_value_t = 2_621_440)]
    pub max_image_bytes: usize,

    /// Shortest accepted image side in pixels.
    #[arg(long, env = "MEDIA_MIN_IMAGE_SIDE", default_value_t = 32)]
    pub min_image_side: u32,

    /// Longest accepted image side in pixels.
    #[arg(long, env = "MEDIA_MAX_IMAGE_SIDE", default_value_t = 10_000)]
    pub max_image_side: u32,

    /// Largest accepted image area in pixels (40 megapixels by default).
    #[arg(long, env = "MEDIA_MAX_IMAGE_PIXELS", default_value_t = 40_000_000)]
    pub max_image_pixels: u64,
}

impl From<LimitsConfig> for Limits {
    fn from(config: LimitsConfig) -> Self {
        Limits {
            max_bytes: config.max_image_bytes,
            min_side: config.min_image_side,
            max_side: config.max_image_side,
            max_pixels: config.max_image_pixels,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct S3Config {
    /// S3 endpoint, e.g. `http://minio:9000`. Unset: media-svc runs its own
    /// embedded S3 server over --data-dir (for local use).
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Endpoint written into signed URLs, as browsers reach it, e.g.
    /// `http://localhost:9000`. Default: --s3-endpoint.
    #[arg(long, env = "S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<String>,

    /// S3 region (Garage's default is `garage`).
    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// Bucket holding the images; it must be private.
    #[arg(long, env = "S3_BUCKET", default_value = "accommador-media")]
    pub s3_bucket: String,

    /// Access key id for --s3-endpoint.
    #[arg(long, env = "S3_ACCESS_KEY_ID", default_value = "")]
    pub s3_access_key_id: String,

    /// Secret access key for --s3-endpoint.
    #[arg(long, env = "S3_SECRET_ACCESS_KEY", default_value = "", hide_env_values = true, hide_default_value = true)]
    pub s3_secret_access_key: SecretString,

    /// Path-style addressing (`host/bucket/key`), as MinIO and Garage need.
    #[arg(long, env = "S3_FORCE_PATH_STYLE", default_value_t = true, action = clap::ArgAction::Set)]
    pub s3_force_path_style: bool,

    /// Address of the embedded S3 server (used when --s3-endpoint is unset);
    /// signed URLs point here. Keep it on loopback.
    #[arg(long, env = "EMBEDDED_S3_LISTEN", default_value = "127.0.0.1:50053")]
    pub embedded_s3_listen: SocketAddr,
}
