//! The transport bounds both servers share: how many streams and calls one
//! connection may hold, how long a call may run and how long its body may
//! take to arrive, how large one request message may be, and how many
//! request bytes the whole process receives at once. Each is a setting with an environment fallback; the defaults are
//! sized for the largest accepted picture (2.5 MiB) on an ordinary network.

use std::time::Duration;

/// 16 MiB for a picture (several times the picture limit: any phone photo)
/// and 64 KiB for the other fields of its request.
pub const DEFAULT_MAX_REQUEST_MESSAGE_BYTES: usize = 16 * 1024 * 1024 + 64 * 1024;

/// Transport settings, flattened into each service's configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerLimits {
    /// HTTP/2 streams (calls) one connection may have open at once; the
    /// client's HTTP/2 stack queues or refuses more.
    #[arg(long, env = "MAX_CONCURRENT_STREAMS", default_value_t = 100)]
    pub max_concurrent_streams: u32,

    /// Calls of one connection that run in handlers at once; the others wait
    /// (their bodies are not read meanwhile, so they hold no more than the
    /// HTTP/2 flow-control window).
    #[arg(long, env = "CONNECTION_CONCURRENCY", default_value_t = 32)]
    pub connection_concurrency: usize,

    /// Connections open at once (each holds a file descriptor until it
    /// closes); one over it is closed at once.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 8192, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Connections open at once from one client address, so that one client
    /// cannot take every connection. Behind a proxy that opens its own
    /// connections, raise it to the proxy's pool size.
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_address: u32,

    /// How long a new connection may stay silent before it is closed (the
    /// HTTP stack times out a slow request, but not a client that never
    /// starts one).
    #[arg(long, env = "CONNECTION_FIRST_BYTE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub connection_first_byte_timeout: Duration,

    /// Largest request header list (names and values), in bytes.
    #[arg(long, env = "MAX_HEADER_LIST_BYTES", default_value_t = 16 * 1024)]
    pub max_header_list_bytes: u32,

    /// How often idle connections are pinged, so that peers a load balancer
    /// or NAT silently dropped are noticed.
    #[arg(long, env = "HTTP2_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub keepalive_interval: Duration,

    /// How long a ping may go unanswered before the connection is closed.
    #[arg(long, env = "HTTP2_KEEPALIVE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub keepalive_timeout: Duration,

    /// Longest a call may run, whatever deadline the caller sent (a shorter
    /// caller deadline wins). Server streams such as health Watch are exempt.
    /// An expired call gets DEADLINE_EXCEEDED.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Longest a request body may take to arrive completely: a sender that
    /// stalls is cut off with DEADLINE_EXCEEDED and its bytes are freed.
    #[arg(long, env = "BODY_READ_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub body_read_timeout: Duration,

    /// Largest request message, in bytes: far above the picture limit, so
    /// that a phone photo of a few megabytes reaches the service and hears
    /// IMAGE_TOO_LARGE with its size and the limit. A message declared longer
    /// is refused from its length prefix, before it is received, with
    /// INVALID_ARGUMENT (reason MESSAGE_TOO_LARGE). The default is 16 MiB plus
    /// 64 KiB for the request's other fields, so a 16 MiB picture still fits.
    /// Also the largest response message.
    #[arg(long, env = "MAX_REQUEST_MESSAGE_BYTES", default_value_t = DEFAULT_MAX_REQUEST_MESSAGE_BYTES)]
    pub max_request_message_bytes: usize,

    /// Request bytes the process holds at once, counted as they arrive (before
    /// any message is buffered) and until the call is answered. A call that
    /// would go over is refused with RESOURCE_EXHAUSTED.
    ///
    /// What these bytes cost in memory: up to twice their count. tonic
    /// assembles each message in a buffer of its own, then prost copies a
    /// `bytes` field (the picture) out of it into the request, and both live
    /// until the message is decoded (measured in `tests/tests/e2e/pictures.rs`).
    /// Request bodies thus hold at most 2 x this budget, plus what HTTP/2
    /// flow control lets each connection send before its handler reads it.
    #[arg(long, env = "MAX_INFLIGHT_REQUEST_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_inflight_request_bytes: usize,

    /// HTTP/2 flow-control window of each stream: how much of one call's body
    /// the server buffers before its handler reads it.
    #[arg(long, env = "HTTP2_STREAM_WINDOW_BYTES", default_value_t = 1024 * 1024)]
    pub stream_window_bytes: u32,

    /// HTTP/2 flow-control window of each connection, shared by its streams:
    /// the most one connection can make the server buffer outside the
    /// in-flight byte budget, however many calls it opens.
    #[arg(long, env = "HTTP2_CONNECTION_WINDOW_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub connection_window_bytes: u32,

    /// `grpc.health.v1.Health/Watch` streams one connection may hold open
    /// (at most 1,024 in the whole process).
    #[arg(long, env = "HEALTH_WATCHES_PER_CONNECTION", default_value_t = 4)]
    pub health_watches_per_connection: u32,
}

impl ServerLimits {
    pub fn connection_bounds(&self) -> crate::connections::ConnectionBounds {
        crate::connections::ConnectionBounds {
            max_connections: self.max_connections as usize,
            max_connections_per_address: self.max_connections_per_address as usize,
            first_byte_timeout: self.connection_first_byte_timeout,
        }
    }

    /// A server builder with the HTTP/2 limits set. Request timeouts are not
    /// tonic's (it answers CANCELLED "Timeout expired"): [`crate::guard`]
    /// enforces them with DEADLINE_EXCEEDED.
    pub fn server_builder(&self) -> tonic::transport::Server {
        tonic::transport::Server::builder()
            .max_concurrent_streams(self.max_concurrent_streams)
            .concurrency_limit_per_connection(self.connection_concurrency)
            .http2_max_header_list_size(self.max_header_list_bytes)
            .http2_keepalive_interval(Some(self.keepalive_interval))
            .http2_keepalive_timeout(Some(self.keepalive_timeout))
            // Fixed windows, not adaptive ones: adaptive (BDP) windows grow to
            // 16 MiB per connection, which a client that opens calls and stalls
            // could fill on every connection. 1 MiB still brings a 2.5 MiB
            // picture in three round trips (HTTP/2's 64 KiB default: forty).
            .http2_adaptive_window(Some(false))
            .initial_stream_window_size(self.stream_window_bytes)
            .initial_connection_window_size(self.connection_window_bytes.max(self.stream_window_bytes))
    }
}
