//! The tenant and request id that travel in the metadata of every call.

use std::fmt;

use tonic::metadata::MetadataMap;

/// Metadata key naming the tenant (a CRM location or sub-account) a call acts for.
pub const TENANT_ID_HEADER: &str = "x-tenant-id";

/// Metadata key carrying a caller-chosen id that ties together the logs of one
/// user action across both services.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest tenant id accepted.
pub const TENANT_ID_MAX_LEN: usize = 64;

/// A tenant id that has been checked: 1 to 64 characters from `A-Z a-z 0-9 - _`.
///
/// Tenant ids end up in object keys and log lines, so nothing outside that
/// alphabet is ever let through.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

/// Why a tenant id was refused; its `Display` is written for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantIdError {
    Missing,
    /// Sent this many times: which one would count is anyone's guess (a
    /// proxy may add one, a server may read the first or the last), so none does.
    Repeated(usize),
    NotAscii,
    Empty,
    TooLong(usize),
    BadCharacter(char),
}

impl fmt::Display for TenantIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "metadata `{TENANT_ID_HEADER}` is required"),
            Self::Repeated(times) => {
                write!(f, "metadata `{TENANT_ID_HEADER}` was sent {times} times; it must be sent once")
            }
            Self::NotAscii => write!(f, "metadata `{TENANT_ID_HEADER}` must be ASCII"),
            Self::Empty => {
                write!(f, "metadata `{TENANT_ID_HEADER}` is empty; it needs 1 to {TENANT_ID_MAX_LEN} characters")
            }
            Self::TooLong(len) => {
                write!(f, "metadata `{TENANT_ID_HEADER}` is {len} characters; the limit is {TENANT_ID_MAX_LEN}")
            }
            Self::BadCharacter(c) => {
                write!(f, "metadata `{TENANT_ID_HEADER}` contains {c:?}; only letters, digits, '-' and '_' are allowed")
            }
        }
    }
}

impl std::error::Error for TenantIdError {}

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, TenantIdError> {
        if raw.is_empty() {
            return Err(TenantIdError::Empty);
        }
        if raw.len() > TENANT_ID_MAX_LEN {
            return Err(TenantIdError::TooLong(raw.chars().count()));
        }
        if let Some(bad) = raw.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            return Err(TenantIdError::BadCharacter(bad));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Reads the tenant from a call's metadata, which must name exactly one.
    pub fn from_metadata(metadata: &MetadataMap) -> Result<Self, TenantIdError> {
        let value = single(metadata, TENANT_ID_HEADER).map_err(TenantIdError::Repeated)?;
        Self::parse(value.ok_or(TenantIdError::Missing)?.to_str().map_err(|_| TenantIdError::NotAscii)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one value of metadata `key`, if sent; `Err(n)` when it was sent `n`
/// times. For every key whose value decides who the caller is or acts for:
/// reading the first of several would let whoever adds one (a client
/// library, a proxy) change the answer without anyone noticing.
pub fn single<'a>(
    metadata: &'a MetadataMap,
    key: &'static str,
) -> Result<Option<&'a tonic::metadata::MetadataValue<tonic::metadata::Ascii>>, usize> {
    let mut values = metadata.get_all(key).iter();
    let first = values.next();
    match values.count() {
        0 => Ok(first),
        more => Err(more + 1),
    }
}

/// Metadata key of the caller's deadline (gRPC over HTTP/2: an integer of at
/// most 8 digits and a unit, e.g. `250m` for 250 milliseconds).
pub const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

/// The time the caller allows for a call, when it set a deadline.
pub fn grpc_timeout(metadata: &MetadataMap) -> Option<std::time::Duration> {
    parse_grpc_timeout(metadata.get(GRPC_TIMEOUT_HEADER)?.to_str().ok()?)
}

/// Parses a `grpc-timeout` value such as `250m`.
pub fn parse_grpc_timeout(raw: &str) -> Option<std::time::Duration> {
    let (digits, unit) = raw.split_at(raw.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    use std::time::Duration;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// Longest request id taken from a caller; a longer one is replaced by a fresh id.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The request id of a call, when the caller sent a printable one.
pub fn request_id(metadata: &MetadataMap) -> Option<&str> {
    metadata
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_letters_digits_dash_underscore_up_to_64() {
        assert!(TenantId::parse("loc_42-A").is_ok());
        assert!(TenantId::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_foreign_characters() {
        assert_eq!(TenantId::parse(""), Err(TenantIdError::Empty));
        assert_eq!(TenantId::parse(&"a".repeat(65)), Err(TenantIdError::TooLong(65)));
        assert_eq!(TenantId::parse("a/b"), Err(TenantIdError::BadCharacter('/')));
        assert_eq!(TenantId::parse("ä"), Err(TenantIdError::BadCharacter('ä')));
    }

    #[test]
    fn reads_grpc_timeouts_in_every_unit_and_ignores_malformed_ones() {
        use std::time::Duration;
        let timeout = |raw: &str| {
            let mut metadata = MetadataMap::new();
            metadata.insert(GRPC_TIMEOUT_HEADER, raw.parse().unwrap());
            grpc_timeout(&metadata)
        };
        assert_eq!(timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout("5n"), Some(Duration::from_nanos(5)));
        assert_eq!(timeout("123456789m"), None, "at most 8 digits");
        assert_eq!(timeout("10x"), None);
        assert_eq!(timeout("S"), None);
        assert_eq!(grpc_timeout(&MetadataMap::new()), None);
    }

    #[test]
    fn reads_tenant_from_metadata_and_reports_absence() {
        let mut metadata = MetadataMap::new();
        assert_eq!(TenantId::from_metadata(&metadata), Err(TenantIdError::Missing));
        metadata.insert(TENANT_ID_HEADER, "acme".parse().unwrap());
        assert_eq!(TenantId::from_metadata(&metadata).unwrap().as_str(), "acme");
    }

    #[test]
    fn a_tenant_sent_twice_is_refused_even_when_both_agree() {
        for second in ["globex", "acme"] {
            let mut metadata = MetadataMap::new();
            metadata.append(TENANT_ID_HEADER, "acme".parse().unwrap());
            metadata.append(TENANT_ID_HEADER, second.parse().unwrap());
            let error = TenantId::from_metadata(&metadata).unwrap_err();
            assert_eq!(error, TenantIdError::Repeated(2));
            assert_eq!(error.to_string(), "metadata `x-tenant-id` was sent 2 times; it must be sent once");
        }
    }
}
