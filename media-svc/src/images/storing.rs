//! Storing an image anew, and checking that a stored one is complete.

use std::{sync::Arc, time::Instant};

use accommador_proto::tenant::TenantId;
use bytes::Bytes;

use super::{ImageId, ImageLibrary, Job, Manifest, keys};
use crate::error::Error;

impl ImageLibrary {
    /// The manifest, if the image is complete: manifest, original and every rendition present.
    pub(super) async fn complete_manifest(
        &self,
        tenant: &TenantId,
        id: &ImageId,
    ) -> Result<Option<Arc<Manifest>>, Error> {
        let Some(bytes) = self.store.get(&keys::manifest(tenant, id)).await? else {
            self.manifests.remove(tenant, id);
            return Ok(None);
        };
        let manifest = Arc::new(Manifest::decode(&bytes)?);
        let mut parts = vec![keys::original(tenant, id)];
        parts.extend(manifest.renditions.iter().map(|rendition| rendition.key(tenant, id)));
        let present = futures::future::try_join_all(parts.iter().map(|key| self.store.exists(key))).await?;
        Ok(present.into_iter().all(|exists| exists).then_some(manifest))
    }

    /// Runs the pipeline and writes original, renditions, then the manifest.
    pub(super) async fn store_new(
        &self,
        tenant: &TenantId,
        id: &ImageId,
        bytes: Bytes,
        deadline: Option<Instant>,
    ) -> Result<Arc<Manifest>, Error> {
        let pipeline = self.pipeline;
        let processing_input = bytes.clone();
        let started = Instant::now();
        let job = Job { tenant: tenant.as_str(), bytes: bytes.len(), deadline };
        let normalized = self
            .processor
            .run(job, move || pipeline.normalize(&processing_input))
            .await?
            .inspect_err(count_rejection)?;
        metrics::histogram!("media_pipeline_seconds", "stage" => "normalize", "format" => normalized.info.format.extension())
            .record(started.elapsed().as_secs_f64());
        let manifest = Arc::new(Manifest::of(&normalized));
        let original_key = keys::original(tenant, id);
        let original = self.store.put(&original_key, bytes.to_vec(), normalized.info.format.content_type());
        let renditions = normalized.renditions.iter().map(|rendition| {
            let key = keys::rendition(tenant, id, rendition.size, rendition.format.extension());
            async move { self.store.put(&key, rendition.bytes.clone(), rendition.format.content_type()).await }
        });
        futures::future::try_join(original, futures::future::try_join_all(renditions)).await?;
        self.store.put(&keys::manifest(tenant, id), manifest.encode(), "application/json").await?;
        self.manifests.insert(tenant, id, manifest.clone());
        Ok(manifest)
    }
}

/// Counts refused images by reason, for dashboards and alerts.
pub(super) fn count_rejection(rejection: &crate::pipeline::Rejection) {
    metrics::counter!("media_images_rejected_total", "reason" => rejection.reason()).increment(1);
}
