//! Health (`grpc.health.v1`) and reflection, served beside each service,
//! and readiness that follows a dependency.

use std::{future::Future, time::Duration};

use tonic::service::Routes;
use tonic_health::{ServingStatus, server::HealthReporter};

/// The health service name that answers liveness ("the process serves"),
/// SERVING for as long as the server runs. The empty name and the service's
/// own name answer readiness, which each service ties to its dependencies
/// (the database, object storage).
pub const LIVENESS_SERVICE: &str = "liveness";

/// Health (`grpc.health.v1`) and reflection (v1 and v1alpha, since grpcurl
/// 1.8 speaks v1alpha) of one service.
pub struct Introspection {
    pub(crate) reporter: HealthReporter,
    pub(crate) routes: Routes,
}

impl Introspection {
    /// Health for `service_name` and liveness, and reflection over
    /// `descriptor_set` (that service's contract alone) and health. Errors
    /// only on a corrupt descriptor set, a build-time bug.
    pub async fn new(service_name: &str, descriptor_set: &[u8]) -> Self {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter.set_service_status(service_name, ServingStatus::Serving).await;
        reporter.set_service_status(LIVENESS_SERVICE, ServingStatus::Serving).await;
        let builder = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(descriptor_set)
                .register_encoded_file_descriptor_set(accommador_proto::ERROR_DETAILS_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .with_service_name(service_name)
                .with_service_name("grpc.health.v1.Health")
        };
        let reflection_v1 = builder().build_v1().expect("descriptor sets are generated at build time");
        let reflection_v1alpha = builder().build_v1alpha().expect("descriptor sets are generated at build time");
        let routes = Routes::new(health).add_service(reflection_v1).add_service(reflection_v1alpha);
        Self { reporter, routes }
    }

    /// Sets readiness: the overall status (empty name) and the service's.
    pub fn reporter(&self) -> HealthReporter {
        self.reporter.clone()
    }
}

/// Keeps readiness in step with a dependency: every `interval`, `check`
/// runs; readiness (the empty name and `service_name`) is NOT_SERVING while
/// it fails and SERVING again as soon as it passes. The first failure of an
/// outage is logged. Liveness never follows it. Returns when `stop` resolves.
pub async fn follow_readiness<F, E>(
    health: HealthReporter,
    service_name: &str,
    dependency: &str,
    interval: Duration,
    check: impl Fn() -> F,
    stop: impl Future<Output = ()>,
) where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::pin!(stop);
    let mut last = None;
    loop {
        let status = match check().await {
            Ok(()) => ServingStatus::Serving,
            Err(error) => {
                if last != Some(ServingStatus::NotServing) {
                    tracing::error!(%error, dependency, "dependency unreachable; readiness is NOT_SERVING");
                }
                ServingStatus::NotServing
            }
        };
        if last != Some(status) {
            health.set_service_status("", status).await;
            health.set_service_status(service_name, status).await;
            last = Some(status);
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
