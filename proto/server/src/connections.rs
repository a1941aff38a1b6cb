//! The connections a server takes: at most MAX_CONNECTIONS at once, at most
//! MAX_CONNECTIONS_PER_ADDRESS of them from one client address (so one
//! client cannot take every slot and lock the others out), and only those
//! that start talking. A connection that sends nothing within
//! CONNECTION_FIRST_BYTE_TIMEOUT is closed before the HTTP stack sees it:
//! neither HTTP/2 (whose keepalive pings start after the handshake) nor the
//! protocol detection that HTTP/1.1 needs would ever time out a client that
//! connects and stays silent, and enough of those would use up the
//! process's file descriptors, refusing everyone. A connection over the
//! bound is closed at once, so the bound holds whatever clients do; every
//! connection holds its slot until it closes.

use std::{
    collections::HashMap,
    io,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How many connections and how soon they must speak.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionBounds {
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub first_byte_timeout: Duration,
}

/// An accepted connection that has sent its first byte, holding its slot
/// and its address's share.
pub struct Connection {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    _share: AddressShare,
}

/// Open connections per client address. An entry exists only while its
/// address holds a connection, and each holds a slot first, so the map
/// never has more than MAX_CONNECTIONS entries.
struct AddressCounts {
    open: Mutex<HashMap<IpAddr, usize>>,
    per_address: usize,
}

/// One connection's place in its address's count, given back on drop.
struct AddressShare {
    counts: Arc<AddressCounts>,
    address: IpAddr,
}

impl AddressCounts {
    fn take(counts: &Arc<Self>, address: IpAddr) -> Option<AddressShare> {
        let mut open = counts.open.lock().expect("no panics while the lock is held");
        let held = open.entry(address).or_insert(0);
        if *held >= counts.per_address {
            return None;
        }
        *held += 1;
        Some(AddressShare { counts: counts.clone(), address })
    }
}

impl Drop for AddressShare {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().expect("no panics while the lock is held");
        if let Some(held) = open.get_mut(&self.address) {
            *held -= 1;
            if *held == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// The connections `listener` accepts within `bounds`, with Nagle's
/// algorithm off. Accepting from our own listener (bound before the server
/// is built) bypasses the builder's TCP settings, and with Nagle on, a
/// response written in two parts waits for the peer's delayed ACK: a flat
/// 40 ms on every call. The stream ends when the server drops it.
pub fn incoming(listener: TcpListener, bounds: ConnectionBounds) -> ReceiverStream<io::Result<Connection>> {
    let (ready, incoming) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let counts =
        Arc::new(AddressCounts { open: Mutex::default(), per_address: bounds.max_connections_per_address.max(1) });
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = ready.closed() => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or memory: wait rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                metrics::counter!("server_connections_refused_total", "reason" => "max_connections").increment(1);
                continue;
            };
            let Some(share) = AddressCounts::take(&counts, peer.ip()) else {
                metrics::counter!("server_connections_refused_total", "reason" => "max_connections_per_address")
                    .increment(1);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let ready = ready.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                match tokio::time::timeout(bounds.first_byte_timeout, stream.peek(&mut first)).await {
                    Ok(Ok(read)) if read > 0 => {
                        let _ = ready.send(Ok(Connection { stream, _slot: slot, _share: share })).await;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        metrics::counter!("server_connections_refused_total", "reason" => "silent").increment(1);
                    }
                }
            });
        }
    });
    ReceiverStream::new(incoming)
}

impl Connected for Connection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Connection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_its_share_and_its_entry_goes_with_its_last_connection() {
        let counts = Arc::new(AddressCounts { open: Mutex::default(), per_address: 2 });
        let one: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let first = AddressCounts::take(&counts, one).expect("first");
        let second = AddressCounts::take(&counts, one).expect("second");
        assert!(AddressCounts::take(&counts, one).is_none(), "a third from the same address");
        let elsewhere = AddressCounts::take(&counts, other).expect("another address is not held back");
        drop(first);
        let again = AddressCounts::take(&counts, one).expect("a closed connection gives its share back");
        drop((second, again, elsewhere));
        assert!(counts.open.lock().unwrap().is_empty(), "no entry outlives its connections");
    }
}
