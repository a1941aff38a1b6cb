//! What both gRPC servers of the contract do alike, so that each service
//! keeps only its own routes and jobs. It is a crate of its own beside the
//! contract (`proto/server/`, under `proto/` because the repository's top
//! level is fixed), so clients of `accommador-proto` link none of it.
//!
//! - [`config`]: the serving options both command lines share (health
//!   listener, transport limits, log format, credentials, TLS).
//! - [`command`]: the `hash-token` and `healthcheck` subcommands.
//! - [`credentials`], [`auth`]: who may call, and the interceptor that checks it.
//! - [`tls`]: the rustls provider and the servers' certificates.
//! - [`telemetry`]: the log subscriber and, when `OTEL_EXPORTER_OTLP_ENDPOINT`
//!   is set, trace export; [`otlp`] propagates the trace context between services.
//! - [`rpc_trace`]: the span every RPC runs in.
//! - [`guard`], [`limits`]: request ids, deadlines and the transport bounds;
//!   [`connections`]: how many connections, and that they start talking.
//! - [`memory`]: allocator tuning, so large freed blocks leave the process.
//! - [`metrics`]: Prometheus, by method and status code.
//! - [`routes`]: health and reflection, and readiness following a dependency.
//! - [`healthcheck`]: asking a running server whether it serves.
//! - [`shutdown`]: stopping on a signal.
//! - [`web`]: gRPC-Web, CORS and HTTP/1.1 for browsers.
//! - [`serve`]: binds and serves one service with all of the above.

pub mod auth;
pub mod command;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod guard;
pub mod healthcheck;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod otlp;
pub mod routes;
pub mod rpc_trace;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod web;
