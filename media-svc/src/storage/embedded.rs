//! An S3-compatible server inside media-svc, over a local folder (s3s-fs),
//! for the local stack: no external server, and data survives restarts.
//! media-svc talks to it through the same aws-sdk-s3 code as to any S3, so
//! this path is tested by every local run.

use std::{net::SocketAddr, path::Path};

use anyhow::Context;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder as ConnectionBuilder,
};
use s3s::{auth::SimpleAuth, service::S3ServiceBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// A running embedded server and the credentials it accepts.
pub struct EmbeddedS3 {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub credentials: EmbeddedCredentials,
}

/// Generated once per data folder and kept there, so that signed URLs stay
/// valid across restarts. Only requests signed with them are served: the
/// bucket is private, anonymous requests are refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddedCredentials {
    pub access_key_id: String,
    #[serde(serialize_with = "expose")]
    pub secret_access_key: SecretString,
}

/// The one place the secret is written out: into its own 0600 file.
fn expose<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// Starts the server on `listen` (loopback), storing objects under
/// `data_dir/objects`. The server runs until the process exits.
pub async fn start(data_dir: &Path, listen: SocketAddr) -> anyhow::Result<EmbeddedS3> {
    let objects_dir = data_dir.join("objects");
    std::fs::create_dir_all(&objects_dir).with_context(|| format!("create {}", objects_dir.display()))?;
    let credentials = load_or_create_credentials(&data_dir.join("embedded-s3-credentials.json"))?;

    let filesystem = s3s_fs::FileSystem::new(&objects_dir)
        .map_err(|error| anyhow::anyhow!("open the embedded S3 folder {}: {error:?}", objects_dir.display()))?;
    let mut builder = S3ServiceBuilder::new(filesystem);
    let secret = credentials.secret_access_key.expose_secret().to_owned();
    builder.set_auth(SimpleAuth::from_single(credentials.access_key_id.clone(), secret));
    let service = builder.build();

    let listener = TcpListener::bind(listen).await.with_context(|| format!("bind embedded S3 on {listen}"))?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::warn!(%error, "embedded S3 accept failed");
                    continue;
                }
            };
            // Small responses must not wait for the client's delayed ACK.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "embedded S3 could not disable Nagle's algorithm");
            }
            let service = service.clone();
            tokio::spawn(async move {
                let connection = ConnectionBuilder::new(TokioExecutor::new());
                if let Err(error) = connection.serve_connection(TokioIo::new(stream), service).await {
                    tracing::debug!(%error, "embedded S3 connection ended with an error");
                }
            });
        }
    });
    tracing::info!(%address, folder = %objects_dir.display(), "embedded S3 server listening");
    Ok(EmbeddedS3 { endpoint: format!("http://{address}"), credentials })
}

fn load_or_create_credentials(path: &Path) -> anyhow::Result<EmbeddedCredentials> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return serde_json::from_str(&text).with_context(|| format!("read {}", path.display()));
    }
    let credentials = EmbeddedCredentials {
        access_key_id: format!("local-{}", uuid::Uuid::new_v4().simple()),
        secret_access_key: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()).into(),
    };
    write_private(path, serde_json::to_string(&credentials)?.as_bytes())
        .with_context(|| format!("write {}", path.display()))?;
    Ok(credentials)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}
