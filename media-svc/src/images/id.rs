//! Image ids: content hashes, so the same bytes from the same tenant are the
//! same image, and ids of different tenants never collide or correlate.

use accommador_proto::status::quote;
use std::fmt;

use accommador_proto::tenant::TenantId;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageId(String);

/// Length of an id: SHA-256 in lowercase hex.
pub const IMAGE_ID_LEN: usize = 64;

impl ImageId {
    /// The id of `bytes` uploaded by `tenant`.
    pub fn of(tenant: &TenantId, bytes: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"accommador-image-v1\0");
        hasher.update(tenant.as_str().as_bytes());
        hasher.update(b"\0");
        hasher.update(bytes);
        Self(hex::encode(hasher.finalize()))
    }

    /// Accepts exactly 64 lowercase hex characters; the message says what is expected.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() == IMAGE_ID_LEN && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!("{} is not an image id ({IMAGE_ID_LEN} lowercase hex characters)", quote(raw)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_tenant_same_id_and_tenants_differ() {
        let acme = TenantId::parse("acme").unwrap();
        let other = TenantId::parse("other").unwrap();
        assert_eq!(ImageId::of(&acme, b"x"), ImageId::of(&acme, b"x"));
        assert_ne!(ImageId::of(&acme, b"x"), ImageId::of(&other, b"x"));
        assert_ne!(ImageId::of(&acme, b"x"), ImageId::of(&acme, b"y"));
    }

    #[test]
    fn parse_accepts_only_lowercase_hex_of_the_right_length() {
        let id = ImageId::of(&TenantId::parse("t").unwrap(), b"x");
        assert_eq!(ImageId::parse(id.as_str()), Ok(id.clone()));
        assert!(ImageId::parse(&id.as_str().to_uppercase()).is_err());
        assert!(ImageId::parse(&id.as_str()[1..]).is_err());
        assert!(ImageId::parse("../../etc/passwd").is_err());
    }
}
