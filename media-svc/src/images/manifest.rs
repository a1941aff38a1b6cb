//! The manifest: what is stored for an image, written after every other
//! part so that its presence means "complete".

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

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
/// cached; the time limit only bounds how long a deleted pending image can
/// still get URLs signed (they would fetch nothing).
#[derive(Default)]
pub struct ManifestCache {
    entries: Mutex<HashMap<(TenantId, ImageId), CachedManifest>>,
}

/// When a manifest entered the cache, and the manifest.
type CachedManifest = (Instant, Arc<Manifest>);

const CACHE_CAPACITY: usize = 50_000;
const CACHE_TTL: Duration = Duration::from_secs(600);

impl ManifestCache {
    pub fn get(&self, tenant: &TenantId, id: &ImageId) -> Option<Arc<Manifest>> {
        let entries = self.entries.lock().expect("cache lock");
        let (inserted, manifest) = entries.get(&(tenant.clone(), id.clone()))?;
        (inserted.elapsed() < CACHE_TTL).then(|| manifest.clone())
    }

    pub fn insert(&self, tenant: &TenantId, id: &ImageId, manifest: Arc<Manifest>) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= CACHE_CAPACITY {
            // Crude but bounded: start over rather than track recency.
            entries.clear();
        }
        entries.insert((tenant.clone(), id.clone()), (Instant::now(), manifest));
    }

    pub fn remove(&self, tenant: &TenantId, id: &ImageId) {
        self.entries.lock().expect("cache lock").remove(&(tenant.clone(), id.clone()));
    }
}
