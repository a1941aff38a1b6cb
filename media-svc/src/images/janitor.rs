//! Deletes pending images nobody claimed within the grace period. Safe when
//! several janitors (replicas) run at once, and against uploads and claims
//! of the same image; see the protocol in the parent module.

use std::{
    future::Future,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use accommador_proto::tenant::TenantId;

use super::{ImageId, ImageLibrary, is_stale};
use crate::{error::Error, storage::keys};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Pending images deleted.
    pub deleted: usize,
    /// Expired leases that turned out to be claimed or refreshed: kept.
    pub kept: usize,
}

enum Verdict {
    Deleted,
    Kept,
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
    /// and that has no claim.
    pub async fn sweep(&self, janitor_id: &str) -> Result<SweepReport, Error> {
        let mut report = SweepReport::default();
        for tenant_prefix in self.store().list_prefixes("").await? {
            let Ok(tenant) = TenantId::parse(tenant_prefix.trim_end_matches('/')) else {
                continue; // not ours
            };
            for lease in self.store().list(&keys::pending_prefix(&tenant)).await? {
                let Some(Ok(id)) = lease.key.rsplit('/').next().map(ImageId::parse) else {
                    continue;
                };
                if !self.lease_expired(&tenant, &id).await? {
                    continue;
                }
                match self.delete_if_unclaimed(&tenant, &id, janitor_id).await? {
                    Verdict::Deleted => report.deleted += 1,
                    Verdict::Kept => report.kept += 1,
                }
            }
        }
        Ok(report)
    }

    /// Whether the image has a lease and it is older than the grace period.
    async fn lease_expired(&self, tenant: &TenantId, id: &ImageId) -> Result<bool, Error> {
        let Some(body) = self.store().get(&keys::pending(tenant, id)).await? else {
            return Ok(false); // claimed meanwhile
        };
        // Unreadable leases count as ancient: the image is then judged by its claims alone.
        let leased_at = String::from_utf8_lossy(&body)
            .trim()
            .parse::<u64>()
            .map_or(UNIX_EPOCH, |millis| UNIX_EPOCH + Duration::from_millis(millis));
        Ok(leased_at + self.settings().pending_grace < SystemTime::now())
    }

    async fn delete_if_unclaimed(&self, tenant: &TenantId, id: &ImageId, janitor_id: &str) -> Result<Verdict, Error> {
        let marker = keys::deleting(tenant, id, janitor_id);
        self.store().put(&marker, janitor_id.as_bytes().to_vec(), "text/plain").await?;
        let verdict = self.delete_under_marker(tenant, id).await;
        self.store().delete(&marker).await?;
        verdict
    }

    /// The marker is written: from here on, uploads and claims wait for us,
    /// and any lease refresh or claim made before it is visible now.
    async fn delete_under_marker(&self, tenant: &TenantId, id: &ImageId) -> Result<Verdict, Error> {
        if !self.lease_expired(tenant, id).await? {
            return Ok(Verdict::Kept);
        }
        if self.is_claimed(tenant, id).await? {
            self.store().delete(&keys::pending(tenant, id)).await?;
            return Ok(Verdict::Kept);
        }
        self.manifests.remove(tenant, id);
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
        self.store().delete(&keys::pending(tenant, id)).await?;
        Ok(Verdict::Deleted)
    }
}
