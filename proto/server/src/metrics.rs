//! Prometheus metrics: each service serves them on its own HTTP port, and
//! every RPC is counted and timed by method and status code.
//!
//! Every label value comes from a closed set: a method label is one of the
//! RPC paths our descriptors, health and reflection define, or `unknown`.
//! The exporter keeps every series it ever saw, so a label taken from the
//! request (a path, a tenant) would let any caller, authenticated or not,
//! grow the process's memory and `/metrics` without bound.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::LazyLock,
    task::{Context, Poll},
    time::Instant,
};

use futures::future::BoxFuture;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use prost::Message;

/// The label of every path that is not one of our RPCs.
pub const UNKNOWN_METHOD: &str = "unknown";

/// `/package.Service/Method` of every RPC either service, health or reflection answers.
static KNOWN_METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let descriptor_sets = [
        accommador_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut methods = HashSet::new();
    for encoded in descriptor_sets {
        let set = prost_types::FileDescriptorSet::decode(encoded).expect("descriptor sets are generated at build time");
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    methods.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    methods
});

/// The label of plain HTTP requests (a service's pages and redirects):
/// whatever their path, one label.
pub const HTTP_METHOD: &str = "http";

/// The metric and log label for a request: [`method_label`] for gRPC
/// calls, [`HTTP_METHOD`] for plain HTTP requests (no gRPC content type).
pub fn request_label<B>(request: &http::Request<B>) -> &'static str {
    let grpc = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("application/grpc"));
    if grpc { method_label(request.uri().path()) } else { HTTP_METHOD }
}

/// The metric and log label for an RPC path: the path itself when it is
/// one of our RPCs, [`UNKNOWN_METHOD`] otherwise.
pub fn method_label(path: &str) -> &'static str {
    KNOWN_METHODS.get(path).map_or(UNKNOWN_METHOD, String::as_str)
}

/// Starts the `/metrics` HTTP endpoint on `listen`. Call once, inside the runtime.
pub fn install(listen: SocketAddr) -> anyhow::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        // Seconds, from sub-millisecond reads to slow uploads.
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
        )?
        .install()?;
    tracing::info!(%listen, "metrics served at /metrics");
    Ok(())
}

/// Counts and times every RPC: `grpc_server_handled_total{method,code}` and
/// `grpc_server_handling_seconds{method}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request_label(&request);
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let started = Instant::now();
            let result = inner.call(request).await;
            // Unary errors travel as trailers-only responses: the code is in
            // the headers. A response without it is a success (code in trailers).
            let code = match &result {
                // Plain HTTP has no gRPC status: its class is what tells.
                Ok(response) if method == HTTP_METHOD => http_class_label(response.status()),
                Ok(response) => status_label(response.headers().get("grpc-status")),
                Err(_) => "transport_error",
            };
            metrics::counter!("grpc_server_handled_total", "method" => method, "code" => code).increment(1);
            metrics::histogram!("grpc_server_handling_seconds", "method" => method)
                .record(started.elapsed().as_secs_f64());
            result
        })
    }
}

/// The `code` label of a plain HTTP response: its status class.
fn http_class_label(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "http_2xx",
        300..=399 => "http_3xx",
        400..=499 => "http_4xx",
        _ => "http_5xx",
    }
}

/// The `code` label: a gRPC status code (0 to 16) as the server sent it;
/// anything else (a handler cannot send it, but the header is text) is `other`.
fn status_label(header: Option<&http::HeaderValue>) -> &'static str {
    const CODES: [&str; 17] =
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"];
    let Some(value) = header else { return "0" };
    CODES.iter().find(|code| value.as_bytes() == code.as_bytes()).copied().unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_methods_keep_their_name_and_everything_else_is_unknown() {
        let create = "/accommador.contacts.v1.ContactsService/CreateContact";
        assert_eq!(method_label(create), create);
        assert_eq!(
            method_label("/accommador.media.v1.MediaService/UploadImage"),
            "/accommador.media.v1.MediaService/UploadImage"
        );
        assert_eq!(method_label("/grpc.health.v1.Health/Check"), "/grpc.health.v1.Health/Check");
        assert_eq!(
            method_label("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        );
        assert_eq!(method_label("/accommador.contacts.v1.ContactsService/DropTables"), UNKNOWN_METHOD);
        assert_eq!(method_label(&"/x".repeat(2000)), UNKNOWN_METHOD);
        let page = http::Request::get("/pictures/acme/x").body(()).unwrap();
        assert_eq!(request_label(&page), HTTP_METHOD, "plain HTTP has one label whatever its path");
        let rpc = http::Request::post(create).header("content-type", "application/grpc").body(()).unwrap();
        assert_eq!(request_label(&rpc), create);
    }

    #[test]
    fn status_codes_are_a_closed_set() {
        assert_eq!(status_label(None), "0");
        assert_eq!(status_label(Some(&http::HeaderValue::from_static("14"))), "14");
        assert_eq!(status_label(Some(&http::HeaderValue::from_static("99999"))), "other");
        assert_eq!(http_class_label(http::StatusCode::FOUND), "http_3xx");
        assert_eq!(http_class_label(http::StatusCode::NOT_FOUND), "http_4xx");
    }
}
