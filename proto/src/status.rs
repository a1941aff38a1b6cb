//! Errors as AIP-193 wants them: a canonical code, a message a person can act
//! on, a `google.rpc.ErrorInfo` with a machine-readable reason, and at most one
//! `google.rpc.BadRequest` listing every field violation.

use std::{fmt, ops::Deref};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
pub use tonic_types::{ErrorInfo, FieldViolation};

/// Field violations listed in one error at most; the rest are counted.
pub const MAX_LISTED_VIOLATIONS: usize = 20;
/// Longest error message, in bytes: it travels in the `grpc-message` header,
/// which clients and proxies cap at a few KiB.
pub const MAX_MESSAGE_BYTES: usize = 2048;

/// Every field violation of one request, collected so that the caller hears
/// about all of them in one answer (AIP-193: at most one `BadRequest`).
/// Both services collect into it, and tests read a received status back
/// into it ([`field_violations`]).
#[derive(Debug, Clone, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// A request with exactly one thing wrong.
    pub fn one(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut violations = Self::new();
        violations.add(field, description);
        violations
    }

    /// `field` is the request field's path as the caller wrote it
    /// (`contact.tags[2]`); `description` says what is wrong and the limit.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// `value` when nothing was added, else the violations.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }

    /// The `Status` that lists them, with [`with_details`]' caps.
    pub fn into_status(self, code: Code, message: impl Into<String>, info: ErrorInfo) -> Status {
        with_details(code, message, info, self)
    }
}

/// `field: description; field: description`, for a status message or a log.
impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, violation) in self.0.iter().enumerate() {
            let separator = if index == 0 { "" } else { "; " };
            write!(f, "{separator}{}: {}", violation.field, violation.description)?;
        }
        Ok(())
    }
}

impl Deref for Violations {
    type Target = [FieldViolation];

    fn deref(&self) -> &[FieldViolation] {
        &self.0
    }
}

impl IntoIterator for Violations {
    type Item = FieldViolation;
    type IntoIter = std::vec::IntoIter<FieldViolation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a FieldViolation;
    type IntoIter = std::slice::Iter<'a, FieldViolation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<FieldViolation> for Violations {
    fn from_iter<I: IntoIterator<Item = FieldViolation>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Extend<FieldViolation> for Violations {
    fn extend<I: IntoIterator<Item = FieldViolation>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

/// Builds a `Status` carrying `ErrorInfo` and, when there are violations, one
/// `BadRequest`. At most [`MAX_LISTED_VIOLATIONS`] violations are listed and
/// the message is cut to [`MAX_MESSAGE_BYTES`], so no request can make its
/// own error large.
pub fn with_details(
    code: Code,
    message: impl Into<String>,
    info: ErrorInfo,
    violations: impl IntoIterator<Item = FieldViolation>,
) -> Status {
    let mut message = message.into();
    if message.len() > MAX_MESSAGE_BYTES {
        let total = message.len();
        message.truncate(message.floor_char_boundary(MAX_MESSAGE_BYTES));
        message.push_str(&format!("... ({total} bytes in all)"));
    }
    let mut violations: Vec<FieldViolation> = violations.into_iter().collect();
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
    status.get_error_details().error_info().cloned()
}

/// Reads the field violations of a status received from another service.
pub fn field_violations(status: &Status) -> Violations {
    let details = status.get_error_details();
    details.bad_request().map(|bad_request| bad_request.field_violations.iter().cloned().collect()).unwrap_or_default()
}

/// A byte count as people read it, and exactly: `4.2 MiB (4404019 bytes)`.
/// Binary units, as the limits are set (2.5 MiB is 2,621,440 bytes), so that
/// a size and its limit compare in the same unit; the exact count settles
/// the cases the rounding hides (one byte over).
pub fn byte_size(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let n = bytes as f64;
    if n >= KIB * KIB {
        format!("{:.1} MiB ({bytes} bytes)", n / (KIB * KIB))
    } else if n >= KIB {
        format!("{:.1} KiB ({bytes} bytes)", n / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The one sentence for a picture over its byte limit, whichever service
/// refuses it (media-svc's pipeline writes the same, checked by a test there).
pub fn picture_too_large(size: usize, limit: usize) -> String {
    format!("the picture is {}; the limit is {}", byte_size(size), byte_size(limit))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn info(reason: &str) -> ErrorInfo {
        ErrorInfo::new(reason, "d", HashMap::new())
    }

    #[test]
    fn an_error_stays_small_however_many_violations_it_has() {
        let mut violations = Violations::new();
        for n in 0..10_000 {
            violations.add(format!("ids[{n}]"), "bad");
        }
        let status = violations.into_status(Code::InvalidArgument, "x".repeat(100_000), info("X"));
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
        let metadata = HashMap::from([("limit_bytes".to_owned(), "2621440".to_owned())]);
        let info = ErrorInfo::new("IMAGE_TOO_LARGE", "media.accommador", metadata.clone());
        let violations = Violations::one("data", "3145728 bytes; the limit is 2621440");
        let status = violations.clone().into_status(Code::InvalidArgument, "too large", info);
        assert_eq!(status.code(), Code::InvalidArgument);
        let received = error_info(&status).expect("ErrorInfo attached");
        assert_eq!(
            (received.reason.as_str(), received.domain.as_str(), &received.metadata),
            ("IMAGE_TOO_LARGE", "media.accommador", &metadata)
        );
        let pairs = |violations: &Violations| -> Vec<(String, String)> {
            violations.iter().map(|v| (v.field.clone(), v.description.clone())).collect()
        };
        assert_eq!(pairs(&field_violations(&status)), pairs(&violations));
    }

    #[test]
    fn sizes_read_in_the_unit_of_the_limit_and_exactly() {
        assert_eq!(byte_size(4_404_019), "4.2 MiB (4404019 bytes)");
        assert_eq!(byte_size(2_621_440), "2.5 MiB (2621440 bytes)");
        assert_eq!(byte_size(65_536), "64.0 KiB (65536 bytes)");
        assert_eq!(byte_size(12), "12 bytes");
        assert_eq!(
            picture_too_large(2_621_441, 2_621_440),
            "the picture is 2.5 MiB (2621441 bytes); the limit is 2.5 MiB (2621440 bytes)"
        );
    }

    #[test]
    fn no_bad_request_without_violations() {
        let status = with_details(Code::NotFound, "gone", info("X"), Violations::new());
        assert!(status.get_error_details().bad_request().is_none());
    }

    #[test]
    fn violations_are_a_result_and_a_message() {
        assert_eq!(Violations::new().into_result(7).unwrap(), 7);
        let mut violations = Violations::one("ids[0]", "not an id");
        violations.add("ttl", "ttl is negative");
        assert_eq!(violations.to_string(), "ids[0]: not an id; ttl: ttl is negative");
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["ids[0]", "ttl"]);
        assert!(violations.into_result(()).is_err());
    }
}
