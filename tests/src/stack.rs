//! Both services wired together, and the shorthands the tests start them with.

use std::{net::SocketAddr, path::Path};

use accommador_proto::accommador::contacts::v1::contacts_service_client::ContactsServiceClient;
use tonic::transport::Channel;

use crate::{Server, ServerProcess, TestDatabase, clients};

/// Starts media-svc with its embedded S3 server on a free port, keeping its
/// data under `data_dir`; `extra` adds or overrides environment variables.
pub async fn start_media(data_dir: &Path, extra: &[(&str, String)]) -> anyhow::Result<ServerProcess> {
    Server::media().dir(data_dir).envs(extra).start().await
}

/// Restarts media-svc where it was, on the same data, with its embedded S3
/// server on the same port too: like a production endpoint, it does not
/// move, so URLs signed before the restart still lead somewhere.
pub async fn restart_media(
    addr: SocketAddr,
    data_dir: &Path,
    extra: &[(&str, String)],
) -> anyhow::Result<ServerProcess> {
    let mut server = Server::media().dir(data_dir);
    if let Some(s3) = embedded_s3_address(data_dir, addr) {
        server = server.env("EMBEDDED_S3_LISTEN", s3);
    }
    server.envs(extra).at(addr).start().await
}

/// Where the media-svc that listened on `addr` ran its embedded S3 server,
/// from its log (absent with TEST_LOG, which sends logs to the terminal).
fn embedded_s3_address(data_dir: &Path, addr: SocketAddr) -> Option<String> {
    let log = std::fs::read_to_string(data_dir.join(format!("media-svc-{}.log", addr.port()))).ok()?;
    let line = log.lines().find(|line| line.contains("embedded S3 server listening"))?;
    let address = line.split("address=").nth(1)?.split_whitespace().next()?;
    Some(address.to_owned())
}

/// Starts contacts-svc with its data in `data_dir`, pointed at `media` and
/// at `database`; `extra` adds or overrides environment variables. Also used
/// to restart it on the same data.
pub async fn start_contacts(
    data_dir: &Path,
    media: &ServerProcess,
    database: &TestDatabase,
    extra: &[(&str, String)],
) -> anyhow::Result<ServerProcess> {
    let mut server = Server::contacts().dir(data_dir).env("MEDIA_ENDPOINT", media.endpoint());
    if let Some(url) = &database.url {
        server = server.env("DATABASE_URL", url.clone());
    }
    server.envs(extra).start().await
}

/// Names of the objects (or object "folders") the embedded S3 server keeps
/// under `{tenant}/{folder}/` for media-svc with data in `data_dir`, e.g. the
/// image ids under `images`, or the pending leases under `pending`.
pub fn embedded_objects(data_dir: &Path, tenant: &str, folder: &str) -> std::collections::HashSet<String> {
    let path = data_dir.join("media/objects/accommador-media").join(tenant).join(folder);
    std::fs::read_dir(path)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Both services, wired together, with their data in one temporary folder.
pub struct Stack {
    pub media: ServerProcess,
    pub contacts: ServerProcess,
    pub dir: tempfile::TempDir,
}

impl Stack {
    /// Starts media-svc, then contacts-svc pointed at it and at `database`.
    pub async fn start(
        database: &TestDatabase,
        media_extra: &[(&str, String)],
        contacts_extra: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let media = start_media(dir.path(), media_extra).await?;
        let mut extra = vec![("CLAIM_RETRY_INTERVAL", "500ms".to_owned())];
        extra.extend(contacts_extra.iter().cloned());
        let contacts = start_contacts(dir.path(), &media, database, &extra).await?;
        Ok(Self { media, contacts, dir })
    }

    /// A client of contacts-svc that takes and sends messages as large as a
    /// picture request may be.
    pub fn contacts_client(&self) -> ContactsServiceClient<Channel> {
        clients::contacts_client(&self.contacts)
    }

    /// The database contacts-svc uses, as a URL: `database`'s, or the SQLite
    /// file in the stack's folder.
    pub fn database_url(&self, database: &TestDatabase) -> String {
        database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rw", self.dir.path().join("contacts.sqlite").display()))
    }

    /// Stops media-svc (SIGTERM) and starts it again where it was, on the
    /// same data and with `extra` settings: its caches start empty.
    pub async fn restart_media(self, extra: &[(&str, String)]) -> anyhow::Result<Self> {
        let Self { media, contacts, dir } = self;
        let addr = media.addr();
        media.terminate().await?;
        let media = restart_media(addr, dir.path(), extra).await?;
        Ok(Self { media, contacts, dir })
    }
}
