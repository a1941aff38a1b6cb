//! Configuration: every setting is a flag with an environment fallback, so
//! `media-svc --help` documents the whole surface.

use std::net::SocketAddr;

use accommador_proto::serve::LogFormat;
use clap::{Args, Parser};

#[derive(Debug, Parser)]
#[command(name = "media-svc", version, about = "Validates, normalizes and stores contact profile pictures")]
pub struct Cli {
    #[command(flatten)]
    pub server: ServerConfig,
}

#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Address the gRPC server listens on. Port 0 picks a free port.
    #[arg(long, env = "MEDIA_LISTEN", default_value = "127.0.0.1:50052")]
    pub listen: SocketAddr,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Largest accepted image file in bytes (2.5 MiB by default).
    #[arg(long, env = "MEDIA_MAX_IMAGE_BYTES", default_value_t = 2_621_440)]
    pub max_image_bytes: usize,
}
