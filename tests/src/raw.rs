//! gRPC over plain HTTP/2 (h2), for what a tonic client will not do: send one
//! encoded message on many calls without copying it, declare a length it
//! does not send, or read the server's answer without a client-side timer.

use std::net::SocketAddr;

use bytes::Bytes;
use h2::client::SendRequest;
use tonic::Status;

/// An HTTP/2 connection to `addr`; calls on it share its flow-control window.
pub async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (client, connection) = h2::client::handshake(tcp).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// `message` with its gRPC prefix (not compressed, its length), as a body.
pub fn framed(message: &[u8]) -> Bytes {
    let mut body = Vec::with_capacity(5 + message.len());
    body.push(0);
    body.extend(u32::try_from(message.len()).expect("a message under 4 GiB").to_be_bytes());
    body.extend_from_slice(message);
    body.into()
}

/// One unary call to `path` on `client`'s connection, sending `body` (see
/// [`framed`]) with `metadata`; the status the server answered, OK included.
pub async fn unary(
    client: &SendRequest<Bytes>,
    addr: SocketAddr,
    path: &str,
    metadata: &[(&str, &str)],
    body: Bytes,
) -> anyhow::Result<Status> {
    // Waits while the server's stream limit is reached, as HTTP/2 requires.
    let mut client = client.clone().ready().await?;
    let mut request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in metadata {
        request = request.header(*name, *value);
    }
    let (response, mut stream) = client.send_request(request.body(())?, false)?;
    // h2 sends it as the windows allow; the bytes are shared, not copied.
    stream.reserve_capacity(body.len());
    let _ = stream.send_data(body, true);
    Ok(status(response.await?).await)
}

/// The gRPC status of a response: from its headers (trailers-only) or its trailers.
pub async fn status(response: http::Response<h2::RecvStream>) -> Status {
    if let Some(status) = Status::from_header_map(response.headers()) {
        return status;
    }
    let mut body = response.into_body();
    while let Some(data) = body.data().await {
        if let Ok(data) = data {
            let _ = body.flow_control().release_capacity(data.len());
        }
    }
    match body.trailers().await {
        Ok(Some(trailers)) => Status::from_header_map(&trailers),
        _ => None,
    }
    .unwrap_or_else(|| Status::unknown("the response carried no grpc-status"))
}
