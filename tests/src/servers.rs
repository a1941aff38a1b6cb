//! Starting the real binaries: [`Server`] says which one and with what
//! settings, [`ServerProcess`] is the running child, stopped when dropped.
//!
//! Every address a service would listen on is chosen here, never taken from
//! its defaults: the local stack (`deploy/local-stack.sh`) may be running
//! beside the tests on 50051, 50052, 50053, 9464 and 9465.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// How long a server may take to answer its first health check. Generous:
/// CI machines are slow and the first start may create a database.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a server may take to exit after SIGTERM before it is killed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings naming an address or a place, which a developer's shell may
/// have exported for the local stack: a child must not inherit them.
pub const INHERITED_SETTINGS_REMOVED: &[&str] = &[
    "CONTACTS_LISTEN",
    "MEDIA_LISTEN",
    "HEALTH_LISTEN",
    "METRICS_LISTEN",
    "EMBEDDED_S3_LISTEN",
    "MEDIA_ENDPOINT",
    "DATA_DIR",
    "DATABASE_URL",
    "S3_ENDPOINT",
    "S3_PUBLIC_ENDPOINT",
    "CREDENTIALS",
    "CREDENTIALS_FILE",
    // A developer exporting traces from their shell must not receive the tests' spans.
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

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

/// One of the two services, to start (or to run a subcommand of) with
/// settings of the test's choosing, e.g.
/// `Server::contacts().dir(dir).env("CREDENTIALS", credentials).start().await`.
///
/// Whatever the test does not set listens on port 0 or on a port found free
/// (the metrics port must be known to be read), and contacts-svc's media
/// endpoint is a free port unless set, where nothing answers.
#[derive(Debug, Clone)]
pub struct Server {
    binary: &'static str,
    /// The variable naming the gRPC address.
    listen_env: &'static str,
    /// Settings in the order given; a later one wins.
    envs: Vec<(String, String)>,
    /// DATA_DIR, and where the log goes.
    dir: Option<PathBuf>,
    /// How to reach a server that serves TLS.
    tls: Option<ClientTlsConfig>,
    /// A fixed gRPC address, to restart a server where its clients expect it.
    at: Option<SocketAddr>,
}

impl Server {
    pub fn contacts() -> Self {
        Self::new("contacts-svc", "CONTACTS_LISTEN")
    }

    pub fn media() -> Self {
        Self::new("media-svc", "MEDIA_LISTEN")
    }

    fn new(binary: &'static str, listen_env: &'static str) -> Self {
        Self { binary, listen_env, envs: Vec::new(), dir: None, tls: None, at: None }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.envs.push((key.to_owned(), value.into()));
        self
    }

    pub fn envs(mut self, envs: &[(&str, String)]) -> Self {
        self.envs.extend(envs.iter().map(|(key, value)| ((*key).to_owned(), value.clone())));
        self
    }

    /// The folder for the server's data (`DATA_DIR`) and its log.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    /// The server serves TLS; clients reach it with `tls`.
    pub fn tls(mut self, tls: ClientTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Listens on `addr` instead of a free port.
    pub fn at(mut self, addr: SocketAddr) -> Self {
        self.at = Some(addr);
        self
    }

    /// The binary with the test's settings and every listen address on port
    /// 0, for subcommands (`healthcheck`, `reconcile`, `process`) and for
    /// starts that must fail.
    pub fn command(&self) -> Command {
        self.command_listening("127.0.0.1:0".parse().expect("valid address"), "127.0.0.1:0".parse().expect("valid"))
    }

    fn command_listening(&self, addr: SocketAddr, metrics_addr: SocketAddr) -> Command {
        let mut command = Command::new(binary_path(self.binary));
        for key in INHERITED_SETTINGS_REMOVED {
            command.env_remove(key);
        }
        command.env(self.listen_env, addr.to_string()).env("METRICS_LISTEN", metrics_addr.to_string());
        match self.binary {
            "media-svc" => command.env("EMBEDDED_S3_LISTEN", "127.0.0.1:0"),
            _ => command.env("MEDIA_ENDPOINT", format!("http://127.0.0.1:{}", free_port())),
        };
        if let Some(dir) = &self.dir {
            command.env("DATA_DIR", dir);
        }
        command.envs(self.envs.iter().map(|(key, value)| (key, value)));
        command
    }

    /// Starts the server and waits until it reports SERVING.
    ///
    /// A port found free can be taken by someone else (another test, or an
    /// outgoing connection's ephemeral port) before the server binds it, so a
    /// server that dies during startup is retried on fresh ports (not when
    /// its address was given with [`Server::at`]).
    pub async fn start(self) -> anyhow::Result<ServerProcess> {
        const ATTEMPTS: usize = 3;
        if let Some(addr) = self.at {
            return self.launch(addr).await;
        }
        let mut failure = None;
        for _ in 0..ATTEMPTS {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
            match self.launch(addr).await {
                Ok(server) => return Ok(server),
                Err(error) => failure = Some(error),
            }
        }
        let binary = self.binary;
        Err(failure.expect("at least one attempt").context(format!("{binary} failed to start {ATTEMPTS} times")))
    }

    async fn launch(&self, addr: SocketAddr) -> anyhow::Result<ServerProcess> {
        let dir = self.dir.as_deref().context("Server::dir names the server's folder")?;
        let log_path = dir.join(format!("{}-{}.log", self.binary, addr.port()));
        let stderr = if std::env::var_os("TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::from(std::fs::File::create(&log_path)?)
        };
        let metrics_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let mut command = self.command_listening(addr, metrics_addr);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {} (build it with `cargo build --workspace`)", self.binary))?;
        let mut server = ServerProcess {
            name: self.binary.to_owned(),
            child: Some(child),
            addr,
            log_path,
            tls: self.tls.clone(),
            metrics_addr,
        };
        server.wait_until_serving().await?;
        Ok(server)
    }
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
