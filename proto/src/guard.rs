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
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::Semaphore;
use tonic::{
    Code, Status,
    body::Body,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};

use crate::{
    limits::ServerLimits,
    status::{ErrorInfo, with_details},
    tenant::{GRPC_TIMEOUT_HEADER, REQUEST_ID_HEADER, parse_grpc_timeout},
};

/// The health method whose calls are streams that last as long as the watcher.
const HEALTH_WATCH_PATH: &str = "/grpc.health.v1.Health/Watch";
/// Health Watch streams the whole process holds at once.
pub const MAX_HEALTH_WATCHES: u32 = 1024;
/// How much earlier than the caller's deadline ours fires, so the caller
/// gets our DEADLINE_EXCEEDED rather than tonic's CANCELLED.
const AHEAD_OF_TRANSPORT_TIMER: Duration = Duration::from_millis(1);

/// When the call must be answered: the caller's deadline or the server's
/// limit, whichever comes first. Handlers find it in the request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(pub Instant);

impl Deadline {
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The request id of the call being handled, when called from inside one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
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
    watches_per_connection: u32,
    /// Open Watch streams per client address; an entry leaves when its count
    /// drops to zero, so the map holds at most [`MAX_HEALTH_WATCHES`] entries.
    watches: Mutex<HashMap<Option<SocketAddr>, u32>>,
    watches_total: AtomicUsize,
}

impl GuardLayer {
    /// `domain` is the `ErrorInfo.domain` of the refusals this layer makes.
    pub fn new(limits: &ServerLimits, domain: &'static str) -> Self {
        let budget_bytes = limits.max_inflight_request_bytes.min(Semaphore::MAX_PERMITS);
        Self {
            shared: Arc::new(Shared {
                domain,
                request_timeout: limits.request_timeout,
                body_read_timeout: limits.body_read_timeout,
                budget: Arc::new(Semaphore::new(budget_bytes)),
                budget_bytes,
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
        .filter(|id| !id.is_empty() && id.len() <= crate::tenant::MAX_REQUEST_ID_LEN);
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

/// Who decided a deadline, for the message when it expires.
#[derive(Debug, Clone, Copy)]
enum DeadlineSource {
    Caller(Duration),
    Server(Duration),
}

impl Shared {
    fn deadline(&self, request: &http::Request<Body>) -> (Deadline, DeadlineSource) {
        let caller = request
            .headers()
            .get(GRPC_TIMEOUT_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        let source = match caller {
            Some(timeout) if timeout < self.request_timeout => DeadlineSource::Caller(timeout),
            _ => DeadlineSource::Server(self.request_timeout),
        };
        let allowed = match source {
            DeadlineSource::Caller(timeout) => timeout.saturating_sub(AHEAD_OF_TRANSPORT_TIMER),
            DeadlineSource::Server(limit) => limit,
        };
        (Deadline(Instant::now() + allowed), source)
    }

    fn deadline_exceeded(&self, source: DeadlineSource) -> Status {
        let (message, reason, limit) = match source {
            DeadlineSource::Caller(timeout) => {
                (format!("the call did not finish within its deadline of {timeout:?}"), "DEADLINE_EXCEEDED", timeout)
            }
            DeadlineSource::Server(limit) => (
                format!("the call did not finish within the server's limit of {limit:?} (REQUEST_TIMEOUT)"),
                "REQUEST_TIMEOUT",
                limit,
            ),
        };
        self.refusal(Code::DeadlineExceeded, message, reason, [("limit_ms", limit.as_millis().to_string())])
    }

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

/// The bytes one call holds from the budget; all given back when both the
/// body and the call are done.
#[derive(Debug)]
struct Reservation {
    shared: Arc<Shared>,
    held: AtomicUsize,
}

impl Reservation {
    fn take(&self, bytes: usize) -> Result<(), Status> {
        let shared = &self.shared;
        let acquired = u32::try_from(bytes).ok().and_then(|n| shared.budget.try_acquire_many(n).ok());
        let Some(permit) = acquired else {
            metrics::counter!("grpc_server_requests_refused_total", "reason" => "inflight_bytes").increment(1);
            return Err(shared.refusal(
                Code::ResourceExhausted,
                format!(
                    "the server is receiving more request bytes at once than its limit of {} MiB \
                     (MAX_INFLIGHT_REQUEST_BYTES); retry with backoff",
                    shared.budget_bytes >> 20
                ),
                "INFLIGHT_BYTES_EXHAUSTED",
                [("limit_bytes", shared.budget_bytes.to_string())],
            ));
        };
        permit.forget();
        self.held.fetch_add(bytes, Ordering::Relaxed);
        self.shared.report_inflight();
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        if held > 0 {
            self.shared.budget.add_permits(held);
            self.shared.report_inflight();
        }
    }
}

impl Shared {
    fn report_inflight(&self) {
        let held = self.budget_bytes.saturating_sub(self.budget.available_permits());
        metrics::gauge!("grpc_server_inflight_request_bytes").set(held as f64);
    }
}

/// A request body that counts its bytes against the budget and must arrive
/// before the body-read timeout.
struct GuardedBody {
    inner: Body,
    reservation: Arc<Reservation>,
    read_deadline: Pin<Box<tokio::time::Sleep>>,
    finished: bool,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(status) = this.reservation.take(data.len())
                {
                    this.finished = true;
                    return Poll::Ready(Some(Err(status)));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(status))) => Poll::Ready(Some(Err(status))),
            Poll::Ready(None) => {
                this.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.read_deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.finished = true;
                let shared = &this.reservation.shared;
                metrics::counter!("grpc_server_requests_refused_total", "reason" => "body_read_timeout").increment(1);
                let limit = shared.body_read_timeout;
                Poll::Ready(Some(Err(shared.refusal(
                    Code::DeadlineExceeded,
                    format!("the request body did not arrive within {limit:?} (BODY_READ_TIMEOUT)"),
                    "BODY_READ_TIMEOUT",
                    [("limit_ms", limit.as_millis().to_string())],
                ))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client address a request came from, plain or over TLS.
fn client_address(request: &http::Request<Body>) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| extensions.get::<TlsConnectInfo<TcpConnectInfo>>().and_then(|info| info.get_ref().remote_addr()))
}

/// One open Watch stream; its count goes when the response body does.
struct WatchSlot {
    shared: Arc<Shared>,
    connection: Option<SocketAddr>,
}

impl WatchSlot {
    fn take(shared: &Arc<Shared>, connection: Option<SocketAddr>) -> Result<Self, Status> {
        let mut watches = shared.watches.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let total = shared.watches_total.load(Ordering::Relaxed);
        let count = watches.get(&connection).copied().unwrap_or(0);
        if count >= shared.watches_per_connection || total >= MAX_HEALTH_WATCHES as usize {
            drop(watches);
            metrics::counter!("grpc_server_requests_refused_total", "reason" => "health_watches").increment(1);
            return Err(shared.refusal(
                Code::ResourceExhausted,
                format!(
                    "too many health Watch streams: at most {} per connection (HEALTH_WATCHES_PER_CONNECTION) \
                     and {MAX_HEALTH_WATCHES} in all",
                    shared.watches_per_connection
                ),
                "HEALTH_WATCHES_EXHAUSTED",
                [("limit_per_connection", shared.watches_per_connection.to_string())],
            ));
        }
        watches.insert(connection, count + 1);
        shared.watches_total.fetch_add(1, Ordering::Relaxed);
        Ok(Self { shared: shared.clone(), connection })
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut watches = self.shared.watches.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = watches.get_mut(&self.connection) {
            *count -= 1;
            if *count == 0 {
                watches.remove(&self.connection);
            }
        }
        self.shared.watches_total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A Watch response body that holds its slot while the stream is open.
struct WatchBody {
    inner: Body,
    _slot: WatchSlot,
}

impl HttpBody for WatchBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(budget: usize) -> ServerLimits {
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

    #[tokio::test]
    async fn bytes_are_held_until_both_body_and_call_are_done() {
        let layer = GuardLayer::new(&limits(100), "test");
        let first = Arc::new(Reservation { shared: layer.shared.clone(), held: AtomicUsize::new(0) });
        first.take(60).unwrap();
        let second = Reservation { shared: layer.shared.clone(), held: AtomicUsize::new(0) };
        let refused = second.take(50).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.message().contains("MAX_INFLIGHT_REQUEST_BYTES"), "{}", refused.message());
        second.take(40).unwrap();
        let body_copy = first.clone();
        drop(first);
        assert_eq!(layer.shared.budget.available_permits(), 0, "the body still holds its bytes");
        drop(body_copy);
        assert_eq!(layer.shared.budget.available_permits(), 60);
        drop(second);
        assert_eq!(layer.shared.budget.available_permits(), 100);
    }

    /// A handler that never answers, behind the guard.
    fn never_answers(
        limits: &ServerLimits,
    ) -> Guard<tower::util::BoxCloneSyncService<http::Request<Body>, http::Response<Body>, std::convert::Infallible>>
    {
        use tower::Layer;
        let inner = tower::service_fn(|_: http::Request<Body>| {
            std::future::pending::<Result<http::Response<Body>, std::convert::Infallible>>()
        });
        GuardLayer::new(limits, "test").layer(tower::util::BoxCloneSyncService::new(inner))
    }

    fn grpc_status(response: &http::Response<Body>) -> (String, String) {
        let header =
            |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        // grpc-message is percent-encoded; spaces are all these messages need decoded.
        (header("grpc-status"), header("grpc-message").replace("%20", " "))
    }

    #[tokio::test]
    async fn an_expired_deadline_is_deadline_exceeded_not_cancelled() {
        use tower::Service;
        let mut limits = limits(100);
        let request = |timeout: Option<&str>| {
            let mut builder = http::Request::post("/accommador.contacts.v1.ContactsService/ListContacts");
            if let Some(timeout) = timeout {
                builder = builder.header(GRPC_TIMEOUT_HEADER, timeout);
            }
            builder.body(Body::empty()).unwrap()
        };
        let response = never_answers(&limits).call(request(Some("50m"))).await.unwrap();
        let (code, message) = grpc_status(&response);
        assert_eq!(code, "4", "DEADLINE_EXCEEDED: {message}");
        assert!(message.contains("deadline of 50ms"), "{message}");

        limits.request_timeout = Duration::from_millis(50);
        let response = never_answers(&limits).call(request(None)).await.unwrap();
        let (code, message) = grpc_status(&response);
        assert_eq!(code, "4", "DEADLINE_EXCEEDED: {message}");
        assert!(message.contains("REQUEST_TIMEOUT"), "{message}");
    }

    #[test]
    fn watch_slots_are_bounded_per_connection_and_given_back() {
        let layer = GuardLayer::new(&limits(100), "test");
        let one: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let two: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        let held: Vec<_> = (0..4).map(|_| WatchSlot::take(&layer.shared, Some(one)).unwrap()).collect();
        let refused = WatchSlot::take(&layer.shared, Some(one)).err().expect("a fifth is refused");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        let other = WatchSlot::take(&layer.shared, Some(two)).expect("another connection has its own slots");
        drop(held);
        drop(other);
        assert!(layer.shared.watches.lock().unwrap().is_empty(), "no entry outlives its streams");
        assert!(WatchSlot::take(&layer.shared, Some(one)).is_ok());
    }
}
