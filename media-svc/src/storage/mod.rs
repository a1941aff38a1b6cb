//! Object storage: every byte goes through `aws-sdk-s3`, whatever the server
//! (MinIO, Garage, AWS S3, or the embedded one started by [`embedded`]).
//!
//! - [`objects`]: the S3 operations media-svc needs.
//! - [`presign`]: signed GET URLs, computed locally with SigV4.
//! - [`embedded`]: an S3-compatible server in-process, for the local stack.
//!
//! Keys are opaque here: where each object lives is the image library's
//! business ([`crate::images::keys`]), and nothing in this module imports it.

pub mod embedded;
mod objects;
mod presign;

pub use objects::{ObjectStore, S3Settings};
pub use presign::UrlSigner;

/// A storage failure. `retryable` failures (network, timeouts, 5xx) become
/// UNAVAILABLE: the caller should retry; others are internal errors.
#[derive(Debug, Clone, thiserror::Error)]
#[error("object storage: {message}")]
pub struct StorageError {
    pub message: String,
    pub retryable: bool,
}
