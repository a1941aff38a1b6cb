//! Harness for the end-to-end tests in `tests/tests/e2e/`: it starts the real
//! `contacts-svc` and `media-svc` binaries on free loopback ports, waits until
//! their gRPC health check answers SERVING, and stops them with SIGTERM.
//!
//! Set `TEST_LOG=1` to see the servers' logs on stderr; otherwise each
//! server's log goes to a file whose tail is shown when a start fails.

pub mod proxy;

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use accommador_proto::tenant::TENANT_ID_HEADER;
use anyhow::{Context, bail};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// How long a server may take to answer its first health check. Generous:
/// CI machines are slow and the first start may create a database.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a server may take to exit after SIGTERM before it is killed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Path of a workspace binary, next to the directory of the running test
/// executable (`target/<profile>/deps/..`); `<NAME>_BIN` overrides it, e.g.
/// `MEDIA_SVC_BIN`.
pub fn binary_path(name: &str) -> PathBuf {
    let override_var = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Ok(path) = std::env::var(&override_var) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("test executables live in target/<profile>/deps");
    profile_dir.join(name)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("bind a free port").port()
}

/// A running server process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct ServerProcess {
    name: String,
    child: Option<Child>,
    addr: SocketAddr,
    log_path: PathBuf,
    /// How to reach a server that serves TLS.
    tls: Option<ClientTlsConfig>,
    /// Where it serves Prometheus metrics.
    metrics_addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `binary` with `args` and `envs`, listening on a free port passed
    /// through `listen_env`, and waits until it reports SERVING. `log_dir`
    /// receives the server's log.
    pub async fn start(
        binary: &str,
        listen_env: &str,
        envs: &[(&str, String)],
        log_dir: &Path,
    ) -> anyhow::Result<Self> {
        Self::start_on_free_ports(binary, listen_env, envs, log_dir, None).await
    }

    /// A port found free can be taken by someone else (another test, or an
    /// outgoing connection's ephemeral port) before the server binds it, so a
    /// server that dies during startup is retried on fresh ports.
    async fn start_on_free_ports(
        binary: &str,
        listen_env: &str,
        envs: &[(&str, String)],
        log_dir: &Path,
        tls: Option<ClientTlsConfig>,
    ) -> anyhow::Result<Self> {
        const ATTEMPTS: usize = 3;
        let mut failure = None;
        for _ in 0..ATTEMPTS {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
            match Self::launch(binary, listen_env, addr, envs, log_dir, tls.clone()).await {
                Ok(server) => return Ok(server),
                Err(error) => failure = Some(error),
            }
        }
        Err(failure.expect("at least one attempt").context(format!("{binary} failed to start {ATTEMPTS} times")))
    }

    /// Like [`ServerProcess::start`], on a given address (to restart a server where clients expect it).
    pub async fn start_at(
        binary: &str,
        listen_env: &str,
        addr: SocketAddr,
        envs: &[(&str, String)],
        log_dir: &Path,
    ) -> anyhow::Result<Self> {
        Self::launch(binary, listen_env, addr, envs, log_dir, None).await
    }

    /// Like [`ServerProcess::start`], for a server that serves TLS, reached with `tls`.
    pub async fn start_tls(
        binary: &str,
        listen_env: &str,
        envs: &[(&str, String)],
        log_dir: &Path,
        tls: ClientTlsConfig,
    ) -> anyhow::Result<Self> {
        Self::start_on_free_ports(binary, listen_env, envs, log_dir, Some(tls)).await
    }

    async fn launch(
        binary: &str,
        listen_env: &str,
        addr: SocketAddr,
        envs: &[(&str, String)],
        log_dir: &Path,
        tls: Option<ClientTlsConfig>,
    ) -> anyhow::Result<Self> {
        let log_path = log_dir.join(format!("{binary}-{}.log", addr.port()));
        let stderr = if std::env::var_os("TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::from(std::fs::File::create(&log_path)?)
        };
        let path = binary_path(binary);
        let metrics_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let child = Command::new(&path)
            .env(listen_env, addr.to_string())
            .env("METRICS_LISTEN", metrics_addr.to_string())
            .envs(envs.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {} (build it with `cargo build --workspace`)", path.display()))?;
        let mut server = Self { name: binary.to_owned(), child: Some(child), addr, log_path, tls, metrics_addr };
        server.wait_until_serving().await?;
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's Prometheus metrics, as text.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(reqwest::get(format!("http://{}/metrics", self.metrics_addr)).await?.text().await?)
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// A lazily connecting channel to the server (over TLS when it serves TLS).
    pub fn channel(&self) -> Channel {
        let endpoint = Endpoint::from_shared(self.endpoint()).expect("valid endpoint");
        match &self.tls {
            Some(tls) => endpoint.tls_config(tls.clone()).expect("valid TLS config").connect_lazy(),
            None => endpoint.connect_lazy(),
        }
    }

    /// The server's log so far (empty when `TEST_LOG` sent it to stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    async fn wait_until_serving(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten()) {
                self.child = None;
                bail!("{} on {} exited during startup with {status}; log:\n{}", self.name, self.addr, self.log_tail());
            }
            if health_status(self.channel(), "").await == Some(ServingStatus::Serving) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} not serving after {STARTUP_TIMEOUT:?}; log:\n{}", self.name, self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let start = log.len().saturating_sub(4000);
        log[log.floor_char_boundary(start)..].to_owned()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        signal(&child, nix::sys::signal::Signal::SIGTERM)?;
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                child.kill()?;
                bail!("{} did not exit within {SHUTDOWN_TIMEOUT:?} of SIGTERM", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's peak resident memory so far (VmHWM), in bytes.
    pub fn peak_memory_bytes(&self) -> anyhow::Result<u64> {
        self.memory_status("VmHWM:")
    }

    /// The server's resident memory now (VmRSS), in bytes.
    pub fn memory_bytes(&self) -> anyhow::Result<u64> {
        self.memory_status("VmRSS:")
    }

    fn memory_status(&self, field: &str) -> anyhow::Result<u64> {
        let pid = self.child.as_ref().context("stopped")?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status.lines().find(|line| line.starts_with(field)).context("no such field")?;
        let kib: u64 = line.split_whitespace().nth(1).context("memory value")?.parse()?;
        Ok(kib * 1024)
    }

    /// Freezes the process (SIGSTOP): it keeps its sockets but answers nothing, like a hung server.
    pub fn pause(&self) -> anyhow::Result<()> {
        signal(self.child.as_ref().context("stopped")?, nix::sys::signal::Signal::SIGSTOP)
    }

    /// Lets a paused process run again (SIGCONT).
    pub fn resume(&self) -> anyhow::Result<()> {
        signal(self.child.as_ref().context("stopped")?, nix::sys::signal::Signal::SIGCONT)
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Child, signal: nix::sys::signal::Signal) -> anyhow::Result<()> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id())?);
    nix::sys::signal::kill(pid, signal)?;
    Ok(())
}

/// The health of `service` ("" is the whole server), or None when unreachable.
pub async fn health_status(channel: Channel, service: &str) -> Option<ServingStatus> {
    let mut client = HealthClient::new(channel);
    let request = HealthCheckRequest { service: service.to_owned() };
    let response = tokio::time::timeout(Duration::from_secs(2), client.check(request)).await.ok()?.ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

fn media_env<'a>(data_dir: &Path, extra: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
    let mut envs = vec![("DATA_DIR", data_dir.display().to_string()), ("EMBEDDED_S3_LISTEN", "127.0.0.1:0".to_owned())];
    envs.extend(extra.iter().cloned());
    envs
}

/// Starts media-svc with its embedded S3 server on a free port, keeping its
/// data under `data_dir`; `extra` adds or overrides environment variables.
pub async fn start_media(data_dir: &Path, extra: &[(&str, String)]) -> anyhow::Result<ServerProcess> {
    ServerProcess::start("media-svc", "MEDIA_LISTEN", &media_env(data_dir, extra), data_dir).await
}

/// Restarts media-svc where it was, on the same data.
pub async fn restart_media(
    addr: SocketAddr,
    data_dir: &Path,
    extra: &[(&str, String)],
) -> anyhow::Result<ServerProcess> {
    ServerProcess::start_at("media-svc", "MEDIA_LISTEN", addr, &media_env(data_dir, extra), data_dir).await
}

/// A database for one test: SQLite in the test's folder, or a fresh
/// PostgreSQL database on the server `TEST_POSTGRES_URL` names (set by
/// `tests/run.sh`; required when `CI` is set).
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: &'static str,
    /// `None`: contacts-svc's default, SQLite in its data folder.
    pub url: Option<String>,
}

/// Every database the contacts tests must pass on.
pub async fn databases() -> Vec<TestDatabase> {
    let mut databases = vec![TestDatabase { name: "sqlite", url: None }];
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(admin_url) => {
            use sea_orm::ConnectionTrait;
            let name = format!("test_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(&admin_url).await.expect("connect to the test PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
            let (base, _) = admin_url.rsplit_once('/').expect("URL ends with a database name");
            databases.push(TestDatabase { name: "postgres", url: Some(format!("{base}/{name}")) });
        }
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_POSTGRES_URL is not set: CI must run the PostgreSQL leg (tests/run.sh starts PostgreSQL)")
        }
        Err(_) => eprintln!("TEST_POSTGRES_URL not set: skipping the PostgreSQL leg (tests/run.sh sets it)"),
    }
    databases
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
    let mut envs = vec![("DATA_DIR", data_dir.display().to_string()), ("MEDIA_ENDPOINT", media.endpoint())];
    if let Some(url) = &database.url {
        envs.push(("DATABASE_URL", url.clone()));
    }
    envs.extend(extra.iter().cloned());
    ServerProcess::start("contacts-svc", "CONTACTS_LISTEN", &envs, data_dir).await
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
}

impl Stack {
    /// A client of contacts-svc that takes and sends messages as large as a
    /// picture request may be.
    pub fn contacts_client(
        &self,
    ) -> accommador_proto::accommador::contacts::v1::contacts_service_client::ContactsServiceClient<Channel> {
        accommador_proto::accommador::contacts::v1::contacts_service_client::ContactsServiceClient::new(
            self.contacts.channel(),
        )
        .max_decoding_message_size(8 << 20)
        .max_encoding_message_size(8 << 20)
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

/// Wraps `message` in a request that carries `tenant` in `x-tenant-id`.
pub fn tenant_request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(TENANT_ID_HEADER, tenant.parse().expect("test tenants are valid metadata"));
    request
}
