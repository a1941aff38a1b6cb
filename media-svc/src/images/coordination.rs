//! The bucket-side coordination of the protocol in the parent module: the
//! lease of a pending image, the owners' claims, and waiting out the
//! janitors' `deleting/` markers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use accommador_proto::tenant::TenantId;

use super::{ImageId, ImageLibrary, ProtocolStep, keys};
use crate::error::Error;

/// How long uploads and claims wait for a janitor that is deleting the same
/// image, and how often they look.
const DELETION_WAIT_ATTEMPTS: u32 = 40;
const DELETION_WAIT_STEP: Duration = Duration::from_millis(250);

/// A `deleting/` marker older than this belongs to a janitor that died; it
/// is ignored and removed. Far above the time one deletion takes.
pub const STALE_DELETION_MARKER: Duration = Duration::from_secs(300);

impl ImageLibrary {
    pub(super) async fn is_claimed(&self, tenant: &TenantId, id: &ImageId) -> Result<bool, Error> {
        Ok(!self.store.list(&keys::claims_prefix(tenant, id)).await?.is_empty())
    }

    /// Writes this upload's own lease of the image; returns when it ends.
    /// One lease per upload: a claim ends its own upload's lease and leaves
    /// those of later uploads of the same bytes, whose claims may be on
    /// their way.
    pub(super) async fn write_lease(&self, tenant: &TenantId, id: &ImageId) -> Result<SystemTime, Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let expires_millis = (now + self.settings.pending_grace).as_millis() as u64;
        let key = keys::upload_lease(tenant, id, expires_millis);
        self.store.put(&key, expires_millis.to_string().into_bytes(), "text/plain").await?;
        Ok(UNIX_EPOCH + Duration::from_millis(expires_millis))
    }

    /// Ends the lease the upload whose lease ends at `expires_at` wrote.
    pub(super) async fn end_upload_lease(
        &self,
        tenant: &TenantId,
        id: &ImageId,
        expires_at: SystemTime,
    ) -> Result<(), Error> {
        let millis = expires_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        Ok(self.store.delete(&keys::upload_lease(tenant, id, millis)).await?)
    }

    /// Removes every lease of the image.
    pub(super) async fn end_leases(&self, tenant: &TenantId, id: &ImageId) -> Result<(), Error> {
        for lease in self.store.list(&keys::pending(tenant, id)).await? {
            self.store.delete(&lease.key).await?;
        }
        Ok(())
    }

    /// When the image's last lease ends; `None` without a lease. A lease in
    /// the older form is read from its body (when it was written); an
    /// unreadable one counts as ancient: the image is then judged by its
    /// claims alone.
    pub(super) async fn lease_expiry(&self, tenant: &TenantId, id: &ImageId) -> Result<Option<SystemTime>, Error> {
        let single = keys::pending(tenant, id);
        let mut latest: Option<SystemTime> = None;
        for lease in self.store.list(&single).await? {
            let expires_at = if lease.key == single {
                let Some(body) = self.store.get(&single).await? else { continue };
                let leased_at = String::from_utf8_lossy(&body)
                    .trim()
                    .parse::<u64>()
                    .map_or(UNIX_EPOCH, |millis| UNIX_EPOCH + Duration::from_millis(millis));
                leased_at + self.settings.pending_grace
            } else {
                let millis = lease.key.rsplit('.').next().and_then(|name| name.parse::<u64>().ok()).unwrap_or(0);
                UNIX_EPOCH + Duration::from_millis(millis)
            };
            latest = Some(latest.map_or(expires_at, |other| other.max(expires_at)));
        }
        Ok(latest)
    }

    /// Whether a live janitor is deleting the image.
    async fn active_deletions(&self, tenant: &TenantId, id: &ImageId) -> Result<bool, Error> {
        let now = SystemTime::now();
        let markers = self.store.list(&keys::deleting_prefix(tenant, id)).await?;
        Ok(markers.iter().any(|marker| !is_stale(marker.last_modified, now)))
    }

    pub(super) async fn reached(&self, step: ProtocolStep) {
        if let Some(observer) = &self.observer {
            observer.reached(step).await;
        }
    }

    pub(super) async fn wait_for_deletions(&self, tenant: &TenantId, id: &ImageId) -> Result<(), Error> {
        for _ in 0..DELETION_WAIT_ATTEMPTS {
            if !self.active_deletions(tenant, id).await? {
                return Ok(());
            }
            tokio::time::sleep(DELETION_WAIT_STEP).await;
        }
        Err(Error::CleanupInProgress { image_id: id.to_string() })
    }
}

pub(super) fn is_stale(last_modified: Option<SystemTime>, now: SystemTime) -> bool {
    last_modified.is_some_and(|time| now.duration_since(time).is_ok_and(|age| age > STALE_DELETION_MARKER))
}
