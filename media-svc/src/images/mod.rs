//! The image library: what media-svc does with images, over the pipeline
//! and the bucket. No gRPC here.
//!
//! All state lives in the bucket (see [`keys`]), so any
//! number of replicas can share one bucket. Pending uploads carry a lease;
//! the janitor ([`janitor`]) deletes those whose lease is older than the
//! grace period and that nobody claimed. Uploads and claims race safely with
//! janitors without conditional writes, because each side writes first and
//! looks second:
//!
//! - a janitor writes its own `deleting/` marker *before* it re-reads the
//!   lease and the claims, and deletes only if both still allow it;
//! - an upload writes the lease (a claim writes its claim) *before* it looks
//!   for `deleting/` markers, waits out every one it finds, and only *then*
//!   checks that the image is complete, storing it anew when it is not.
//!
//! So whichever comes second sees the other. A janitor whose marker appears
//! after our lease or claim reads it and keeps the image. A janitor whose
//! marker was there before is waited out, and whatever it deleted is missing
//! when we check. The check must come after the wait: an upload that checked
//! first could find the image complete, then miss a janitor that deleted it
//! and removed its marker in between, and answer for an image that is gone.
//!
//! Upload, step by step:
//!
//! 1. read the claims (the answer says whether the image is claimed);
//! 2. write the lease, also for a claimed image: its claims may be released
//!    before the caller's own claim arrives, and a live lease keeps the
//!    image from a release (the claim that follows ends it);
//! 3. wait until no live `deleting/` marker is left;
//! 4. find the image complete (manifest, original, every rendition), or
//!    store it anew;
//! 5. answer.
//!
//! Claim, step by step:
//!
//! 1. refuse an id whose manifest does not exist;
//! 2. write the owner's claim unless it is there already;
//! 3. wait until no live `deleting/` marker is left;
//! 4. find the image complete, and end the lease of the upload it follows
//!    (each upload has its own, so a later upload of the same bytes keeps
//!    the image until its own claim arrives);
//! 5. on NOT_FOUND take back the claim if this call wrote it; on any other
//!    error leave it (see [`ImageLibrary::claim`]).
//!
//! Release ([`release`]): remove the owner's claim, then delete the image at
//! once, as a janitor would, if no claim and no live lease is left.

mod coordination;
mod id;
pub mod janitor;
pub mod keys;
mod manifest;
mod processor;
mod release;
mod signing;
mod steps;
mod storing;

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use accommador_proto::tenant::TenantId;
use bytes::Bytes;
pub use id::{IMAGE_ID_LEN, ImageId};
pub use janitor::Deletion;
pub use manifest::{Manifest, RenditionEntry};
pub(crate) use processor::Job;
pub use processor::Processor;
pub use release::{ReleaseOutcome, Released};
pub use signing::{MissingIds, SignedBatch, SignedImage, SignedRendition, UrlTtl};
pub use steps::{ProtocolStep, StepObserver};

pub use self::coordination::STALE_DELETION_MARKER;
use self::{coordination::is_stale, storing::count_rejection};

use crate::{
    error::Error,
    pipeline::{ImageInfo, Pipeline},
    storage::ObjectStore,
};

/// An image as stored, with its lease state.
#[derive(Debug, Clone)]
pub struct StoredImage {
    pub id: ImageId,
    pub manifest: Arc<Manifest>,
    /// When the janitor may delete it; `None` once claimed.
    pub pending_expires_at: Option<SystemTime>,
    /// UploadImage: when the lease this upload wrote ends (see ClaimImage).
    pub lease_expires_at: Option<SystemTime>,
    pub claimed: bool,
    /// Whether this call wrote the owner's claim (claims only; false for
    /// uploads). A reconciliation that claims again counts what it repaired,
    /// and a failed claim takes back only a claim it wrote itself.
    pub owner_claim_created: bool,
}

/// Library settings that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct LibrarySettings {
    /// How long an unclaimed upload is kept.
    pub pending_grace: Duration,
}

pub struct ImageLibrary {
    /// The bucket: the only state there is, shared by every replica, so
    /// the library holds nothing that must survive a restart.
    store: ObjectStore,
    /// Validation and normalization of the bytes, with their limits
    /// (`Copy`: each job takes its own onto a worker thread).
    pipeline: Pipeline,
    /// The bounded pool that runs the pipeline off the async runtime and
    /// refuses work (OVERLOADED) instead of queueing it without limit.
    processor: Processor,
    /// The lease's grace period, from configuration.
    settings: LibrarySettings,
    /// Manifests read recently: signing a page of pictures would otherwise
    /// read one object per picture.
    manifests: manifest::ManifestCache,
    /// URLs signed in the current time buckets, handed out again instead of
    /// signed again (see [`signing`]).
    urls: signing::UrlCache,
    /// Test hook at the steps of the upload protocol; `None` in production.
    observer: Option<Arc<dyn StepObserver>>,
}

impl ImageLibrary {
    pub fn new(store: ObjectStore, pipeline: Pipeline, processor: Processor, settings: LibrarySettings) -> Self {
        Self {
            store,
            pipeline,
            processor,
            settings,
            manifests: manifest::ManifestCache::default(),
            urls: signing::UrlCache::default(),
            observer: None,
        }
    }

    /// Calls `observer` at every [`ProtocolStep`], for tests that force an
    /// interleaving with a janitor.
    #[doc(hidden)]
    pub fn with_observer(self, observer: Arc<dyn StepObserver>) -> Self {
        Self { observer: Some(observer), ..self }
    }

    pub fn store(&self) -> &ObjectStore {
        &self.store
    }

    pub fn settings(&self) -> LibrarySettings {
        self.settings
    }

    /// Checks the bytes completely (decoding them) and stores nothing.
    pub async fn validate(
        &self,
        tenant: &TenantId,
        bytes: Bytes,
        deadline: Option<Instant>,
    ) -> Result<ImageInfo, Error> {
        // Header checks are cheap: refuse obvious junk without taking a worker.
        self.pipeline.inspect(&bytes).inspect_err(count_rejection)?;
        let pipeline = self.pipeline;
        let started = Instant::now();
        let job = Job { tenant: tenant.as_str(), bytes: bytes.len(), deadline };
        let info = self.processor.run(job, move || pipeline.validate(&bytes)).await?.inspect_err(count_rejection)?;
        metrics::histogram!("media_pipeline_seconds", "stage" => "validate", "format" => info.format.extension())
            .record(started.elapsed().as_secs_f64());
        Ok(info)
    }

    /// Validates, normalizes and stores `bytes` as a pending image, or
    /// returns the image already stored for the same bytes. The steps and
    /// their order are the protocol in the module header.
    pub async fn upload(&self, tenant: &TenantId, bytes: Bytes) -> Result<StoredImage, Error> {
        self.upload_by(tenant, bytes, None).await
    }

    /// [`ImageLibrary::upload`] for a caller that stops waiting at `deadline`:
    /// the image waits for a worker only while it can still be done in time.
    pub async fn upload_by(
        &self,
        tenant: &TenantId,
        bytes: Bytes,
        deadline: Option<Instant>,
    ) -> Result<StoredImage, Error> {
        self.pipeline.inspect(&bytes).inspect_err(count_rejection)?;
        let id = ImageId::of(tenant, &bytes);
        let claimed = self.is_claimed(tenant, &id).await?;
        self.reached(ProtocolStep::UploadBeforeLease).await;
        // The lease goes first: a janitor or release whose marker appears from now on reads it and keeps the image.
        let expires_at = self.write_lease(tenant, &id).await?;
        let pending_expires_at = (!claimed).then_some(expires_at);
        let lease_expires_at = Some(expires_at);
        // A janitor whose marker came earlier may have read the old lease: it must be done before we look.
        self.wait_for_deletions(tenant, &id).await?;
        let manifest = match self.complete_manifest(tenant, &id).await? {
            Some(manifest) => manifest,
            None => self.store_new(tenant, &id, bytes, deadline).await?,
        };
        self.reached(ProtocolStep::UploadVerified).await;
        Ok(StoredImage { id, manifest, pending_expires_at, lease_expires_at, claimed, owner_claim_created: false })
    }

    /// Records `owner`'s claim, which makes the image permanent.
    ///
    /// A failure takes the claim back only when this call wrote it and the
    /// image is confirmed gone (NOT_FOUND). A claim an earlier call wrote may
    /// have been acknowledged, and the janitor never deletes an image whose
    /// claim it can see, so that image cannot be gone and the claim stays.
    /// On any other error (storage, a janitor that will not finish) the
    /// image may well be there: the claim stays for the caller's retry.
    ///
    /// `upload_lease` is when the lease of the upload this claim follows
    /// ends (UploadImage's answer): that lease is ended, so a release of the
    /// last claim deletes the image at once; other uploads' leases stay.
    pub async fn claim(
        &self,
        tenant: &TenantId,
        id: &ImageId,
        owner: &str,
        upload_lease: Option<SystemTime>,
    ) -> Result<StoredImage, Error> {
        // Unknown ids (or another tenant's) are refused before anything is written.
        if self.manifest(tenant, id).await?.is_none() {
            return Err(Error::NotFound { image_id: id.to_string() });
        }
        let claim_key = keys::claim(tenant, id, owner);
        let owner_claim_created = !self.store.exists(&claim_key).await?;
        if owner_claim_created {
            self.store.put(&claim_key, owner.as_bytes().to_vec(), "text/plain").await?;
        }
        let outcome = async {
            self.wait_for_deletions(tenant, id).await?;
            self.complete_manifest(tenant, id).await?.ok_or_else(|| Error::NotFound { image_id: id.to_string() })
        }
        .await;
        match outcome {
            Ok(manifest) => {
                if let Some(expires_at) = upload_lease {
                    self.end_upload_lease(tenant, id, expires_at).await?;
                }
                Ok(StoredImage {
                    id: id.clone(),
                    manifest,
                    pending_expires_at: None,
                    lease_expires_at: None,
                    claimed: true,
                    owner_claim_created,
                })
            }
            Err(error @ Error::NotFound { .. }) if owner_claim_created => {
                // The image is gone: a claim left behind would keep a later upload of the same bytes forever.
                self.store.delete(&claim_key).await?;
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    /// The manifest of a stored image, from cache when possible.
    pub async fn manifest(&self, tenant: &TenantId, id: &ImageId) -> Result<Option<Arc<Manifest>>, Error> {
        if let Some(manifest) = self.manifests.get(tenant, id) {
            metrics::counter!("media_manifest_cache_total", "result" => "hit").increment(1);
            return Ok(Some(manifest));
        }
        metrics::counter!("media_manifest_cache_total", "result" => "miss").increment(1);
        let Some(bytes) = self.store.get(&keys::manifest(tenant, id)).await? else {
            return Ok(None);
        };
        let manifest = Arc::new(Manifest::decode(&bytes)?);
        self.manifests.insert(tenant, id, manifest.clone());
        Ok(Some(manifest))
    }
}
