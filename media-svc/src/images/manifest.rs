//! The manifest: what is stored for an image, written after every other
//! part so that its presence means "complete".

use std::{sync::Arc, time::Duration};

use accommador_proto::tenant::TenantId;
use serde::{Deserialize, Serialize};

use super::{ImageId, keys};
use crate::{
    error::Error,
    pipeline::{Format, ImageInfo, Normalized},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub info: ImageInfo,
    /// Smallest first.
    pub renditions: Vec<RenditionEntry>,
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
