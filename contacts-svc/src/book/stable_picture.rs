//! The picture behind a stable URL (`stable_urls`): its signed object URL
//! while the picture is stored, nothing once it is released, taken down or
//! erased. Stable URLs are public (an `<img src>` sends no credentials), so
//! the HMAC of the URL, checked before this is called, is the only
//! authorization; the answer names no contact.

use std::time::SystemTime;

use super::{
    ContactBook,
    stable_urls::{StablePicture, UrlKey},
};
use crate::{context::RequestContext, domain::Picture, error::Error};

/// How picture URLs are made: the address stable URLs start with and the
/// keys that sign them (see `stable_urls`), and how many signed pictures
/// are kept between reads (see `signed_pictures`).
#[derive(Debug, Clone)]
pub struct PictureUrlSettings {
    /// PUBLIC_URL: where clients reach this service's HTTP endpoint.
    pub public_url: String,
    /// PICTURE_URL_KEYS, the first signing.
    pub keys: Vec<UrlKey>,
    /// PICTURE_URL_CACHE_ENTRIES (0: none kept).
    pub signed_cache_entries: usize,
    /// PICTURE_URL_TTL, which the cache keeps half of.
    pub ttl: std::time::Duration,
}

/// Where a stable URL sends the browser, and until when that holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureRedirect {
    pub url: String,
    pub expire_time: SystemTime,
}

impl ContactBook {
    /// Adds the stable URL of each rendition of a signed picture.
    pub(super) fn with_stable_urls(
        &self,
        tenant: &accommador_proto::tenant::TenantId,
        mut picture: Picture,
    ) -> Picture {
        for rendition in &mut picture.renditions {
            rendition.stable_url = self.stable_urls.url(tenant, &picture.image_id, rendition.size);
        }
        picture
    }

    /// The picture a stable URL's path segments name, when this service
    /// signed exactly them.
    pub fn verify_stable_url(&self, tenant: &str, image_id: &str, size: &str, signed: &str) -> Option<StablePicture> {
        self.stable_urls.verify(tenant, image_id, size, signed)
    }

    /// A freshly signed URL of the rendition, or `None` when the picture is
    /// no longer stored or has no rendition of that size.
    pub async fn resolve_stable_url(
        &self,
        picture: &StablePicture,
        request_id: String,
    ) -> Result<Option<PictureRedirect>, Error> {
        let context = RequestContext::background(picture.tenant.clone(), request_id);
        let Some(signed) = self.media.sign_if_stored(&context, &picture.image_id).await? else { return Ok(None) };
        let expire_time = signed.url_expire_time;
        Ok(signed
            .renditions
            .into_iter()
            .find(|rendition| rendition.size == picture.size)
            .zip(expire_time)
            .map(|(rendition, expire_time)| PictureRedirect { url: rendition.url, expire_time }))
    }
}
