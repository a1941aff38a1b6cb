//! The janitor against real S3 servers: pending images go after the grace
//! period, claimed ones stay, and concurrent janitors, claims and uploads
//! lose nothing that was claimed or handed out. Besides the free-running
//! races, one test forces the interleaving that an upload must survive, and
//! one pins that a failed claim does not take back an acknowledged one.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use accommador_proto::tenant::TenantId;
use futures::future::BoxFuture;
use media_svc::{
    error::Error,
    images::{ImageId, ImageLibrary, ProtocolStep, StepObserver, keys},
};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    backends,
    helpers::{photo, tenant},
};

const GRACE: Duration = Duration::from_secs(3);

/// For tests that only need the lease expired before they start.
const SHORT_GRACE: Duration = Duration::from_secs(1);

/// How long the straddling janitor waits for the upload's word before it
/// finishes its deletion anyway: well within the 10 s an upload waits for a
/// `deleting/` marker, so an upload that waits sees it go.
const FINISH_AFTER: Duration = Duration::from_secs(2);

pub(crate) async fn is_complete(library: &ImageLibrary, tenant: &TenantId, id: &ImageId) -> bool {
    let store = library.store();
    let Some(manifest) = library.manifest(tenant, id).await.unwrap() else { return false };
    if !store.exists(&keys::manifest(tenant, id)).await.unwrap()
        || !store.exists(&keys::original(tenant, id)).await.unwrap()
    {
        return false;
    }
    for rendition in &manifest.renditions {
        if !store.exists(&rendition.key(tenant, id)).await.unwrap() {
            return false;
        }
    }
    true
}

#[tokio::test]
async fn pending_images_go_after_the_grace_period_and_claimed_ones_stay() {
    for backend in backends::all().await {
        let library = backend.library(GRACE);
        let acme = tenant("acme");
        let pending = library.upload(&acme, photo(1).into()).await.unwrap();
        let claimed = library.upload(&acme, photo(2).into()).await.unwrap();
        library.claim(&acme, &claimed.id, "contact-1", claimed.lease_expires_at).await.unwrap();

        let early = library.sweep("janitor-a").await.unwrap();
        assert_eq!(early.deleted, 0, "{}: nothing is deleted within the grace period", backend.name);

        tokio::time::sleep(GRACE * 2 + Duration::from_millis(100)).await;
        let report = library.sweep("janitor-a").await.unwrap();
        assert_eq!(report.deleted, 1, "{}: {report:?}", backend.name);
        let leftovers = backend.store().list(&keys::image_prefix(&acme, &pending.id)).await.unwrap();
        assert!(leftovers.is_empty(), "{}: every object of the pending image is gone: {leftovers:?}", backend.name);
        assert!(backend.store().list(&keys::pending(&acme, &pending.id)).await.unwrap().is_empty());
        assert!(is_complete(&library, &acme, &claimed.id).await, "{}: the claimed image stays whole", backend.name);
    }
}

#[tokio::test]
async fn concurrent_janitors_claims_and_uploads_lose_nothing() {
    for backend in backends::all().await {
        let library = backend.library(GRACE);
        let acme = tenant("acme");
        let mut images = Vec::new();
        for seed in 0..12 {
            images.push(library.upload(&acme, photo(100 + seed).into()).await.unwrap());
        }
        tokio::time::sleep(GRACE * 2 + Duration::from_millis(100)).await;

        // Two janitors sweep while a third of the images get claimed and
        // another third get uploaded again (which refreshes their lease).
        let sweeps = (0..2).map(|n| {
            let library = Arc::clone(&library);
            tokio::spawn(async move { library.sweep(&format!("janitor-{n}")).await.unwrap() })
        });
        let claims = images.iter().step_by(3).map(|image| {
            let (library, tenant, id) = (Arc::clone(&library), acme.clone(), image.id.clone());
            tokio::spawn(async move { (id.clone(), library.claim(&tenant, &id, "contact-9", None).await.is_ok()) })
        });
        let uploads = (0..12).skip(1).step_by(3).map(|seed| {
            let (library, tenant) = (Arc::clone(&library), acme.clone());
            tokio::spawn(async move { library.upload(&tenant, photo(100 + seed).into()).await.map(|image| image.id) })
        });
        let (_, claims, uploads) = tokio::join!(
            futures::future::join_all(sweeps),
            futures::future::join_all(claims),
            futures::future::join_all(uploads)
        );
        for (id, succeeded) in claims.into_iter().map(Result::unwrap) {
            if succeeded {
                assert!(is_complete(&library, &acme, &id).await, "{}: claimed image {id} is incomplete", backend.name);
            }
        }
        // An upload that answered must have left a complete image behind.
        for id in uploads.into_iter().flat_map(Result::unwrap) {
            assert!(is_complete(&library, &acme, &id).await, "{}: re-uploaded image {id} is incomplete", backend.name);
        }
        let markers: Vec<_> =
            backend.store().list("acme/").await.unwrap().into_iter().filter(|o| o.key.contains("/deleting/")).collect();
        assert!(markers.is_empty(), "{}: janitors leave no markers: {markers:?}", backend.name);
    }
}

/// A janitor on another replica that straddles one upload: at the first
/// `UploadBeforeLease` it writes its marker and decides to delete; it
/// finishes at the upload's `UploadVerified`, or after [`FINISH_AFTER`] if
/// the upload is waiting for it; the upload answers only once it finished.
struct StraddlingJanitor {
    janitor: Arc<ImageLibrary>,
    tenant: TenantId,
    id: ImageId,
    /// Cleared by the first `UploadBeforeLease`: the janitor straddles once.
    armed: AtomicBool,
    /// The word that lets the janitor finish, and its task: set while it
    /// holds its marker.
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl StepObserver for StraddlingJanitor {
    fn reached(&self, step: ProtocolStep) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match step {
                ProtocolStep::UploadBeforeLease => self.begin().await,
                ProtocolStep::UploadVerified => self.finish().await,
                ProtocolStep::ReleaseBeforeMarker => {}
            }
        })
    }
}

impl StraddlingJanitor {
    fn new(janitor: Arc<ImageLibrary>, tenant: TenantId, id: ImageId) -> Self {
        Self { janitor, tenant, id, armed: AtomicBool::new(true), running: Mutex::new(None) }
    }

    async fn begin(&self) {
        if !self.armed.swap(false, Ordering::SeqCst) {
            return;
        }
        let (decided_tx, decided_rx) = oneshot::channel();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let (janitor, tenant, id) = (Arc::clone(&self.janitor), self.tenant.clone(), self.id.clone());
        // A task of its own: the deletion borrows the library, and must outlive this step.
        let task = tokio::spawn(async move {
            let deletion = janitor.begin_deletion(&tenant, &id, "straddling-janitor").await.unwrap();
            let _ = decided_tx.send(deletion.is_some());
            if let Some(deletion) = deletion {
                tokio::select! {
                    _ = go_rx => {}
                    _ = tokio::time::sleep(FINISH_AFTER) => {}
                }
                deletion.finish().await.unwrap();
            }
        });
        let decided = decided_rx.await.expect("the janitor task answers");
        assert!(decided, "the janitor must decide to delete: the lease has expired and nobody claimed the image");
        *self.running.lock().unwrap() = Some((go_tx, task));
    }

    async fn finish(&self) {
        let running = self.running.lock().unwrap().take();
        let Some((go, task)) = running else { return };
        let _ = go.send(()); // refused when the janitor stopped waiting: it finishes anyway
        task.await.expect("the janitor finishes its deletion");
    }

    fn straddled(&self) -> bool {
        !self.armed.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn an_upload_that_answers_survives_a_janitor_that_straddles_it() {
    for backend in backends::all().await {
        let janitor = backend.library(SHORT_GRACE);
        let acme = tenant("acme");
        let bytes = photo(200);
        let first = janitor.upload(&acme, bytes.clone().into()).await.unwrap();
        tokio::time::sleep(SHORT_GRACE + Duration::from_millis(200)).await;

        // Why this fails on the old order (wait for markers, read claims, write
        // lease, check complete, look for markers): the janitor writes its
        // marker and reads the expired lease just before our lease write. The
        // old upload then finds the image still complete, and at
        // UploadVerified the janitor deletes everything and removes its
        // marker, so the last marker check finds none and the upload answers
        // Ok with nothing stored. On the new order the upload writes its lease,
        // then finds the janitor's marker and waits; the janitor finishes
        // after FINISH_AFTER, and only then does the upload check, find the
        // image gone and store it again.
        let observer = Arc::new(StraddlingJanitor::new(Arc::clone(&janitor), acme.clone(), first.id.clone()));
        let uploader = backend.image_library(SHORT_GRACE).with_observer(observer.clone());
        let again = uploader.upload(&acme, bytes.into()).await.unwrap();

        assert!(observer.straddled(), "{}: the janitor ran inside the upload", backend.name);
        assert_eq!(again.id, first.id, "{}", backend.name);
        assert!(
            is_complete(&uploader, &acme, &again.id).await,
            "{}: the upload answered, so manifest, original and renditions must all be there",
            backend.name
        );
        let markers = backend.store().list(&keys::deleting_prefix(&acme, &again.id)).await.unwrap();
        assert!(markers.is_empty(), "{}: the janitor removed its marker: {markers:?}", backend.name);
    }
}

#[tokio::test]
async fn a_claim_that_fails_keeps_a_claim_an_earlier_call_acknowledged() {
    for backend in backends::all().await {
        let library = backend.library(SHORT_GRACE);
        let acme = tenant("acme");
        let image = library.upload(&acme, photo(300).into()).await.unwrap();
        let first = library.claim(&acme, &image.id, "contact-1", image.lease_expires_at).await.unwrap();
        assert!(first.owner_claim_created, "{}: the first claim writes the owner's claim", backend.name);
        let again = library.claim(&acme, &image.id, "contact-1", image.lease_expires_at).await.unwrap();
        assert!(!again.owner_claim_created, "{}: the second finds it there", backend.name);

        // A janitor that stopped mid-deletion a moment ago: its marker is fresh,
        // so claims wait for it (about 10 s) and give up with CleanupInProgress.
        let stuck = keys::deleting(&acme, &image.id, "stuck-janitor");
        backend.store().put(&stuck, b"stuck-janitor".to_vec(), "text/plain").await.unwrap();
        let (acknowledged, new_owner) = tokio::join!(
            library.claim(&acme, &image.id, "contact-1", image.lease_expires_at),
            library.claim(&acme, &image.id, "contact-2", image.lease_expires_at)
        );
        assert!(matches!(acknowledged, Err(Error::CleanupInProgress { .. })), "{}: {acknowledged:?}", backend.name);
        assert!(matches!(new_owner, Err(Error::CleanupInProgress { .. })), "{}: {new_owner:?}", backend.name);
        backend.store().delete(&stuck).await.unwrap();

        let store = backend.store();
        assert!(
            store.exists(&keys::claim(&acme, &image.id, "contact-1")).await.unwrap(),
            "{}: the acknowledged claim survives the failed call",
            backend.name
        );
        assert!(
            store.exists(&keys::claim(&acme, &image.id, "contact-2")).await.unwrap(),
            "{}: a claim is taken back on NOT_FOUND only; the image may be there and the caller retries",
            backend.name
        );
        // An upload on another replica that read the claims before the first
        // claim may still write a lease: only the claim keeps the image then.
        store.put(&keys::pending(&acme, &image.id), b"0".to_vec(), "text/plain").await.unwrap();
        let report = library.sweep("janitor-a").await.unwrap();
        assert_eq!(report.deleted, 0, "{}: {report:?}", backend.name);
        assert!(is_complete(&library, &acme, &image.id).await, "{}: the claimed image stays whole", backend.name);
    }
}
