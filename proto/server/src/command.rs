//! The subcommands both binaries have, defined once: flattened into each
//! service's own subcommand enum.

use std::net::SocketAddr;

use crate::healthcheck::{HealthcheckArgs, run_healthcheck};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServerCommand {
    /// Reads a token from stdin and prints the SHA-256 to put in CREDENTIALS.
    HashToken,
    /// Asks the running server for its readiness (or liveness), at the health
    /// listen address when set, else the listen address; exit status 0 when
    /// SERVING. For container health checks.
    Healthcheck(HealthcheckArgs),
}

impl ServerCommand {
    /// Runs the command; `listen` and `health_listen` are the server's
    /// configured addresses, where `healthcheck` finds it. `healthcheck`
    /// exits the process with its verdict.
    pub async fn run(&self, listen: SocketAddr, health_listen: Option<SocketAddr>) -> anyhow::Result<()> {
        match self {
            Self::HashToken => Ok(crate::credentials::run_hash_token()?),
            Self::Healthcheck(args) => run_healthcheck(listen, health_listen, args).await,
        }
    }
}
