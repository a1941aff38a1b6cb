//! media-svc: the only component that touches image bytes and object storage.
//!
//! - [`config`]: command line and environment.
//! - [`server`]: binds the port, connects storage, assembles the gRPC services.
//! - [`api`]: the tonic `MediaService` implementation: decode, call, encode.
//! - [`images`]: the image library: upload, claim, sign, janitor (domain).
//! - [`pipeline`]: validation and normalization of image bytes (pure CPU).
//! - [`storage`]: S3 access through aws-sdk-s3, and the embedded S3 server.
//! - [`process`]: the offline `media-svc process` command.
//! - [`samples`]: synthetic images for tests and benchmarks.
//! - [`error`]: the service's one error type and its mapping to `tonic::Status`.

pub mod api;
pub mod config;
pub mod error;
pub mod images;
pub mod pipeline;
pub mod process;
pub mod samples;
pub mod server;
pub mod storage;
