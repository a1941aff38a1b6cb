//! Signed URLs that caches can keep: within a time bucket of TTL/2 the same
//! image and TTL sign to byte-identical URLs, and each URL handed out stays
//! valid for at least TTL/2.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use accommador_proto::tenant::TenantId;

use super::{ImageId, ImageLibrary, Manifest, RenditionEntry};
use crate::{error::Error, pipeline::Preview};

/// A checked URL lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlTtl(Duration);

impl UrlTtl {
    /// Two seconds: signing times are whole seconds rounded down to a
    /// bucket of at least one second, so a 1-second URL could be handed out
    /// with milliseconds left; from two seconds on, at least half remains.
    pub const MIN: Duration = Duration::from_secs(2);
    /// SigV4 presigned URLs cannot live longer.
    pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);
    pub const DEFAULT: Duration = Duration::from_secs(3600);

    pub fn parse(ttl: Duration) -> Result<Self, String> {
        if (Self::MIN..=Self::MAX).contains(&ttl) {
            Ok(Self(ttl))
        } else {
            Err(format!(
                "ttl is {}; it must be between {} and {}",
                humantime::format_duration(ttl),
                humantime::format_duration(Self::MIN),
                humantime::format_duration(Self::MAX)
            ))
        }
    }

    pub fn get(self) -> Duration {
        self.0
    }

    /// The signing time for `now`: rounded down to a multiple of TTL/2
    /// (whole seconds, as SigV4 dates are).
    pub fn bucket_start(self, now: SystemTime) -> SystemTime {
        let bucket = (self.0.as_secs() / 2).max(1);
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        UNIX_EPOCH + Duration::from_secs(since_epoch - since_epoch % bucket)
    }
}

impl Default for UrlTtl {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

#[derive(Debug, Clone)]
pub struct SignedRendition {
    pub rendition: RenditionEntry,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct SignedImage {
    pub id: ImageId,
    pub renditions: Vec<SignedRendition>,
    pub expires_at: SystemTime,
    /// As stored in the manifest (`None` for images stored before previews).
    pub preview: Option<Preview>,
}

/// What [`ImageLibrary::sign`] does with an id it does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingIds {
    /// All or nothing (AIP-231): the first unknown id fails the call with NOT_FOUND.
    Fail,
    /// Leave it out and list it: a page of pictures loses only the ones that are gone.
    Skip,
}

/// The answer of [`ImageLibrary::sign`].
#[derive(Debug, Clone, Default)]
pub struct SignedBatch {
    /// One per requested id that exists, in request order (duplicates twice).
    pub images: Vec<SignedImage>,
    /// With [`MissingIds::Skip`]: the unknown ids, each once, in request order.
    pub missing: Vec<ImageId>,
}

/// URLs already signed in the current time buckets. Within a bucket the
/// same object and TTL sign to the same URL, so a list page shown again
/// (the common case: the inbox refreshes, people page back) costs a cache
/// lookup per URL instead of a SigV4 signature (about 6 µs).
///
/// Entries need no expiry: the key holds the bucket's start, so once a
/// bucket ends nothing asks for its entries again, and they are the cold
/// ones the capacity bound evicts. quick_cache rather than moka: measured
/// with `url_cache_speed` in `signing/tests.rs` (release, 100,000 keys, a loaded 2-core
/// machine), a hit costs about 0.25 µs with quick_cache, 0.36 µs with the
/// former mutex-guarded map, and 0.9 to 1.2 µs with moka.
pub(crate) struct UrlCache {
    entries: quick_cache::sync::Cache<UrlKey, String>,
}

/// Object key, signing time (the bucket's start) and TTL.
type UrlKey = (String, SystemTime, Duration);

/// Enough for every picture of a busy replica's hour. The bound holds
/// whatever callers do: a caller asking for many distinct TTLs makes more
/// entries per object, and the least recently used go first.
const URL_CACHE_CAPACITY: usize = 200_000;

impl Default for UrlCache {
    fn default() -> Self {
        Self::with_capacity(URL_CACHE_CAPACITY)
    }
}

impl UrlCache {
    fn with_capacity(capacity: usize) -> Self {
        Self { entries: quick_cache::sync::Cache::new(capacity) }
    }

    fn get_or_sign(
        &self,
        key: String,
        start: SystemTime,
        ttl: Duration,
        sign: impl FnOnce(&str) -> Result<String, Error>,
    ) -> Result<String, Error> {
        let cache_key = (key, start, ttl);
        if let Some(url) = self.entries.get(&cache_key) {
            return Ok(url);
        }
        let url = sign(&cache_key.0)?;
        self.entries.insert(cache_key, url.clone());
        Ok(url)
    }

    /// Drops every URL of objects under `prefix` (a deleted image). Walks the
    /// whole cache, a few milliseconds at capacity: deletions are rare.
    pub(super) fn forget(&self, prefix: &str) {
        self.entries.retain(|(key, _, _), _| !key.starts_with(prefix));
    }
}

/// Manifest reads in flight at once for one signing call.
const PARALLEL_MANIFEST_READS: usize = 16;

impl ImageLibrary {
    /// Signed URLs of every rendition of `ids`, in order. An unknown id (or
    /// another tenant's) fails the call or is skipped, as `missing` says.
    pub async fn sign(
        &self,
        tenant: &TenantId,
        ids: &[ImageId],
        ttl: UrlTtl,
        missing: MissingIds,
    ) -> Result<SignedBatch, Error> {
        let mut batch = SignedBatch { images: Vec::with_capacity(ids.len()), missing: Vec::new() };
        let start = ttl.bucket_start(SystemTime::now());
        for chunk in ids.chunks(PARALLEL_MANIFEST_READS) {
            let found = futures::future::try_join_all(chunk.iter().map(|id| self.manifest(tenant, id))).await?;
            for (id, manifest) in chunk.iter().zip(found) {
                match (manifest, missing) {
                    (Some(manifest), _) => batch.images.push(self.sign_image(tenant, id, &manifest, start, ttl)?),
                    (None, MissingIds::Fail) => return Err(Error::NotFound { image_id: id.to_string() }),
                    (None, MissingIds::Skip) if batch.missing.contains(id) => {}
                    (None, MissingIds::Skip) => batch.missing.push(id.clone()),
                }
            }
        }
        Ok(batch)
    }

    fn sign_image(
        &self,
        tenant: &TenantId,
        id: &ImageId,
        manifest: &Manifest,
        start: SystemTime,
        ttl: UrlTtl,
    ) -> Result<SignedImage, Error> {
        let mut renditions = Vec::with_capacity(manifest.renditions.len());
        for rendition in &manifest.renditions {
            let url = self.urls.get_or_sign(rendition.key(tenant, id), start, ttl.get(), |key| {
                Ok(self.store().presign_get(key, start, ttl.get())?)
            })?;
            renditions.push(SignedRendition { rendition: rendition.clone(), url });
        }
        metrics::counter!("media_signed_urls_total").increment(renditions.len() as u64);
        Ok(SignedImage { id: id.clone(), renditions, expires_at: start + ttl.get(), preview: manifest.preview.clone() })
    }
}

#[cfg(test)]
mod tests;
