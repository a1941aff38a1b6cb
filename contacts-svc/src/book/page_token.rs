//! The Smart List's opaque page token: where the last page ended and which
//! query it belongs to, signed with HMAC-SHA256 over the tenant and that
//! content. A token that was forged, altered or issued to another tenant
//! fails the signature and is refused as invalid; the key is shared by all
//! replicas through the database (`server_key`), so any replica can
//! continue a listing another began.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{error::Error, store::ListCursor};

/// Name of the signing key in the `server_key` table.
pub const KEY_NAME: &str = "page_token_v1";
/// Longest token read; ours are about 150 characters.
const MAX_TOKEN_LEN: usize = 512;

/// What a token says, serialized as JSON (short keys: tokens travel in URLs).
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct PageToken {
    /// Creation time of the last contact on the page.
    #[serde(rename = "t")]
    create_time_us: i64,
    /// Its id.
    #[serde(rename = "i")]
    contact_id: String,
    /// A short hash of the query, so a token is not reused with another one.
    #[serde(rename = "q")]
    query_key: String,
}

#[derive(Clone)]
pub struct PageTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageTokens").finish_non_exhaustive()
    }
}

impl PageTokens {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// A fresh random key, for the first replica to store.
    pub fn fresh_key() -> Vec<u8> {
        let mut key = vec![0; 32];
        getrandom::fill(&mut key).expect("the OS provides randomness");
        key
    }

    pub fn issue(&self, tenant: &str, query: &str, cursor: &ListCursor) -> String {
        let token = PageToken {
            create_time_us: cursor.create_time_us,
            contact_id: cursor.contact_id.clone(),
            query_key: query_key(query),
        };
        let json = serde_json::to_vec(&token).expect("a page token serializes");
        let signature = self.mac(tenant, &json).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&json), URL_SAFE_NO_PAD.encode(signature))
    }

    pub fn open(&self, tenant: &str, query: &str, token: &str) -> Result<ListCursor, Error> {
        let invalid =
            || Error::invalid_field("page_token", "page_token is not a token this service issued to this tenant");
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid());
        }
        let (json, signature) = token.split_once('.').ok_or_else(invalid)?;
        let json = URL_SAFE_NO_PAD.decode(json).map_err(|_| invalid())?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid())?;
        // Constant-time comparison: no timing tells how much of a forgery was right.
        self.mac(tenant, &json).verify_slice(&signature).map_err(|_| invalid())?;
        let token: PageToken = serde_json::from_slice(&json).map_err(|_| invalid())?;
        if token.query_key != query_key(query) {
            return Err(Error::invalid_field("page_token", "page_token was issued for a different query"));
        }
        Ok(ListCursor { create_time_us: token.create_time_us, contact_id: token.contact_id })
    }

    fn mac(&self, tenant: &str, content: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        // The length prefix keeps (tenant, content) pairs from running into each other.
        mac.update(&(tenant.len() as u64).to_be_bytes());
        mac.update(tenant.as_bytes());
        mac.update(content);
        mac
    }
}

fn query_key(query: &str) -> String {
    hex::encode(&Sha256::digest(query.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> ListCursor {
        ListCursor { create_time_us: 1_700_000_000_000_000, contact_id: "0192f0a0-0000-7000-8000-000000000001".into() }
    }

    #[test]
    fn a_token_opens_to_the_cursor_it_was_issued_for() {
        let tokens = PageTokens::new(PageTokens::fresh_key());
        let token = tokens.issue("acme", "ann", &cursor());
        assert_eq!(tokens.open("acme", "ann", &token).unwrap(), cursor());
        assert!(!token.contains(&cursor().contact_id), "opaque: no readable id in {token}");
    }

    #[test]
    fn a_token_of_another_tenant_is_refused() {
        let tokens = PageTokens::new(PageTokens::fresh_key());
        let token = tokens.issue("acme", "ann", &cursor());
        let other_tenant = tokens.open("globex", "ann", &token).unwrap_err();
        assert!(other_tenant.to_string().contains("not a token this service issued"), "{other_tenant}");
        let other_key = PageTokens::new(PageTokens::fresh_key()).open("acme", "ann", &token);
        assert!(other_key.is_err(), "another deployment's key does not open it");
    }

    #[test]
    fn a_token_of_another_query_is_refused() {
        let tokens = PageTokens::new(PageTokens::fresh_key());
        let token = tokens.issue("acme", "ann", &cursor());
        let other_query = tokens.open("acme", "bob", &token).unwrap_err();
        assert!(other_query.to_string().contains("different query"), "{other_query}");
    }

    #[test]
    fn an_altered_or_forged_token_is_refused() {
        let tokens = PageTokens::new(PageTokens::fresh_key());
        let token = tokens.issue("acme", "", &cursor());
        let (json, signature) = token.split_once('.').unwrap();
        let mut content: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(json).unwrap()).unwrap();
        content["t"] = serde_json::json!(0);
        let altered = format!("{}.{signature}", URL_SAFE_NO_PAD.encode(content.to_string()));
        assert!(tokens.open("acme", "", &altered).is_err());
        let unsigned = URL_SAFE_NO_PAD.encode(r#"{"t":0,"i":"x","q":"e3b0c44298fc1c14"}"#);
        assert!(tokens.open("acme", "", &unsigned).is_err());
        assert!(tokens.open("acme", "", &"A".repeat(10_000)).is_err());
    }
}
