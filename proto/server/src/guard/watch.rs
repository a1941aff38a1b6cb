//! The bound on health Watch streams, per connection and in all.

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
    task::{Context, Poll},
};

use accommador_proto::reasons;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::{
    Code, Status,
    body::Body,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};

use super::{MAX_HEALTH_WATCHES, Shared};

/// The client address a request came from, plain or over TLS.
pub(super) fn client_address(request: &http::Request<Body>) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| extensions.get::<TlsConnectInfo<TcpConnectInfo>>().and_then(|info| info.get_ref().remote_addr()))
}

/// One open Watch stream; its count goes when the response body does.
pub(super) struct WatchSlot {
    shared: Arc<Shared>,
    connection: Option<SocketAddr>,
}

impl WatchSlot {
    pub(super) fn take(shared: &Arc<Shared>, connection: Option<SocketAddr>) -> Result<Self, Status> {
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
                reasons::HEALTH_WATCHES_EXHAUSTED,
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
pub(super) struct WatchBody {
    pub(super) inner: Body,
    pub(super) _slot: WatchSlot,
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
    use super::{super::tests::limits, *};
    use crate::guard::GuardLayer;

    #[test]
    fn watch_slots_are_bounded_per_connection_and_given_back() {
        let layer = GuardLayer::new(&limits(100), "test", None);
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
