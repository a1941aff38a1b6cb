//! TLS: the process-wide rustls provider and the servers' certificates.

use std::path::PathBuf;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::config::SecurityConfig;

/// Picks rustls' cryptography (aws-lc-rs) for the whole process. Both
/// aws-lc-rs and ring end up linked through dependencies, and rustls then
/// refuses to guess; call this once at startup, before any TLS is set up.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is just as good.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl SecurityConfig {
    /// The server's TLS configuration, when a certificate is configured.
    pub fn server_tls(&self) -> anyhow::Result<Option<ServerTlsConfig>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else { return Ok(None) };
        let read = |path: &PathBuf| std::fs::read(path).map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()));
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
        if let Some(ca) = &self.tls_client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
        }
        Ok(Some(tls))
    }
}
