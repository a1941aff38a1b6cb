//! The deadline of a call: the caller's `grpc-timeout`, capped by the
//! server's `REQUEST_TIMEOUT`, enforced with DEADLINE_EXCEEDED.

use std::time::{Duration, Instant};

use accommador_proto::{
    reasons,
    tenant::{GRPC_TIMEOUT_HEADER, parse_grpc_timeout},
};
use tonic::{Code, Status, body::Body};

use super::Shared;

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

/// Who decided a deadline, for the message when it expires.
#[derive(Debug, Clone, Copy)]
pub(super) enum DeadlineSource {
    Caller(Duration),
    Server(Duration),
}

impl Shared {
    pub(super) fn deadline(&self, request: &http::Request<Body>) -> (Deadline, DeadlineSource) {
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

    pub(super) fn deadline_exceeded(&self, source: DeadlineSource) -> Status {
        let (message, reason, limit) = match source {
            DeadlineSource::Caller(timeout) => (
                format!("the call did not finish within its deadline of {timeout:?}"),
                reasons::DEADLINE_EXCEEDED,
                timeout,
            ),
            DeadlineSource::Server(limit) => (
                format!("the call did not finish within the server's limit of {limit:?} (REQUEST_TIMEOUT)"),
                reasons::REQUEST_TIMEOUT,
                limit,
            ),
        };
        self.refusal(Code::DeadlineExceeded, message, reason, [("limit_ms", limit.as_millis().to_string())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        guard::{Guard, GuardLayer, tests::limits},
        limits::ServerLimits,
    };

    /// A handler that never answers, behind the guard.
    fn never_answers(
        limits: &ServerLimits,
    ) -> Guard<tower::util::BoxCloneSyncService<http::Request<Body>, http::Response<Body>, std::convert::Infallible>>
    {
        use tower::Layer;
        let inner = tower::service_fn(|_: http::Request<Body>| {
            std::future::pending::<Result<http::Response<Body>, std::convert::Infallible>>()
        });
        GuardLayer::new(limits, "test", None).layer(tower::util::BoxCloneSyncService::new(inner))
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
}
