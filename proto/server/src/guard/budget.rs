//! The in-flight byte budget: every request body frame is counted as it
//! arrives and held until the call is answered; the message size limit,
//! read from each message's length prefix; and the body-read timeout.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use accommador_proto::{reasons, status::byte_size};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::{Code, Status, body::Body};

use super::{
    Shared,
    framing::{CutShort, MessagePrefixes},
};

/// The bytes one call holds from the budget; all given back when both the
/// body and the call are done.
#[derive(Debug)]
pub(super) struct Reservation {
    pub(super) shared: Arc<Shared>,
    pub(super) held: AtomicUsize,
}

impl Reservation {
    pub(super) fn take(&self, bytes: usize) -> Result<(), Status> {
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
                reasons::INFLIGHT_BYTES_EXHAUSTED,
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
    /// A message declared longer than MAX_REQUEST_MESSAGE_BYTES: it can never
    /// succeed, so INVALID_ARGUMENT (RESOURCE_EXHAUSTED would invite retries).
    fn message_too_large(&self, declared: usize) -> Status {
        metrics::counter!("grpc_server_requests_refused_total", "reason" => "message_too_large").increment(1);
        let limit = self.max_message_bytes;
        let mut message = format!(
            "the request message is {}; the limit, MAX_REQUEST_MESSAGE_BYTES, is {}",
            byte_size(declared),
            byte_size(limit)
        );
        if let Some(hint) = &self.message_hint {
            message = format!("{message}; {hint}");
        }
        self.refusal(
            Code::InvalidArgument,
            message,
            reasons::MESSAGE_TOO_LARGE,
            [("limit_bytes", limit.to_string()), ("message_bytes", declared.to_string())],
        )
    }

    /// The refusal of a body that ended inside a message: the caller's
    /// broken request, not the server's failure.
    fn cut_short(&self, cut: CutShort) -> Status {
        let what = match cut {
            CutShort::InPrefix { received } => {
                format!("the request body ended {received} bytes into a message's 5-byte length prefix")
            }
            CutShort::InMessage { received, declared } => {
                format!("the request body ended after {received} of the {declared} bytes its message declared")
            }
        };
        metrics::counter!("grpc_server_requests_refused_total", "reason" => "malformed_message").increment(1);
        self.refusal(Code::InvalidArgument, what, reasons::MALFORMED_MESSAGE, [])
    }

    fn report_inflight(&self) {
        let held = self.budget_bytes.saturating_sub(self.budget.available_permits());
        metrics::gauge!("grpc_server_inflight_request_bytes").set(held as f64);
    }
}

/// A request body that counts its bytes against the budget, whose messages
/// may not be declared longer than the limit, and that must arrive before
/// the body-read timeout.
pub(super) struct GuardedBody {
    pub(super) inner: Body,
    pub(super) reservation: Arc<Reservation>,
    pub(super) prefixes: MessagePrefixes,
    pub(super) read_deadline: Pin<Box<tokio::time::Sleep>>,
    pub(super) finished: bool,
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
                if let Some(data) = frame.data_ref() {
                    let shared = &this.reservation.shared;
                    // The frame that declares too long a message never reaches
                    // tonic, which would start buffering it.
                    let checked = match this.prefixes.read(data, shared.max_message_bytes) {
                        Ok(()) => this.reservation.take(data.len()),
                        Err(declared) => Err(shared.message_too_large(declared)),
                    };
                    if let Err(status) = checked {
                        this.finished = true;
                        return Poll::Ready(Some(Err(status)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(status))) => Poll::Ready(Some(Err(status))),
            Poll::Ready(None) => {
                this.finished = true;
                match this.prefixes.cut_short() {
                    Some(cut) => Poll::Ready(Some(Err(this.reservation.shared.cut_short(cut)))),
                    None => Poll::Ready(None),
                }
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
                    reasons::BODY_READ_TIMEOUT,
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

#[cfg(test)]
mod tests {
    use super::{super::tests::limits, *};
    use crate::guard::GuardLayer;

    #[tokio::test]
    async fn bytes_are_held_until_both_body_and_call_are_done() {
        let layer = GuardLayer::new(&limits(100), "test", None);
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

    /// A body delivering `frames` one by one.
    struct Frames(std::collections::VecDeque<Bytes>);

    impl HttpBody for Frames {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            Poll::Ready(self.0.pop_front().map(|data| Ok(Frame::data(data))))
        }
    }

    #[tokio::test]
    async fn a_message_declared_over_the_limit_ends_the_body_before_it_is_counted() {
        use accommador_proto::status::error_info;
        use http_body::Body as _;

        let mut limits = limits(100);
        limits.max_request_message_bytes = 10;
        let layer = GuardLayer::new(&limits, "test", Some("a profile picture may be at most 8 bytes".into()));
        // One message within the limit, then one declaring 2 MiB, its prefix split across two frames.
        let frames = [&[0, 0, 0, 0, 10][..], &[7; 10], &[0, 0, 0x20], &[0, 0], &[1; 50]];
        let mut body = GuardedBody {
            inner: Body::new(Frames(frames.iter().map(|f| Bytes::copy_from_slice(f)).collect())),
            reservation: Arc::new(Reservation { shared: layer.shared.clone(), held: AtomicUsize::new(0) }),
            prefixes: MessagePrefixes::default(),
            read_deadline: Box::pin(tokio::time::sleep(std::time::Duration::from_secs(60))),
            finished: false,
        };
        async fn next(body: &mut GuardedBody) -> Option<Result<Frame<Bytes>, Status>> {
            std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
        }
        for _ in 0..3 {
            assert!(next(&mut body).await.unwrap().is_ok(), "frames before the too-long prefix pass");
        }
        let status = next(&mut body).await.unwrap().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(
            status.message(),
            "the request message is 2.0 MiB (2097152 bytes); the limit, MAX_REQUEST_MESSAGE_BYTES, is 10 bytes; \
             a profile picture may be at most 8 bytes"
        );
        let info = error_info(&status).unwrap();
        assert_eq!(info.reason, reasons::MESSAGE_TOO_LARGE);
        assert_eq!((info.metadata["limit_bytes"].as_str(), info.metadata["message_bytes"].as_str()), ("10", "2097152"));
        assert!(next(&mut body).await.is_none(), "the body ends there");
        assert_eq!(layer.shared.budget.available_permits(), 100 - 18, "the refused frame was not counted");
    }
}
