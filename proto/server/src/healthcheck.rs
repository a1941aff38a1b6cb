//! The `healthcheck` subcommand: container health checks ask the running
//! server, over plaintext gRPC, whether it serves.

use std::time::Duration;

use crate::routes::LIVENESS_SERVICE;

/// Asks the server at `address` for the health of `service` (empty: overall
/// readiness; [`LIVENESS_SERVICE`]: liveness) over plaintext gRPC: what the
/// `healthcheck` subcommands (container health checks) run.
pub async fn probe_health(address: std::net::SocketAddr, service: &str) -> anyhow::Result<tonic_health::ServingStatus> {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus as Wire, health_client::HealthClient,
    };
    // A server listening on every interface is probed on loopback.
    let address = if address.ip().is_unspecified() {
        std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), address.port())
    } else {
        address
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(3))
        .connect()
        .await?;
    let response = HealthClient::new(channel).check(HealthCheckRequest { service: service.to_owned() }).await?;
    Ok(match Wire::try_from(response.into_inner().status) {
        Ok(Wire::Serving) => tonic_health::ServingStatus::Serving,
        Ok(Wire::NotServing) => tonic_health::ServingStatus::NotServing,
        _ => tonic_health::ServingStatus::Unknown,
    })
}

/// The `healthcheck` subcommand's options.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthcheckArgs {
    /// Ask for liveness (the process serves) instead of readiness (it and
    /// its dependencies answer).
    #[arg(long)]
    pub liveness: bool,
}

/// Runs the `healthcheck` subcommand against the health listener when there
/// is one, else the main listener (which must then be plaintext): prints the
/// status, and exits with 0 only when SERVING.
pub async fn run_healthcheck(
    listen: std::net::SocketAddr,
    health_listen: Option<std::net::SocketAddr>,
    args: &HealthcheckArgs,
) -> ! {
    let service = if args.liveness { LIVENESS_SERVICE } else { "" };
    let serving = match probe_health(health_listen.unwrap_or(listen), service).await {
        Ok(tonic_health::ServingStatus::Serving) => {
            println!("SERVING");
            true
        }
        Ok(status) => {
            println!("{status:?}");
            false
        }
        Err(error) => {
            println!("unreachable: {error}");
            false
        }
    };
    std::process::exit(if serving { 0 } else { 1 })
}
