//! Releasing an owner's claim, and deleting at once an image nobody holds.
//!
//! Release, step by step:
//!
//! 1. read the manifest from the bucket (never the cache): absent, the id
//!    is NOT_FOUND unless a release record says a release deleted it (then
//!    go on at step 4, in case that release stopped halfway); present,
//!    write the release record `released/{image}` (its time);
//! 2. delete the owner's claim;
//! 3. if another claim is left, answer: the image stays;
//! 4. write our own `deleting/` marker, then re-read claims and lease;
//! 5. a claim is there: keep; a live lease (an upload of the same bytes
//!    within the grace period, whose claim may be on its way): keep, the
//!    janitor decides when it ends; neither: delete every object (manifest
//!    first, so the image reads as missing from the first deletion on),
//!    then remove the marker.
//!
//! Why this order is safe against claims and uploads: step 4 is the
//! janitor's write-first-look-second (see the parent module). A ClaimImage
//! or UploadImage writes its claim or lease before it looks for markers and
//! checks that the image is complete only after every marker is gone. If
//! its write came before our re-read, we see it and keep the image; if it
//! came after, our marker was already there, so it waits for us and then
//! finds the image gone: a claim answers NOT_FOUND (and takes its claim
//! back), an upload stores the image anew under its lease. So no claim is
//! ever acknowledged for an image we delete. (Uploads write their lease even
//! for a claimed image for this reason: the claim they saw may be released.)
//!
//! If the process dies between two steps: after 1, the record only lets a
//! retry answer for an image already gone; after 2 the image may be left
//! unclaimed and undeleted, and the record makes the janitor's next sweep
//! run steps 4 and 5 (as does a retry); during 5 the manifest went first, so
//! what is left reads as missing, our marker turns stale (and is ignored)
//! after [`super::STALE_DELETION_MARKER`], and the record again brings the
//! janitor back. Records older than the grace period are removed by the
//! janitor; until then a retry of a release that deleted the image succeeds.
//!
//! Two releases (or a release and a janitor) at once: each removes its own
//! claim before it reads the others, so the last one to read sees no claim
//! and deletes; markers are per caller and deletions of the same objects
//! are idempotent, so two deleting at once both finish.

use std::time::{SystemTime, UNIX_EPOCH};

use accommador_proto::tenant::TenantId;

use super::{ImageId, ImageLibrary, ProtocolStep, keys};
use crate::error::Error;

/// What a release did, and what is left of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Whether this call removed the owner's claim.
    pub owner_claim_removed: bool,
    pub outcome: ReleaseOutcome,
}

/// What is left of an image once an owner's claim is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Every object is deleted (by this call or an earlier one).
    Deleted,
    /// Other owners still claim it.
    Claimed,
    /// Unclaimed but leased by a recent upload: the janitor deletes it
    /// at this time unless it is claimed.
    Pending { expires_at: SystemTime },
}

impl ReleaseOutcome {
    /// The `outcome` label of metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Deleted => "deleted",
            Self::Claimed => "claimed",
            Self::Pending { .. } => "pending",
        }
    }
}

impl ImageLibrary {
    /// Removes `owner`'s claim and deletes the image when nobody holds it;
    /// the steps and why their order is safe are in the module header.
    pub async fn release(&self, tenant: &TenantId, id: &ImageId, owner: &str) -> Result<Released, Error> {
        let record = keys::released(tenant, id);
        if self.store.exists(&keys::manifest(tenant, id)).await? {
            let millis = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
            self.store.put(&record, millis.to_string().into_bytes(), "text/plain").await?;
        } else if !self.store.exists(&record).await? {
            // Also another tenant's image: its keys are under its own tenant.
            return Err(Error::NotFound { image_id: id.to_string() });
        }
        let claim_key = keys::claim(tenant, id, owner);
        let owner_claim_removed = self.store.exists(&claim_key).await?;
        if owner_claim_removed {
            self.store.delete(&claim_key).await?;
        }
        let outcome = self.delete_unless_held(tenant, id, &deleter_id()).await?;
        Ok(Released { owner_claim_removed, outcome })
    }

    /// Steps 3 to 5 of a release: deletes the image unless a claim or a live
    /// lease holds it. `deleter` names our `deleting/` marker and must be
    /// unique to this caller.
    async fn delete_unless_held(
        &self,
        tenant: &TenantId,
        id: &ImageId,
        deleter: &str,
    ) -> Result<ReleaseOutcome, Error> {
        // Cheap first look: an image others claim needs no marker.
        if self.is_claimed(tenant, id).await? {
            return Ok(ReleaseOutcome::Claimed);
        }
        self.reached(ProtocolStep::ReleaseBeforeMarker).await;
        let marker = keys::deleting(tenant, id, deleter);
        self.store.put(&marker, deleter.as_bytes().to_vec(), "text/plain").await?;
        // From here on claims and uploads wait for our marker; what they wrote before is visible.
        let decided = async {
            if self.is_claimed(tenant, id).await? {
                return Ok(ReleaseOutcome::Claimed);
            }
            match self.lease_expiry(tenant, id).await? {
                Some(expires_at) if expires_at > SystemTime::now() => Ok(ReleaseOutcome::Pending { expires_at }),
                _ => Ok(ReleaseOutcome::Deleted),
            }
        }
        .await;
        let deleted = match decided {
            Ok(ReleaseOutcome::Deleted) => self.delete_objects(tenant, id).await,
            Ok(_) | Err(_) => Ok(()),
        };
        // Removed also when the deletion failed halfway: the record brings a retry or the janitor back.
        self.store.delete(&marker).await?;
        deleted?;
        decided
    }

    /// The janitor's part: runs steps 4 and 5 for every release record whose
    /// image still has objects (a release that stopped halfway), and removes
    /// records older than the grace period. Returns how many images it deleted.
    pub(super) async fn finish_releases(&self, tenant: &TenantId, janitor_id: &str) -> Result<usize, Error> {
        let mut deleted = 0;
        let now = SystemTime::now();
        for record in self.store.list(&keys::released_prefix(tenant)).await? {
            let Some(Ok(id)) = record.key.rsplit('/').next().map(ImageId::parse) else {
                continue;
            };
            let leftovers = self.store.list(&keys::image_prefix(tenant, &id)).await?;
            if !leftovers.is_empty()
                && self.delete_unless_held(tenant, &id, janitor_id).await? == ReleaseOutcome::Deleted
            {
                deleted += 1;
            }
            let old = record
                .last_modified
                .is_some_and(|time| now.duration_since(time).is_ok_and(|age| age > self.settings.pending_grace));
            if old {
                self.store.delete(&record.key).await?;
            }
        }
        Ok(deleted)
    }
}

/// A marker name no other caller uses: a release on any replica.
fn deleter_id() -> String {
    format!("release-{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_label() {
        let outcomes = [
            ReleaseOutcome::Deleted,
            ReleaseOutcome::Claimed,
            ReleaseOutcome::Pending { expires_at: SystemTime::UNIX_EPOCH },
        ];
        let labels: std::collections::HashSet<_> = outcomes.iter().map(|o| o.label()).collect();
        assert_eq!(labels.len(), outcomes.len());
    }

    #[test]
    fn deleter_ids_differ_between_calls() {
        assert_ne!(deleter_id(), deleter_id());
    }
}
