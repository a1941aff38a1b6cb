//! The one error type of media-svc, and the one place it becomes a `tonic::Status`.

use std::collections::HashMap;

use accommador_proto::{
    reasons,
    status::{ErrorInfo, Violations},
    tenant::{TENANT_ID_HEADER, TenantIdError},
};
use accommador_server::guard::{current_request_id, logged_failure_message};
use tonic::{Code, Status};

use crate::{pipeline::Rejection, storage::StorageError};

/// `ErrorInfo.domain` of every error this service returns.
pub const ERROR_DOMAIN: &str = "media.accommador";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    TenantId(#[from] TenantIdError),
    /// The image bytes are not acceptable.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// Request fields that are wrong, all of them at once.
    #[error("{0}")]
    InvalidFields(Violations),
    #[error("image {image_id} not found")]
    NotFound { image_id: String },
    #[error(
        "media-svc cannot take this image now: {why} ({workers} workers, {waiting} images waiting, \
         at most {} MiB waiting); retry with backoff",
        max_queued_bytes >> 20
    )]
    Overloaded { why: &'static str, workers: usize, waiting: usize, max_queued_bytes: usize },
    #[error("image {image_id} is being cleaned up right now; retry in a few seconds")]
    CleanupInProgress { image_id: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid_field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::InvalidFields(Violations::one(field, problem))
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let mut message = error.to_string();
        let mut metadata = HashMap::new();
        let mut violations = Violations::new();
        // Exhaustive on purpose: a new variant must decide its code and reason here.
        let (code, reason) = match &error {
            Error::TenantId(_) => {
                violations.add(TENANT_ID_HEADER, message.clone());
                (Code::InvalidArgument, reasons::TENANT_ID_INVALID)
            }
            Error::Rejected(rejection) => {
                rejection_metadata(rejection, &mut metadata);
                violations.add("data", message.clone());
                (Code::InvalidArgument, rejection.reason())
            }
            Error::InvalidFields(fields) => {
                violations = fields.clone();
                (Code::InvalidArgument, reasons::INVALID_ARGUMENT)
            }
            Error::NotFound { image_id } => {
                metadata.insert("image_id".into(), image_id.clone());
                (Code::NotFound, reasons::IMAGE_NOT_FOUND)
            }
            Error::Overloaded { workers, waiting, max_queued_bytes, .. } => {
                metadata.insert("workers".into(), workers.to_string());
                metadata.insert("waiting".into(), waiting.to_string());
                metadata.insert("max_queued_bytes".into(), max_queued_bytes.to_string());
                (Code::ResourceExhausted, reasons::OVERLOADED)
            }
            Error::CleanupInProgress { image_id } => {
                metadata.insert("image_id".into(), image_id.clone());
                (Code::Unavailable, reasons::CLEANUP_IN_PROGRESS)
            }
            Error::Storage(storage) if storage.retryable => (Code::Unavailable, reasons::STORAGE_UNAVAILABLE),
            Error::Storage(_) => (Code::Internal, reasons::STORAGE_FAILED),
            Error::Internal(_) => (Code::Internal, reasons::INTERNAL),
        };
        // Storage and SDK error text names buckets, keys and hosts: it is
        // logged, and the caller gets a stable message with the request id.
        if matches!(error, Error::Storage(_) | Error::Internal(_)) {
            tracing::error!(%error, "request failed");
            message = logged_failure_message(match code {
                Code::Unavailable => "object storage is unavailable; retry with backoff",
                _ => "internal error",
            });
        }
        if let Some(request_id) = current_request_id() {
            metadata.entry("request_id".into()).or_insert(request_id);
        }
        violations.into_status(code, message, ErrorInfo::new(reason, ERROR_DOMAIN, metadata))
    }
}

/// The numbers a program needs to react to a refused image.
fn rejection_metadata(rejection: &Rejection, metadata: &mut HashMap<String, String>) {
    match rejection {
        Rejection::FormatUnsupported { detected } => {
            metadata.insert("accepted_formats".into(), "image/jpeg,image/png".into());
            if let Some(name) = detected {
                metadata.insert("detected_format".into(), (*name).into());
            }
        }
        Rejection::TooLarge { size, limit } => {
            metadata.insert("size_bytes".into(), size.to_string());
            metadata.insert("limit_bytes".into(), limit.to_string());
        }
        Rejection::DimensionsOutOfRange { width, height, limits } => {
            metadata.insert("width".into(), width.to_string());
            metadata.insert("height".into(), height.to_string());
            metadata.insert("min_side".into(), limits.min_side.to_string());
            metadata.insert("max_side".into(), limits.max_side.to_string());
            metadata.insert("max_pixels".into(), limits.max_pixels.to_string());
        }
        Rejection::FeatureUnsupported { format, feature } => {
            metadata.insert("accepted_formats".into(), "image/jpeg,image/png".into());
            metadata.insert("format".into(), format.content_type().into());
            metadata.insert("unsupported_feature".into(), (*feature).into());
        }
        Rejection::TooComplex { format, cost } => {
            metadata.insert("format".into(), format.content_type().into());
            metadata.insert("resource".into(), cost.resource().into());
            metadata.insert("needed".into(), cost.needed().to_string());
            metadata.insert("limit".into(), cost.limit().to_string());
        }
        Rejection::Corrupt { format, .. } => {
            metadata.insert("format".into(), format.content_type().into());
        }
    }
}

#[cfg(test)]
mod tests {
    use accommador_proto::reasons::IMAGE_REJECTIONS;

    use super::*;
    use crate::pipeline::{Cost, Format, Limits};

    /// The pipeline has no protobuf dependency, so its reasons are checked
    /// here: every one must be a reason of the contract.
    #[test]
    fn every_pipeline_reason_is_in_the_reasons_module() {
        let rejections = [
            Rejection::FormatUnsupported { detected: None },
            Rejection::TooLarge { size: 2, limit: 1 },
            Rejection::DimensionsOutOfRange { width: 1, height: 1, limits: Limits::default() },
            Rejection::FeatureUnsupported { format: Format::Jpeg, feature: "arithmetic coding" },
            Rejection::TooComplex { format: Format::Png, cost: Cost::PngChunks { count: 2, limit: 1 } },
            Rejection::Corrupt { format: Format::Png, detail: "truncated".into() },
        ];
        for rejection in rejections {
            assert!(
                IMAGE_REJECTIONS.contains(&rejection.reason()),
                "{} is not in accommador_proto::reasons",
                rejection.reason()
            );
        }
    }

    /// Both services refuse an oversized picture in the same words; the
    /// pipeline writes its own (it has no protobuf dependency).
    #[test]
    fn the_pipeline_says_too_large_as_contacts_svc_does() {
        for (size, limit) in [(2_621_441, 2_621_440), (4_404_019, 2_621_440), (70_000, 1000), (9, 8)] {
            assert_eq!(
                Rejection::TooLarge { size, limit }.to_string(),
                accommador_proto::status::picture_too_large(size, limit)
            );
        }
    }
}
