//! What every call passes through before its handler, in one tower layer:
//!
//! - **a request id**: the caller's `x-request-id`, or a fresh one written
//!   into the request (and the RPC's span), and available to error mapping
//!   through [`current_request_id`] so an internal error can name it;
//! - **a deadline**: the caller's `grpc-timeout`, capped by `REQUEST_TIMEOUT`,
//!   stored as [`Deadline`] for handlers to propagate, and enforced with
//!   DEADLINE_EXCEEDED (tonic's own timer would answer CANCELLED "Timeout
//!   expired", so ours fires a millisecond earlier);
//! - **an in-flight byte budget**: every request body frame is counted
//!   against one process-wide budget as it arrives, before a message is
//!   assembled, and held until the call is answered, so slow or numerous
//!   senders cannot hold more than the budget;
//! - **a body-read timeout**: a body that has not fully arrived in time ends
//!   the call, which frees its bytes;
//! - **a bound on health Watch streams per connection.**

use std::{
    collections::HashMap,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex, atomic::AtomicUsize},
    task::{Context, Poll},
    time::Duration,
};

use tokio::sync::Semaphore;
use tonic::{Code, Status, body::Body};

use accommador_proto::{
    status::{ErrorInfo, with_details},
    tenant::{MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER},
};

pub use self::deadline::Deadline;
use self::{
    budget::{GuardedBody, Reservation},
    framing::MessagePrefixes,
    watch::{WatchBody, WatchSlot, client_address},
};
use crate::limits::ServerLimits;

mod budget;
mod deadline;
mod framing;
mod watch;

/// The health method whose calls are streams that last as long as the watcher.
const HEALTH_WATCH_PATH: &str = "/grpc.health.v1.Health/Watch";
/// Health Watch streams the whole process holds at once.
pub const MAX_HEALTH_WATCHES: u32 = 1024;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The request id of the call being handled, when called from inside one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The message for a failure inside the server (storage, SDK, database):
/// stable text the caller can show, and the request id under which the
/// details were logged. The details themselves never reach the caller.
pub fn logged_failure_message(stable: &str) -> String {
    match current_request_id() {
        Some(id) => format!("{stable}; details are logged under request id {id}"),
        None => stable.to_owned(),
    }
}

/// The layer; build it with [`GuardLayer::new`] and add it innermost, right
/// around the routes (its requests and responses are tonic bodies).
#[derive(Debug, Clone)]
pub struct GuardLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    domain: &'static str,
    request_timeout: Duration,
    body_read_timeout: Duration,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    /// MAX_REQUEST_MESSAGE_BYTES.
    max_message_bytes: usize,
    /// What the service adds to a message-too-large refusal, so that the
    /// caller learns the limit it actually ran into (the picture limit).
    message_hint: Option<String>,
    watches_per_connection: u32,
    /// Open Watch streams per client address; an entry leaves when its count
    /// drops to zero, so the map holds at most [`MAX_HEALTH_WATCHES`] entries.
    watches: Mutex<HashMap<Option<SocketAddr>, u32>>,
    watches_total: AtomicUsize,
}

impl GuardLayer {
    /// `domain` is the `ErrorInfo.domain` of the refusals this layer makes;
    /// `message_hint` ends the message refusing a request message over
    /// MAX_REQUEST_MESSAGE_BYTES ("a profile picture may be at most 2.5 MiB").
    pub fn new(limits: &ServerLimits, domain: &'static str, message_hint: Option<String>) -> Self {
        let budget_bytes = limits.max_inflight_request_bytes.min(Semaphore::MAX_PERMITS);
        Self {
            shared: Arc::new(Shared {
                domain,
                request_timeout: limits.request_timeout,
                body_read_timeout: limits.body_read_timeout,
                budget: Arc::new(Semaphore::new(budget_bytes)),
                budget_bytes,
                max_message_bytes: limits.max_request_message_bytes,
                message_hint,
                watches_per_connection: limits.health_watches_per_connection,
                watches: Mutex::new(HashMap::new()),
                watches_total: AtomicUsize::new(0),
            }),
        }
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard { inner, shared: self.shared.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    shared: Arc<Shared>,
}

type GuardFuture<E> = Pin<Box<dyn Future<Output = Result<http::Response<Body>, E>> + Send>>;

impl<S> tower::Service<http::Request<Body>> for Guard<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = GuardFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        let request_id = ensure_request_id(&mut request);
        let is_watch = request.uri().path() == HEALTH_WATCH_PATH;
        let watch_slot = if is_watch {
            match WatchSlot::take(&shared, client_address(&request)) {
                Ok(slot) => Some(slot),
                Err(status) => return Box::pin(std::future::ready(Ok(status.into_http()))),
            }
        } else {
            None
        };
        let deadline = (!is_watch).then(|| shared.deadline(&request));
        if let Some((deadline, _)) = deadline {
            request.extensions_mut().insert(deadline);
        }

        let reservation = Arc::new(Reservation { shared: shared.clone(), held: AtomicUsize::new(0) });
        let (parts, body) = request.into_parts();
        let body = Body::new(GuardedBody {
            inner: body,
            reservation: reservation.clone(),
            prefixes: MessagePrefixes::default(),
            read_deadline: Box::pin(tokio::time::sleep(shared.body_read_timeout)),
            finished: false,
        });
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let call = inner.call(http::Request::from_parts(parts, body));
        Box::pin(REQUEST_ID.scope(request_id, async move {
            let outcome = match deadline {
                Some((Deadline(at), source)) => match tokio::time::timeout_at(at.into(), call).await {
                    Ok(outcome) => outcome,
                    Err(_) => Ok(shared.deadline_exceeded(source).into_http()),
                },
                None => call.await,
            };
            // The message is answered: its bytes are no longer held.
            drop(reservation);
            outcome.map(|response| match watch_slot {
                Some(slot) => response.map(|body| Body::new(WatchBody { inner: body, _slot: slot })),
                None => response,
            })
        }))
    }
}

/// The caller's request id, or a new one written into the request and the
/// RPC's span.
fn ensure_request_id(request: &mut http::Request<Body>) -> String {
    let given = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN);
    if let Some(id) = given {
        return id.to_owned();
    }
    let id = uuid::Uuid::now_v7().to_string();
    if let Ok(value) = http::HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    tracing::Span::current().record("request_id", id.as_str());
    id
}

impl Shared {
    fn refusal<const N: usize>(
        &self,
        code: Code,
        message: String,
        reason: &str,
        metadata: [(&str, String); N],
    ) -> Status {
        let mut metadata: HashMap<String, String> = metadata.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if let Some(id) = current_request_id() {
            metadata.insert("request_id".into(), id);
        }
        let info = ErrorInfo { reason: reason.into(), domain: self.domain.into(), metadata };
        with_details(code, message, info, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn limits(budget: usize) -> ServerLimits {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            limits: ServerLimits,
        }
        let mut limits = Cli::parse_from(["test"]).limits;
        limits.max_inflight_request_bytes = budget;
        limits
    }
}
