//! Deletes pending images nobody claimed within the grace period. Safe when
//! several janitors (replicas) run at once, and against uploads and claims
//! of the same image; see the protocol in the parent module.
//!
//! One image is deleted in two steps, public so a test can run an upload
//! between them: [`ImageLibrary::begin_deletion`] writes the marker,
//! re-reads lease and claims under it and decides; [`Deletion::finish`]
//! deletes the objects (manifest first) and removes the marker.

use std::{
    future::Future,
    time::{Duration, SystemTime},
};

use accommador_proto::tenant::TenantId;

use super::{ImageId, ImageLibrary, is_stale, keys};
use crate::error::Error;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Images deleted: pending ones, and released ones whose release
    /// stopped before it deleted them.
    pub deleted: usize,
    /// Expired leases that turned out to be claimed or refreshed: kept.
    pub kept: usize,
}

/// An image a janitor decided to delete, its `deleting/` marker written.
/// Until [`Deletion::finish`], uploads and claims of the image wait; dropped
/// unfinished, the marker holds them off until it is stale
/// ([`super::STALE_DELETION_MARKER`]).
#[must_use = "the marker stays, and uploads and claims wait, until finish() runs"]
pub struct Deletion<'a> {
    library: &'a ImageLibrary,
    tenant: TenantId,
    id: ImageId,
    /// Our own marker: removed last, once nothing of the image is left.
    marker: String,
}

impl ImageLibrary {
    /// Runs one sweep every `interval` until `shutdown` resolves. `janitor_id`
    /// must differ between replicas (its `deleting/` markers are its own).
    pub async fn run_janitor(&self, janitor_id: &str, interval: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(interval) => {}
            }
            match self.sweep(janitor_id).await {
                Ok(report) if report.deleted > 0 || report.kept > 0 => {
                    metrics::counter!("media_janitor_deleted_total").increment(report.deleted as u64);
                    metrics::counter!("media_janitor_kept_total").increment(report.kept as u64);
                    tracing::info!(deleted = report.deleted, kept = report.kept, "janitor swept pending images");
                }
                Ok(_) => tracing::debug!("janitor found nothing to delete"),
                Err(error) => tracing::warn!(%error, "janitor sweep failed; will retry"),
            }
        }
    }

    /// Deletes every pending image whose lease is older than the grace period
    /// and that has no claim, and finishes releases that stopped halfway.
    pub async fn sweep(&self, janitor_id: &str) -> Result<SweepReport, Error> {
        let mut report = SweepReport::default();
        for tenant_prefix in self.store().list_prefixes("").await? {
            let Ok(tenant) = TenantId::parse(tenant_prefix.trim_end_matches('/')) else {
                continue; // not ours
            };
            let leases = self.store().list(&keys::pending_prefix(&tenant)).await?;
            // An image may have several leases (one per upload): looked at once.
            let leased: std::collections::BTreeSet<String> =
                leases.iter().filter_map(|lease| keys::leased_image(&tenant, &lease.key)).collect();
            for image in leased {
                let Ok(id) = ImageId::parse(&image) else {
                    continue;
                };
                if !self.lease_expired(&tenant, &id).await? {
                    continue;
                }
                match self.begin_deletion(&tenant, &id, janitor_id).await? {
                    Some(deletion) => {
                        deletion.finish().await?;
                        report.deleted += 1;
                    }
                    None => report.kept += 1,
                }
            }
            report.deleted += self.finish_releases(&tenant, janitor_id).await?;
        }
        Ok(report)
    }

    /// Whether the image has a lease and it is older than the grace period.
    async fn lease_expired(&self, tenant: &TenantId, id: &ImageId) -> Result<bool, Error> {
        // No lease: claimed meanwhile.
        Ok(self.lease_expiry(tenant, id).await?.is_some_and(|expiry| expiry < SystemTime::now()))
    }

    /// First step of deleting one image: writes `janitor_id`'s marker, then
    /// re-reads the lease and the claims. `Some` when they still allow the
    /// deletion (the marker stays until [`Deletion::finish`]); `None` when
    /// the image is kept, its marker already removed.
    pub async fn begin_deletion(
        &self,
        tenant: &TenantId,
        id: &ImageId,
        janitor_id: &str,
    ) -> Result<Option<Deletion<'_>>, Error> {
        let marker = keys::deleting(tenant, id, janitor_id);
        self.store().put(&marker, janitor_id.as_bytes().to_vec(), "text/plain").await?;
        match self.may_delete_under_marker(tenant, id).await {
            Ok(true) => Ok(Some(Deletion { library: self, tenant: tenant.clone(), id: id.clone(), marker })),
            decided => {
                self.store().delete(&marker).await?;
                decided.map(|_| None)
            }
        }
    }

    /// The marker is written: from here on, uploads and claims wait for us,
    /// and any lease refresh or claim made before it is visible now.
    async fn may_delete_under_marker(&self, tenant: &TenantId, id: &ImageId) -> Result<bool, Error> {
        if !self.lease_expired(tenant, id).await? {
            return Ok(false);
        }
        if self.is_claimed(tenant, id).await? {
            self.end_leases(tenant, id).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Deletes every object of the image but live markers (ours included),
    /// then its lease.
    pub(super) async fn delete_objects(&self, tenant: &TenantId, id: &ImageId) -> Result<(), Error> {
        self.manifests.remove(tenant, id);
        self.urls.forget(&keys::image_prefix(tenant, id));
        // Manifest first: from this moment the image reads as missing.
        self.store().delete(&keys::manifest(tenant, id)).await?;
        let deleting_prefix = keys::deleting_prefix(tenant, id);
        let now = SystemTime::now();
        for object in self.store().list(&keys::image_prefix(tenant, id)).await? {
            let live_marker = object.key.starts_with(&deleting_prefix) && !is_stale(object.last_modified, now);
            if !live_marker {
                self.store().delete(&object.key).await?;
            }
        }
        self.end_leases(tenant, id).await?;
        Ok(())
    }
}

impl Deletion<'_> {
    /// Second step: deletes the image, then removes the marker, also when
    /// the deletion failed halfway (the manifest goes first, so what is left
    /// reads as missing, and the lease that remains brings the next sweep back).
    pub async fn finish(self) -> Result<(), Error> {
        let deleted = self.library.delete_objects(&self.tenant, &self.id).await;
        self.library.store().delete(&self.marker).await?;
        deleted
    }
}
