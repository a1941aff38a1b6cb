//! `GET /pictures/{tenant}/{image}/{size}/{key id}.{tag}`: a redirect to a
//! freshly signed object URL while the picture is stored, 404 after.
//!
//! Public, so hostile by default: a URL this service did not sign costs one
//! HMAC and answers 404 without touching media-svc; signed ones are
//! resolved at most STABLE_URL_MAX_IN_PROGRESS at once (503 beyond). A
//! redirect is kept for a few seconds, so a hot picture (a list many people
//! open at once) costs one resolution per few seconds, not one per request,
//! and takes no slot.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use accommador_proto::tenant::REQUEST_ID_HEADER;

use crate::book::{ContactBook, PictureRedirect, StablePicture};

/// The longest a browser may keep a redirect: long enough that a list shown
/// again costs no request, short enough that a removed picture disappears
/// from pages soon after the 404 begins.
const MAX_REDIRECT_AGE: Duration = Duration::from_secs(300);
/// A redirect is never kept so long that its signed URL expires before the
/// browser has fetched it.
const FETCH_MARGIN: Duration = Duration::from_secs(60);
/// How long a resolved redirect is reused: what it adds to the time a
/// removed picture is still redirected to (media-svc's own signing answers
/// within half a minute of a deletion; the contract is a minute).
const REDIRECT_REUSE: Duration = Duration::from_secs(5);
/// Redirects kept for reuse, about 1 KB each.
const REDIRECTS_KEPT: usize = 10_000;

pub(super) struct Resolver {
    book: Arc<ContactBook>,
    in_progress: Semaphore,
    recent: quick_cache::sync::Cache<(String, String, u32), (PictureRedirect, Instant)>,
}

impl Resolver {
    pub(super) fn new(book: Arc<ContactBook>, max_in_progress: usize) -> Self {
        Self {
            book,
            in_progress: Semaphore::new(max_in_progress.max(1)),
            recent: quick_cache::sync::Cache::new(REDIRECTS_KEPT),
        }
    }

    fn recent(&self, picture: &StablePicture) -> Option<PictureRedirect> {
        let key = (picture.tenant.to_string(), picture.image_id.clone(), picture.size);
        let (redirect, resolved) = self.recent.get(&key)?;
        // Reused only while the signed URL leaves a browser ample time to follow it.
        let left = redirect.expire_time.duration_since(SystemTime::now()).unwrap_or_default();
        (resolved.elapsed() < REDIRECT_REUSE && left >= FETCH_MARGIN).then_some(redirect)
    }

    fn remember(&self, picture: &StablePicture, redirect: &PictureRedirect) {
        let key = (picture.tenant.to_string(), picture.image_id.clone(), picture.size);
        self.recent.insert(key, (redirect.clone(), Instant::now()));
    }
}

pub(super) async fn resolve(
    State(resolver): State<Arc<Resolver>>,
    Path((tenant, image, size, signed)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(picture) = resolver.book.verify_stable_url(&tenant, &image, &size, &signed) else {
        return not_found();
    };
    if let Some(redirect) = resolver.recent(&picture) {
        return found(redirect);
    }
    let Ok(_permit) = resolver.in_progress.try_acquire() else {
        tracing::warn!("too many stable picture URLs resolving at once (STABLE_URL_MAX_IN_PROGRESS)");
        return unavailable("too many pictures are being resolved at once; retry shortly");
    };
    let request_id = headers.get(REQUEST_ID_HEADER).and_then(|id| id.to_str().ok()).unwrap_or_default().to_owned();
    match resolver.book.resolve_stable_url(&picture, request_id).await {
        Ok(Some(redirect)) => {
            resolver.remember(&picture, &redirect);
            found(redirect)
        }
        Ok(None) => not_found(),
        Err(error) => {
            tracing::warn!(%error, "cannot resolve a stable picture URL");
            unavailable("pictures cannot be resolved right now; retry shortly")
        }
    }
}

fn found(redirect: PictureRedirect) -> Response {
    let left = redirect.expire_time.duration_since(SystemTime::now()).unwrap_or_default();
    let age = left.saturating_sub(FETCH_MARGIN).min(MAX_REDIRECT_AGE).as_secs();
    let Ok(location) = HeaderValue::try_from(redirect.url) else { return not_found() };
    let cache = HeaderValue::try_from(format!("private, max-age={age}")).expect("ASCII");
    (StatusCode::FOUND, [(header::LOCATION, location), (header::CACHE_CONTROL, cache)], nosniff()).into_response()
}

/// One answer for everything that is not a stored picture, so a URL tells
/// nothing about which part was wrong.
fn not_found() -> Response {
    let headers = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    (StatusCode::NOT_FOUND, headers, nosniff(), "no such picture\n").into_response()
}

fn unavailable(message: &'static str) -> Response {
    let headers = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::RETRY_AFTER, HeaderValue::from_static("1")),
    ];
    (StatusCode::SERVICE_UNAVAILABLE, headers, nosniff(), message).into_response()
}

fn nosniff() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"))]
}
