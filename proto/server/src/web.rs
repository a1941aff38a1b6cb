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
    /// MAX_HEADER_LIST_BYTES, which HTTP/2 enforces itself and HTTP/1.1
    /// (up to hyper's far larger buffer) does not.
    pub(crate) max_header_bytes: usize,
}

impl<S> Layer<S> for GrpcWebSwitchLayer {
    type Service = GrpcWebSwitch<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcWebSwitch { inner, enabled: self.enabled, max_header_bytes: self.max_header_bytes }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GrpcWebSwitch<S> {
    inner: S,
    enabled: bool,
    max_header_bytes: usize,
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
        if let Some(refusal) = refusal(&request, self.enabled, self.max_header_bytes) {
            return Box::pin(std::future::ready(Ok(refusal)));
        }
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

/// What a request that is neither a call nor a page read gets. tonic's
/// handlers read any body sent to a method's path, whatever the HTTP
/// method and content type; so a call is POST with a gRPC content type
/// (gRPC itself over HTTP/2 only), and anything else may only read
/// (GET, HEAD) or ask for CORS (OPTIONS). No form a browser can send
/// without a preflight thus reaches a handler.
fn refusal<B>(request: &http::Request<B>, web: bool, max_header_bytes: usize) -> Option<http::Response<Body>> {
    // Counted as HTTP/2 counts a header list: names, values and 32 bytes each.
    let header_bytes: usize =
        request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 32).sum();
    if header_bytes > max_header_bytes {
        let mut response = http::Response::new(Body::new(format!(
            "the request's headers are {header_bytes} bytes; the limit is {max_header_bytes} (MAX_HEADER_LIST_BYTES)\n"
        )));
        *response.status_mut() = http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        return Some(response);
    }
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let grpc = content_type.is_some_and(|content_type| content_type.starts_with("application/grpc"));
    let reading = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let (status, message) = if !grpc {
        if reading {
            return None;
        }
        (
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "calls are POST with content type application/grpc (or application/grpc-web)\n",
        )
    } else if request.method() != Method::POST {
        (http::StatusCode::METHOD_NOT_ALLOWED, "calls are POST\n")
    } else if request.version() != http::Version::HTTP_2 && !(web && is_grpc_web(request)) {
        (http::StatusCode::HTTP_VERSION_NOT_SUPPORTED, "gRPC needs HTTP/2 (browsers call with gRPC-Web)\n")
    } else {
        return None;
    };
    let mut response = http::Response::new(Body::new(message.to_owned()));
    *response.status_mut() = status;
    Some(response)
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
    fn only_calls_and_reads_pass() {
        let request = |method: Method, version, content_type: Option<&str>| {
            let mut builder = http::Request::builder().method(method).version(version).uri("/a.B/C");
            if let Some(content_type) = content_type {
                builder = builder.header(header::CONTENT_TYPE, content_type);
            }
            builder.body(()).unwrap()
        };
        let h1 = http::Version::HTTP_11;
        let h2 = http::Version::HTTP_2;
        for (method, version, content_type, web, passes) in [
            (Method::POST, h2, Some("application/grpc"), false, true),
            (Method::POST, h1, Some("application/grpc-web+proto"), true, true),
            (Method::POST, h2, Some("application/grpc-web-text"), true, true),
            (Method::GET, h1, None, true, true),
            (Method::OPTIONS, h1, None, true, true),
            (Method::POST, h1, Some("application/grpc"), true, false),
            (Method::POST, h1, Some("application/grpc-web"), false, false),
            (Method::GET, h2, Some("application/grpc"), true, false),
            (Method::POST, h1, Some("text/plain"), true, false),
            (Method::POST, h2, None, false, false),
            (Method::DELETE, h1, None, true, false),
        ] {
            let refused = refusal(&request(method.clone(), version, content_type), web, 16_384).map(|r| r.status());
            assert_eq!(refused.is_none(), passes, "{method} {version:?} {content_type:?} web={web}: {refused:?}");
        }
        let mut large = request(Method::GET, h1, None);
        large.headers_mut().insert("x-big", http::HeaderValue::from_str(&"x".repeat(17_000)).unwrap());
        let refused = refusal(&large, true, 16_384).map(|r| r.status());
        assert_eq!(refused, Some(http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
    }

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
