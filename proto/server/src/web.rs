//! Browsers on the main port: gRPC-Web translated to gRPC before anything
//! else sees the call, so the span, metrics, guard and authentication treat
//! a browser's call exactly as a gRPC client's, and their refusals reach the
//! browser as gRPC-Web; CORS for the configured origins; and HTTP/1.1, which
//! browsers use for gRPC-Web over plain HTTP. Other HTTP/1.1 requests (a
//! service's own routes, such as a console's files) pass through untouched,
//! which tonic-web's layer alone would refuse.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::FutureExt;
use http::{HeaderName, HeaderValue, Method, header};
use tonic::body::Body;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Which browser origins may call from other sites (the service's own pages
/// are same-origin and need none).
#[derive(Debug, Clone, Default)]
pub struct WebAccess {
    pub allowed_origins: Vec<HeaderValue>,
}

impl WebAccess {
    /// Reads WEB_ALLOWED_ORIGINS entries: `scheme://host[:port]`, exactly as
    /// browsers send them in `Origin`.
    pub fn parse(origins: &[String]) -> Result<Self, String> {
        let mut allowed_origins = Vec::with_capacity(origins.len());
        for origin in origins.iter().map(|origin| origin.trim()).filter(|origin| !origin.is_empty()) {
            let well_formed = origin.split_once("://").is_some_and(|(scheme, host)| {
                matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
            });
            if !well_formed {
                return Err(format!(
                    "WEB_ALLOWED_ORIGINS entry {origin:?} is not an origin such as https://app.example.com (scheme and host, optional port, no path; `*` is not accepted)"
                ));
            }
            allowed_origins
                .push(HeaderValue::from_str(origin).map_err(|_| format!("{origin:?} is not a header value"))?);
        }
        Ok(Self { allowed_origins })
    }

    /// CORS for the allowed origins, or none when no origin is allowed.
    pub(crate) fn cors(&self) -> Option<CorsLayer> {
        if self.allowed_origins.is_empty() {
            return None;
        }
        let headers =
            |names: &[&'static str]| names.iter().map(|name| HeaderName::from_static(name)).collect::<Vec<_>>();
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.allowed_origins.clone()))
                .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
                .allow_headers(
                    [header::CONTENT_TYPE, header::AUTHORIZATION]
                        .into_iter()
                        .chain(headers(&["x-grpc-web", "x-user-agent", "x-tenant-id", "x-request-id", "grpc-timeout"]))
                        .collect::<Vec<_>>(),
                )
                .expose_headers(headers(&["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"]))
                // Preflights are cached for two hours (Chromium's own cap).
                .max_age(Duration::from_secs(2 * 60 * 60)),
        )
    }
}

/// Sends gRPC-Web calls through tonic-web's translation and everything
/// else straight to the inner service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrpcWebSwitchLayer {
    pub(crate) enabled: bool,
}

impl<S> Layer<S> for GrpcWebSwitchLayer {
    type Service = GrpcWebSwitch<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcWebSwitch { inner, enabled: self.enabled }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GrpcWebSwitch<S> {
    inner: S,
    enabled: bool,
}

type BoxFuture<T, E> = Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S, ResBody> Service<http::Request<Body>> for GrpcWebSwitch<S>
where
    S: Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>> + std::fmt::Display,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The ready service serves this call; a clone stays for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        if self.enabled && is_grpc_web(&request) {
            let mut translated = tonic_web::GrpcWebLayer::new().layer(inner);
            Box::pin(translated.call(request))
        } else {
            let mut inner = inner;
            Box::pin(inner.call(request).map(|outcome| outcome.map(|response| response.map(Body::new))))
        }
    }
}

/// gRPC-Web's four content types all start so.
fn is_grpc_web<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("application/grpc-web"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_only() {
        let access = WebAccess::parse(&["https://app.example.com".into(), " http://127.0.0.1:5173 ".into()]).unwrap();
        assert_eq!(access.allowed_origins.len(), 2);
        assert!(WebAccess::parse(&[]).unwrap().cors().is_none(), "no origin, no CORS");
        for bad in ["*", "app.example.com", "https://app.example.com/", "ftp://x", "https://"] {
            let error = WebAccess::parse(&[bad.into()]).unwrap_err();
            assert!(error.contains("not an origin"), "{bad}: {error}");
        }
    }
}
