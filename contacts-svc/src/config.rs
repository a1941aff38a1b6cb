//! Configuration: every setting is a flag with an environment fallback, so
//! `contacts-svc --help` documents the whole surface.

use std::net::SocketAddr;

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
}
