//! media-svc: the only component that touches image bytes and object storage.
//!
//! - [`config`]: command line and environment.
//! - [`server`]: binds the port, connects storage, assembles the gRPC services.
//! - [`api`]: the tonic `MediaService` implementation: decode, call, encode.
//! - [`images`]: the image library: upload, claim, sign, janitor (domain).
//! - [`pipeline`]: validation and normalization of image bytes (pure CPU, its own crate).
//! - [`storage`]: S3 access through aws-sdk-s3, and the embedded S3 server.
//! - [`process`]: the offline `media-svc process` command.
//! - [`samples`]: synthetic images for tests and benchmarks (in the pipeline crate).
//! - [`error`]: the service's one error type and its mapping to `tonic::Status`.

pub(crate) mod api;
pub mod config;
pub mod error;
pub mod images;
/// The image pipeline, in its own crate (`media-svc/pipeline`) so fuzzing and
/// benchmarks build without the server.
pub use accommador_pipeline as pipeline;
pub mod process;
pub use accommador_pipeline::samples;
pub mod server;
pub mod storage;
