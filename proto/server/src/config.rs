//! The serving options both services have, under the same flags, the same
//! environment variables and the same defaults: flattened into each
//! service's configuration. What differs per service (its listen address and
//! metrics port, with their own defaults and variables) stays there.

use std::{net::SocketAddr, path::PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::{credentials::Credentials, limits::ServerLimits, telemetry::LogFormat};

/// Health listener, transport limits, logs and traces, authentication and TLS.
#[derive(Debug, Clone, clap::Args)]
pub struct ServingConfig {
    /// Address of a plaintext listener serving only gRPC health (readiness,
    /// and liveness as service `liveness`), for probes that cannot speak TLS.
    /// Unset: health is served on the main listener only.
    #[arg(long, env = "HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,

    /// HTTP/2 and request limits.
    #[command(flatten)]
    pub transport: ServerLimits,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// OTLP/gRPC collector the server exports its traces to, plaintext, e.g.
    /// `http://otel-collector:4317`; the trace context is passed on to the
    /// services it calls. Unset or empty: nothing is exported. The SDK's
    /// `OTEL_BSP_*` variables size the export queue (2,048 spans by default).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Who may call and TLS.
    #[command(flatten)]
    pub security: SecurityConfig,
}

/// Authentication and TLS settings.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecurityConfig {
    /// File of credentials (see the README): `tenant NAME TENANT SHA256` and
    /// `service NAME SHA256` lines, with token hashes from `hash-token`.
    #[arg(long, env = "CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,

    /// Credentials inline, entries separated by `;` (added to the file's).
    #[arg(long, env = "CREDENTIALS", hide_env_values = true)]
    pub credentials: Option<SecretString>,

    /// PEM certificate chain: serve TLS with it (needs --tls-key).
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate: require client certificates signed by it (mutual TLS).
    #[arg(long, env = "TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl SecurityConfig {
    /// The credentials of the file and the inline list together.
    pub fn load_credentials(&self) -> anyhow::Result<Credentials> {
        let mut text = String::new();
        if let Some(path) = &self.credentials_file {
            text.push_str(&std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?);
            text.push('\n');
        }
        if let Some(inline) = &self.credentials {
            text.push_str(inline.expose_secret());
        }
        Credentials::parse(&text).map_err(anyhow::Error::msg)
    }
}
