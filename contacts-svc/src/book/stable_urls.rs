//! Picture URLs that never expire: `{PUBLIC_URL}/pictures/{tenant}/{image}/{size}/{key id}.{tag}`.
//! contacts-svc answers them itself (`crate::web::pictures`) with a
//! redirect to a freshly signed object URL, so a page or a cache may keep
//! them for good.
//!
//! The tag is an HMAC-SHA256 over the tenant, the image id and the size,
//! cut to 128 bits: a URL cannot be made up for another image, tenant or
//! size, and it names the key that signed it, not the key. Keys rotate by
//! id: the first key signs; every key listed (and the key kept in the
//! database, which signs when none is configured) still verifies, so URLs
//! handed out before a rotation keep working while their key stays listed.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use accommador_proto::tenant::TenantId;

/// Name of the key kept in the `server_key` table, and its key id in URLs.
pub const STORED_KEY_NAME: &str = "picture_url_v1";
pub const STORED_KEY_ID: &str = "db";
/// The path every stable URL starts with.
pub const PATH_PREFIX: &str = "/pictures/";
/// Bytes of the HMAC kept in the URL: 128 bits cannot be guessed.
const TAG_BYTES: usize = 16;
/// Longest key id accepted in configuration and read from a URL.
pub const MAX_KEY_ID_LEN: usize = 16;
/// Largest size a URL may name: renditions are 128 and 512 pixels, and the
/// bound keeps a made-up path from parsing into anything large.
const MAX_SIZE: u32 = 4096;

/// One key: its id (named in URLs) and its secret.
#[derive(Clone)]
pub struct UrlKey {
    pub id: String,
    pub secret: SecretSlice<u8>,
}

impl UrlKey {
    /// Reads one `id:base64url-secret` entry of PICTURE_URL_KEYS.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let (id, secret) = entry
            .split_once(':')
            .ok_or_else(|| "each PICTURE_URL_KEYS entry is `id:secret` (secret in base64url)".to_owned())?;
        let id = id.trim();
        if id.is_empty()
            || id.len() > MAX_KEY_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_alphanumeric())
            || id == STORED_KEY_ID
        {
            return Err(format!(
                "a PICTURE_URL_KEYS id is 1 to {MAX_KEY_ID_LEN} letters or digits other than `{STORED_KEY_ID}`"
            ));
        }
        let secret = URL_SAFE_NO_PAD
            .decode(secret.trim().trim_end_matches('='))
            .map_err(|_| format!("the secret of PICTURE_URL_KEYS key `{id}` is not base64url"))?;
        if secret.len() < 32 {
            return Err(format!(
                "the secret of PICTURE_URL_KEYS key `{id}` is {} bytes; it needs at least 32",
                secret.len()
            ));
        }
        Ok(Self { id: id.to_owned(), secret: secret.into() })
    }
}

impl std::fmt::Debug for UrlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// What a verified stable URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StablePicture {
    pub tenant: TenantId,
    pub image_id: String,
    pub size: u32,
}

/// Issues and verifies stable URLs.
#[derive(Debug, Clone)]
pub struct StableUrls {
    /// `PUBLIC_URL` without a trailing slash.
    base: String,
    /// The first signs; all verify.
    keys: Vec<UrlKey>,
}

impl StableUrls {
    /// `configured` first (the first of them signs), then the stored key.
    pub fn new(public_url: &str, configured: Vec<UrlKey>, stored: Vec<u8>) -> Self {
        let mut keys = configured;
        keys.push(UrlKey { id: STORED_KEY_ID.to_owned(), secret: stored.into() });
        Self { base: public_url.trim_end_matches('/').to_owned(), keys }
    }

    pub fn url(&self, tenant: &TenantId, image_id: &str, size: u32) -> String {
        let key = &self.keys[0];
        let tag = URL_SAFE_NO_PAD.encode(tag(key, tenant.as_str(), image_id, size));
        format!("{}{PATH_PREFIX}{}/{image_id}/{size}/{}.{tag}", self.base, tenant.as_str(), key.id)
    }

    /// The picture a URL's path segments name, when a listed key signed
    /// exactly them; `None` for anything else (made up, altered, unknown key).
    pub fn verify(&self, tenant: &str, image_id: &str, size: &str, signed: &str) -> Option<StablePicture> {
        let tenant = TenantId::parse(tenant).ok()?;
        if image_id.len() != 64 || !image_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        if size.is_empty() || size.len() > 4 || !size.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Canonical digits only: one picture, one URL per size ("0128" is not 128).
        let size: u32 =
            size.parse().ok().filter(|parsed| (1..=MAX_SIZE).contains(parsed) && parsed.to_string() == size)?;
        let (key_id, encoded) = signed.split_once('.')?;
        let key = self.keys.iter().find(|key| key.id == key_id)?;
        let given = URL_SAFE_NO_PAD.decode(encoded).ok().filter(|tag| tag.len() == TAG_BYTES)?;
        mac(key, tenant.as_str(), image_id, size).verify_truncated_left(&given).ok()?;
        Some(StablePicture { tenant, image_id: image_id.to_owned(), size })
    }
}

fn mac(key: &UrlKey, tenant: &str, image_id: &str, size: u32) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.secret.expose_secret()).expect("HMAC takes any key length");
    // Unambiguous: tenant ids and image ids have no NUL.
    for part in ["accommador-picture-url-v1", tenant, image_id, &size.to_string()] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac
}

fn tag(key: &UrlKey, tenant: &str, image_id: &str, size: u32) -> Vec<u8> {
    mac(key, tenant, image_id, size).finalize().into_bytes()[..TAG_BYTES].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "79e42554a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbcc";

    fn key(id: &str, byte: u8) -> UrlKey {
        UrlKey { id: id.into(), secret: vec![byte; 32].into() }
    }

    fn parts(url: &str) -> Vec<String> {
        let path = url.split_once(PATH_PREFIX).expect("the prefix").1;
        path.split('/').map(str::to_owned).collect()
    }

    fn verify(urls: &StableUrls, url: &str) -> Option<StablePicture> {
        let p = parts(url);
        urls.verify(&p[0], &p[1], &p[2], &p[3])
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn a_url_verifies_to_what_it_names_and_names_no_secret() {
        let urls = StableUrls::new("http://127.0.0.1:50051/", vec![], vec![7; 32]);
        let url = urls.url(&acme(), IMAGE, 128);
        assert!(url.starts_with("http://127.0.0.1:50051/pictures/acme/"), "{url}");
        assert!(url.ends_with(&format!("/128/{STORED_KEY_ID}.{}", parts(&url)[3].split('.').nth(1).unwrap())));
        assert_eq!(verify(&urls, &url), Some(StablePicture { tenant: acme(), image_id: IMAGE.into(), size: 128 }));
        assert_eq!(url, urls.url(&acme(), IMAGE, 128), "stable: the same URL every time");
    }

    #[test]
    fn an_altered_tenant_image_size_or_tag_does_not_verify() {
        let urls = StableUrls::new("http://x", vec![], vec![7; 32]);
        let p = parts(&urls.url(&acme(), IMAGE, 128));
        let other_image = IMAGE.replace("79e4", "79e5");
        let (key_id, tag) = p[3].split_once('.').unwrap();
        let mut flipped = URL_SAFE_NO_PAD.decode(tag).unwrap();
        flipped[15] ^= 1;
        let flipped = format!("{key_id}.{}", URL_SAFE_NO_PAD.encode(flipped));
        for (tenant, image, size, signed) in [
            ("globex", IMAGE, "128", p[3].as_str()),
            ("acme", other_image.as_str(), "128", p[3].as_str()),
            ("acme", IMAGE, "512", p[3].as_str()),
            ("acme", IMAGE, "0128", p[3].as_str()),
            ("acme", IMAGE, "128", flipped.as_str()),
            ("acme", IMAGE, "128", "other.AAAAAAAAAAAAAAAAAAAAAA"),
            ("acme", IMAGE, "128", "db"),
            ("acme", IMAGE, "99999999999", p[3].as_str()),
            ("ac/me", IMAGE, "128", p[3].as_str()),
        ] {
            assert_eq!(urls.verify(tenant, image, size, signed), None, "{tenant} {image} {size} {signed}");
        }
        let other_deployment = StableUrls::new("http://x", vec![], vec![8; 32]);
        assert_eq!(other_deployment.verify(&p[0], &p[1], &p[2], &p[3]), None, "another key does not verify");
    }

    #[test]
    fn rotating_keys_keeps_urls_already_handed_out() {
        let before = StableUrls::new("http://x", vec![key("k1", 1)], vec![7; 32]);
        let old_url = before.url(&acme(), IMAGE, 512);
        assert!(parts(&old_url)[3].starts_with("k1."), "{old_url}");
        let after = StableUrls::new("http://x", vec![key("k2", 2), key("k1", 1)], vec![7; 32]);
        let new_url = after.url(&acme(), IMAGE, 512);
        assert!(parts(&new_url)[3].starts_with("k2."), "the new key signs: {new_url}");
        assert!(verify(&after, &old_url).is_some(), "the old URL still works");
        let unconfigured = StableUrls::new("http://x", vec![], vec![7; 32]);
        assert!(verify(&after, &unconfigured.url(&acme(), IMAGE, 512)).is_some(), "the stored key always verifies");
        let retired = StableUrls::new("http://x", vec![key("k2", 2)], vec![7; 32]);
        assert_eq!(verify(&retired, &old_url), None, "a key taken off the list no longer verifies");
    }

    #[test]
    fn configured_keys_are_checked() {
        let good = format!("k1:{}", URL_SAFE_NO_PAD.encode([3u8; 32]));
        assert_eq!(UrlKey::parse(&good).unwrap().id, "k1");
        for (entry, complaint) in [
            ("k1".to_owned(), "`id:secret`"),
            (format!("k1:{}", URL_SAFE_NO_PAD.encode([3u8; 16])), "16 bytes; it needs at least 32"),
            ("k1:not base64!".to_owned(), "not base64url"),
            (format!("db:{}", URL_SAFE_NO_PAD.encode([3u8; 32])), "other than `db`"),
            (format!("k-1:{}", URL_SAFE_NO_PAD.encode([3u8; 32])), "letters or digits"),
        ] {
            let error = UrlKey::parse(&entry).unwrap_err();
            assert!(error.contains(complaint), "{entry}: {error}");
        }
        assert!(!format!("{:?}", UrlKey::parse(&good).unwrap()).contains("AwMD"), "Debug shows no secret");
    }
}
