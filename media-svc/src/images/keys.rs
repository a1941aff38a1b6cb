//! The bucket layout. Every key starts with the tenant and holds nothing a
//! client typed: image ids are content hashes, owners are hashed.
//!
//! ```text
//! {tenant}/images/{image_id}/original        the validated upload, never signed
//! {tenant}/images/{image_id}/{size}.{ext}    renditions
//! {tenant}/images/{image_id}/manifest.json   written last: the image is complete
//! {tenant}/images/{image_id}/claims/{owner}  one per owner (hashed owner id)
//! {tenant}/images/{image_id}/deleting/{janitor}  a janitor is deleting the image
//! {tenant}/pending/{image_id}                lease of an unclaimed upload (its time)
//! {tenant}/released/{image_id}               a release began (its time); see `release.rs`
//! ```

use accommador_proto::tenant::TenantId;
use sha2::{Digest, Sha256};

use super::ImageId;

pub fn image_prefix(tenant: &TenantId, image: &ImageId) -> String {
    format!("{tenant}/images/{image}/")
}

pub fn original(tenant: &TenantId, image: &ImageId) -> String {
    format!("{}original", image_prefix(tenant, image))
}

pub fn rendition(tenant: &TenantId, image: &ImageId, size: u32, extension: &str) -> String {
    format!("{}{size}.{extension}", image_prefix(tenant, image))
}

pub fn manifest(tenant: &TenantId, image: &ImageId) -> String {
    format!("{}manifest.json", image_prefix(tenant, image))
}

pub fn claims_prefix(tenant: &TenantId, image: &ImageId) -> String {
    format!("{}claims/", image_prefix(tenant, image))
}

/// Owner ids come from clients; only their hash enters the key.
pub fn claim(tenant: &TenantId, image: &ImageId, owner: &str) -> String {
    let digest = Sha256::digest(owner.as_bytes());
    format!("{}{}", claims_prefix(tenant, image), hex::encode(&digest[..16]))
}

pub fn deleting_prefix(tenant: &TenantId, image: &ImageId) -> String {
    format!("{}deleting/", image_prefix(tenant, image))
}

pub fn deleting(tenant: &TenantId, image: &ImageId, janitor: &str) -> String {
    format!("{}{janitor}", deleting_prefix(tenant, image))
}

pub fn pending_prefix(tenant: &TenantId) -> String {
    format!("{tenant}/pending/")
}

/// The one lease of an image as versions before per-upload leases wrote
/// it (its body: when it was written); also the prefix of every lease of
/// the image, since image ids have one length.
pub fn pending(tenant: &TenantId, image: &ImageId) -> String {
    format!("{}{image}", pending_prefix(tenant))
}

/// The lease one upload wrote, named by when it ends (milliseconds since the
/// epoch): a claim that names that time ends exactly this lease and no
/// other upload's. A sibling of the older single lease, not below it: a
/// file-backed store cannot hold both `x` and `x/y`.
pub fn upload_lease(tenant: &TenantId, image: &ImageId, expires_millis: u64) -> String {
    format!("{}.{expires_millis}", pending(tenant, image))
}

/// The image a lease key belongs to (either form), if it is one.
pub fn leased_image(tenant: &TenantId, key: &str) -> Option<String> {
    let rest = key.strip_prefix(&pending_prefix(tenant))?;
    Some(rest.split('.').next().unwrap_or(rest).to_owned())
}

pub fn released_prefix(tenant: &TenantId) -> String {
    format!("{tenant}/released/")
}

pub fn released(tenant: &TenantId, image: &ImageId) -> String {
    format!("{}{image}", released_prefix(tenant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_start_with_the_tenant_and_hide_owner_ids() {
        let tenant = TenantId::parse("acme").unwrap();
        let image = ImageId::parse(&"ab".repeat(32)).unwrap();
        let key = claim(&tenant, &image, "../../etc/passwd");
        assert!(key.starts_with("acme/images/"), "{key}");
        assert!(!key.contains("passwd") && !key.contains(".."), "{key}");
        assert_eq!(pending(&tenant, &image), format!("acme/pending/{image}"));
    }
}
