//! media-svc: the only component that touches image bytes and object storage.
//!
//! - [`config`]: command line and environment.
//! - [`server`]: binds the port and assembles the gRPC services.
//! - [`api`]: the tonic `MediaService` implementation: decode, call, encode.
//! - [`error`]: the service's one error type and its mapping to `tonic::Status`.

pub mod api;
pub mod config;
pub mod error;
pub mod pipeline;
pub mod samples;
pub mod server;
