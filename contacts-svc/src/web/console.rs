//! The web console's files (WEB_CONSOLE_DIR, the output of `web/`'s build)
//! at `/`, and what every other path answers: gRPC's UNIMPLEMENTED to a
//! gRPC call of a method we do not have, as before there was a console,
//! and 404 to anything else.

use std::path::PathBuf;

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// The console's pages load scripts, styles and data only from this
/// origin; pictures come from object storage (another origin) through the
/// stable URLs' redirects, and ThumbHash previews are drawn as data URLs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob: http: https:; \
     style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

#[derive(Debug, Clone)]
pub(super) struct Console {
    files: Option<ServeDir>,
}

impl Console {
    pub(super) fn new(dir: Option<PathBuf>) -> Self {
        Self { files: dir.map(|dir| ServeDir::new(dir).append_index_html_on_directories(true)) }
    }

    pub(super) async fn serve(self, request: Request) -> Response {
        if is_grpc(&request) {
            let (parts, ()) = tonic::Status::unimplemented("").into_http::<()>().into_parts();
            return Response::from_parts(parts, Body::empty());
        }
        let readable = matches!(*request.method(), Method::GET | Method::HEAD) && is_plausible(request.uri().path());
        let Some(files) = self.files.filter(|_| readable) else {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        };
        let Ok(response) = files.oneshot(request).await;
        let mut response = response.map(Body::new);
        let headers = response.headers_mut();
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        // The files are not content-addressed: a browser asks again (a
        // conditional request) so a new build is seen at once.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Whether a path could name one of the console's files: not so long that
/// the file system refuses it (an error, not a miss), and not starting with
/// `//`, which a directory's redirect would turn into a link to another host.
fn is_plausible(path: &str) -> bool {
    path.len() <= 1024 && !path.starts_with("//") && path.split('/').all(|segment| segment.len() <= 255)
}

fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("application/grpc"))
}
