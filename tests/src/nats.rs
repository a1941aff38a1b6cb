//! A real NATS server with JetStream for one test: Debian's `nats-server`
//! (`TEST_NATS_SERVER`, set by `tests/run.sh`; required when `CI` is set),
//! on a free loopback port, its store in a temporary folder, killed with
//! the value.

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::Context;

use crate::free_port;

pub struct NatsServer {
    child: tokio::process::Child,
    pub url: String,
    _store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts one, or `None` when no nats-server is configured outside CI.
    pub async fn start() -> Option<Self> {
        let binary = match std::env::var("TEST_NATS_SERVER") {
            Ok(path) => PathBuf::from(path),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("TEST_NATS_SERVER is not set: CI must run the NATS leg (tests/run.sh sets it)")
            }
            Err(_) => {
                eprintln!("TEST_NATS_SERVER not set: skipping the NATS leg (tests/run.sh sets it)");
                return None;
            }
        };
        Some(Self::launch(&binary).await.expect("start nats-server"))
    }

    async fn launch(binary: &std::path::Path) -> anyhow::Result<Self> {
        let store = tempfile::tempdir()?;
        let port = free_port();
        let child = tokio::process::Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("run {}", binary.display()))?;
        let url = format!("nats://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(Self { child, url, _store: store });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("nats-server did not listen on {port}")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
