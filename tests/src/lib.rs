//! Harness for the end-to-end tests in `tests/tests/e2e/`: it starts the real
//! `contacts-svc` and `media-svc` binaries on free loopback ports, waits until
//! their gRPC health check answers SERVING, and stops them with SIGTERM.
//!
//! Set `TEST_LOG=1` to see the servers' logs on stderr; otherwise each
//! server's log goes to a file whose tail is shown when a start fails.
//!
//! - `servers`: [`Server`], the one way to start a binary, and [`ServerProcess`];
//! - `stack`: both services wired together ([`Stack`]) and shorthands;
//! - `databases`: SQLite, and PostgreSQL when `TEST_POSTGRES_URL` is set;
//! - `clients`, `requests`, `pictures`: what the tests send;
//! - `proxy`: a TCP proxy a test can cut, for network faults;
//! - `raw`: gRPC calls over plain HTTP/2, for what a tonic client will not send.

pub mod clients;
pub mod databases;
pub mod demo;
pub mod nats;
pub mod pictures;
pub mod proxy;
pub mod raw;
pub mod requests;
pub mod servers;
pub mod stack;

pub use clients::tenant_request;
pub use databases::{TestDatabase, databases};
pub use servers::{Server, ServerProcess, binary_path, free_port, health_status};
pub use stack::{Stack, embedded_objects, restart_media, start_contacts, start_media};
