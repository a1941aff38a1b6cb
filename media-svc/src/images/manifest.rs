//! The manifest: what is stored for an image, written after every other
//! part so that its presence means "complete".

use std::{sync::Arc, time::Duration};

use accommador_proto::tenant::TenantId;
use serde::{Deserialize, Serialize};

use super::{ImageId, keys};
use crate::{
    error::Error,
    pipeline::{Format, ImageInfo, Normalized, Preview},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub info: ImageInfo,
    /// Smallest first.
    pub renditions: Vec<RenditionEntry>,
    /// The ThumbHash and dominant colour, computed at upload. `None` in
    /// manifests written before they existed: the API answers those fields
    /// empty. Uploading the same bytes again finds that manifest and does not
    /// add them: the image has them once it was deleted and uploaded anew.
    #[serde(default)]
    pub preview: Option<Preview>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenditionEntry {
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub format: Format,
}

impl RenditionEntry {
    pub fn key(&self, tenant: &TenantId, id: &ImageId) -> String {
        keys::rendition(tenant, id, self.size, self.format.extension())
    }
}

impl Manifest {
    pub fn of(normalized: &Normalized) -> Self {
        Self {
            info: normalized.info,
            renditions: normalized
                .renditions
                .iter()
                .map(|r| RenditionEntry { size: r.size, width: r.width, height: r.height, format: r.format })
                .collect(),
            preview: Some(normalized.preview.clone()),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifests always serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|error| Error::Internal(format!("unreadable image manifest: {error}")))
    }
}

/// Manifests never change for an id (ids are content hashes), so they can be
/// cached; the time limit only bounds how long a deleted image can still
/// get URLs signed on other replicas (they would fetch nothing).
pub(crate) struct ManifestCache {
    entries: moka::sync::Cache<(TenantId, ImageId), Arc<Manifest>>,
}

/// Manifests kept at most; beyond it the least used go first. A manifest is
/// about 300 bytes, so the cache stays under about 20 MB.
const CACHE_CAPACITY: u64 = 50_000;
/// How long a manifest is trusted without reading the bucket again. It
/// bounds how long a replica that did not delete an image (released or
/// swept) still signs URLs for it (they fetch nothing): half a minute, so a
/// release is seen everywhere within one. A page of pictures shown again
/// costs one manifest read per picture and half-minute, not one per call.
const CACHE_TTL: Duration = Duration::from_secs(30);

impl Default for ManifestCache {
    fn default() -> Self {
        let entries = moka::sync::Cache::builder().max_capacity(CACHE_CAPACITY).time_to_live(CACHE_TTL).build();
        Self { entries }
    }
}

impl ManifestCache {
    pub(crate) fn get(&self, tenant: &TenantId, id: &ImageId) -> Option<Arc<Manifest>> {
        self.entries.get(&(tenant.clone(), id.clone()))
    }

    pub(crate) fn insert(&self, tenant: &TenantId, id: &ImageId, manifest: Arc<Manifest>) {
        self.entries.insert((tenant.clone(), id.clone()), manifest);
    }

    pub(crate) fn remove(&self, tenant: &TenantId, id: &ImageId) {
        self.entries.invalidate(&(tenant.clone(), id.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Rgb;

    /// A manifest as media-svc wrote it before previews existed.
    const BEFORE_PREVIEWS: &str = r#"{"info":{"format":"jpeg","width":900,"height":700,"size_bytes":51234,"has_alpha":false,"orientation":6},"renditions":[{"size":128,"width":128,"height":128,"format":"jpeg"},{"size":512,"width":512,"height":512,"format":"jpeg"}]}"#;

    #[test]
    fn a_manifest_written_before_previews_reads_without_one() {
        let manifest = Manifest::decode(BEFORE_PREVIEWS.as_bytes()).expect("an old manifest reads");
        assert_eq!(manifest.preview, None);
        assert_eq!((manifest.info.width, manifest.info.orientation.to_exif()), (900, 6));
        assert_eq!(manifest.renditions.iter().map(|r| r.size).collect::<Vec<_>>(), [128, 512]);
    }

    #[test]
    fn a_preview_is_stored_as_hex_and_hash_rrggbb_and_reads_back() {
        let mut manifest = Manifest::decode(BEFORE_PREVIEWS.as_bytes()).unwrap();
        manifest.preview = Some(Preview { thumbhash: vec![0x1f, 0x08, 0xa0], dominant_color: Rgb([13, 200, 77]) });
        let json = String::from_utf8(manifest.encode()).unwrap();
        assert!(json.contains(r##""preview":{"thumbhash":"1f08a0","dominant_color":"#0dc84d"}"##), "{json}");
        assert_eq!(Manifest::decode(json.as_bytes()).unwrap(), manifest);
    }
}
