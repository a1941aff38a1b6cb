//! Errors as AIP-193 wants them: a canonical code, a message a person can act
//! on, a `google.rpc.ErrorInfo` with a machine-readable reason, and at most one
//! `google.rpc.BadRequest` listing every field violation.

use std::collections::HashMap;

use tonic::{Code, Status};
pub use tonic_types::FieldViolation;
use tonic_types::{ErrorDetails, StatusExt};

/// The parts of an `ErrorInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// UPPER_SNAKE, stable, for programs to branch on (e.g. `IMAGE_TOO_LARGE`).
    pub reason: String,
    /// The service that decided the error, e.g. `media.accommador`.
    pub domain: String,
    /// Facts about this occurrence (limits, ids) for programs to read.
    pub metadata: HashMap<String, String>,
}

/// Field violations listed in one error at most; the rest are counted.
pub const MAX_LISTED_VIOLATIONS: usize = 20;
/// Longest error message, in bytes: it travels in the `grpc-message` header,
/// which clients and proxies cap at a few KiB.
pub const MAX_MESSAGE_BYTES: usize = 2048;

/// Builds a `Status` carrying `ErrorInfo` and, when there are violations, one
/// `BadRequest`. At most [`MAX_LISTED_VIOLATIONS`] violations are listed and
/// the message is cut to [`MAX_MESSAGE_BYTES`], so no request can make its
/// own error large.
pub fn with_details(
    code: Code,
    message: impl Into<String>,
    info: ErrorInfo,
    mut violations: Vec<FieldViolation>,
) -> Status {
    let mut message = message.into();
    if message.len() > MAX_MESSAGE_BYTES {
        let total = message.len();
        message.truncate(message.floor_char_boundary(MAX_MESSAGE_BYTES));
        message.push_str(&format!("... ({total} bytes in all)"));
    }
    if violations.len() > MAX_LISTED_VIOLATIONS {
        let unlisted = violations.len() - MAX_LISTED_VIOLATIONS;
        violations.truncate(MAX_LISTED_VIOLATIONS);
        violations.push(FieldViolation::new("...", format!("and {unlisted} more violations")));
    }
    let mut details = ErrorDetails::with_error_info(info.reason, info.domain, info.metadata);
    if !violations.is_empty() {
        details.set_bad_request(violations);
    }
    Status::with_error_details(code, message, details)
}

/// Longest part of a caller's input that an error message quotes.
pub const MAX_QUOTED_CHARS: usize = 64;

/// A caller's input as an error message quotes it: in quotes and escaped,
/// shortened to [`MAX_QUOTED_CHARS`] characters (with the full length said),
/// so a 5,000-character value never comes back in a message or a header.
pub fn quote(input: &str) -> String {
    let length = input.chars().count();
    if length <= MAX_QUOTED_CHARS {
        return format!("{input:?}");
    }
    let start: String = input.chars().take(MAX_QUOTED_CHARS).collect();
    format!("{:?}... ({length} characters)", start)
}

/// Reads the `ErrorInfo` of a status received from another service.
pub fn error_info(status: &Status) -> Option<ErrorInfo> {
    let details = status.get_error_details();
    details.error_info().map(|info| ErrorInfo {
        reason: info.reason.clone(),
        domain: info.domain.clone(),
        metadata: info.metadata.clone(),
    })
}

/// Reads the field violations of a status received from another service.
pub fn field_violations(status: &Status) -> Vec<FieldViolation> {
    status.get_error_details().bad_request().map(|bad_request| bad_request.field_violations.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_stays_small_however_many_violations_it_has() {
        let info = || ErrorInfo { reason: "X".into(), domain: "d".into(), metadata: HashMap::new() };
        let violations: Vec<_> = (0..10_000).map(|n| FieldViolation::new(format!("ids[{n}]"), "bad")).collect();
        let status = with_details(Code::InvalidArgument, "x".repeat(100_000), info(), violations);
        assert!(status.message().len() < MAX_MESSAGE_BYTES + 64, "{}", status.message().len());
        let listed = field_violations(&status);
        assert_eq!(listed.len(), MAX_LISTED_VIOLATIONS + 1);
        assert_eq!(listed.last().unwrap().description, "and 9980 more violations");
        assert!(status.details().len() < 4096, "{}", status.details().len());
    }

    #[test]
    fn quotes_are_short_whatever_the_input() {
        assert_eq!(quote("ann@example"), "\"ann@example\"");
        let long = "x".repeat(5000);
        let quoted = quote(&long);
        assert!(quoted.len() < 100, "{quoted}");
        assert!(quoted.ends_with("... (5000 characters)"), "{quoted}");
    }

    #[test]
    fn details_survive_a_round_trip_through_status() {
        let info = ErrorInfo {
            reason: "IMAGE_TOO_LARGE".into(),
            domain: "media.accommador".into(),
            metadata: HashMap::from([("limit_bytes".into(), "2621440".into())]),
        };
        let violations = vec![FieldViolation::new("data", "3145728 bytes; the limit is 2621440")];
        let status = with_details(Code::InvalidArgument, "too large", info.clone(), violations.clone());
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(error_info(&status), Some(info));
        let received: Vec<(String, String)> =
            field_violations(&status).into_iter().map(|v| (v.field, v.description)).collect();
        assert_eq!(received, vec![("data".to_owned(), violations[0].description.clone())]);
    }

    #[test]
    fn no_bad_request_without_violations() {
        let info = ErrorInfo { reason: "X".into(), domain: "d".into(), metadata: HashMap::new() };
        let status = with_details(Code::NotFound, "gone", info, vec![]);
        assert!(status.get_error_details().bad_request().is_none());
    }
}
