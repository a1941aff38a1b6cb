//! ReleaseImage against real S3 servers: the last claim's release deletes
//! the image at once, other owners keep it, retries and strangers are
//! answered as documented, a release that stopped halfway is finished, and
//! releases racing claims and uploads of the same bytes never leave a
//! claimed or just-uploaded image deleted, nor half an image behind.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use accommador_proto::tenant::TenantId;
use futures::{StreamExt, future::BoxFuture};
use media_svc::{
    error::Error,
    images::{ImageId, ImageLibrary, MissingIds, ProtocolStep, ReleaseOutcome, StepObserver, UrlTtl, keys},
    storage::ObjectStore,
};

use crate::{
    backends,
    helpers::{photo, tenant},
    janitor::is_complete,
};

/// Long enough that no lease expires during a test.
const GRACE: Duration = Duration::from_secs(3600);

/// Concurrent rounds of each race, per backend.
const ROUNDS: u32 = 24;

async fn objects_of(store: &ObjectStore, tenant: &TenantId, id: &ImageId) -> Vec<String> {
    store.list(&keys::image_prefix(tenant, id)).await.unwrap().into_iter().map(|o| o.key).collect()
}

async fn signs(library: &ImageLibrary, tenant: &TenantId, id: &ImageId) -> bool {
    let batch = library.sign(tenant, std::slice::from_ref(id), UrlTtl::default(), MissingIds::Skip).await.unwrap();
    batch.images.len() == 1 && batch.missing.is_empty()
}

#[tokio::test]
async fn the_last_release_deletes_the_image_at_once_and_retries_succeed() {
    for backend in backends::all().await {
        let (library, other_replica) = (backend.library(GRACE), backend.library(GRACE));
        let acme = tenant("acme");
        let image = library.upload(&acme, photo(400).into()).await.unwrap();
        library.claim(&acme, &image.id, "contact-a", image.lease_expires_at).await.unwrap();
        library.claim(&acme, &image.id, "contact-b", image.lease_expires_at).await.unwrap();
        assert!(signs(&other_replica, &acme, &image.id).await, "{}: another replica caches it", backend.name);

        let released = library.release(&acme, &image.id, "contact-a").await.unwrap();
        assert!(released.owner_claim_removed, "{}", backend.name);
        assert_eq!(released.outcome, ReleaseOutcome::Claimed, "{}: contact-b keeps it", backend.name);
        assert!(is_complete(&library, &acme, &image.id).await, "{}", backend.name);
        assert!(signs(&library, &acme, &image.id).await, "{}: still signed", backend.name);

        let released = library.release(&acme, &image.id, "contact-b").await.unwrap();
        assert!(released.owner_claim_removed, "{}", backend.name);
        assert_eq!(released.outcome, ReleaseOutcome::Deleted, "{}", backend.name);
        let left = objects_of(&backend.store(), &acme, &image.id).await;
        assert!(left.is_empty(), "{}: every object goes at once: {left:?}", backend.name);
        assert!(backend.store().list(&keys::pending(&acme, &image.id)).await.unwrap().is_empty(), "{}", backend.name);
        assert!(!signs(&library, &acme, &image.id).await, "{}: never signed again", backend.name);

        // Retries, and owners that never claimed it, succeed.
        for owner in ["contact-b", "contact-a", "never-claimed"] {
            let again = library.release(&acme, &image.id, owner).await.unwrap();
            assert!(!again.owner_claim_removed, "{}: {owner}", backend.name);
            assert_eq!(again.outcome, ReleaseOutcome::Deleted, "{}: {owner}", backend.name);
        }
        // Another tenant's image and an unknown one are NOT_FOUND, and leave nothing behind.
        let other = library.upload(&tenant("globex"), photo(401).into()).await.unwrap();
        let unknown = ImageId::parse(&"ab".repeat(32)).unwrap();
        for id in [&other.id, &unknown] {
            let result = library.release(&acme, id, "contact-a").await;
            assert!(matches!(result, Err(Error::NotFound { .. })), "{}: {result:?}", backend.name);
            assert!(!backend.store().exists(&keys::released(&acme, id)).await.unwrap(), "{}", backend.name);
        }
        assert!(is_complete(&library, &tenant("globex"), &other.id).await, "{}", backend.name);
    }
}

#[tokio::test]
async fn a_release_keeps_an_image_that_an_upload_of_the_same_bytes_just_leased() {
    for backend in backends::all().await {
        let library = backend.library(GRACE);
        let acme = tenant("acme");
        let bytes = photo(410);
        let image = library.upload(&acme, bytes.clone().into()).await.unwrap();
        library.claim(&acme, &image.id, "contact-a", image.lease_expires_at).await.unwrap();
        // Contact B is being created with the same picture: uploaded, not yet claimed.
        let again = library.upload(&acme, bytes.into()).await.unwrap();
        assert!(again.claimed && again.pending_expires_at.is_none(), "{}: the answer is unchanged", backend.name);

        let released = library.release(&acme, &image.id, "contact-a").await.unwrap();
        assert!(
            matches!(released.outcome, ReleaseOutcome::Pending { .. }),
            "{}: the upload's lease keeps it for B's claim: {released:?}",
            backend.name
        );
        library.claim(&acme, &image.id, "contact-b", again.lease_expires_at).await.expect("B's claim finds the image");
        assert!(is_complete(&library, &acme, &image.id).await, "{}", backend.name);
    }
}

#[tokio::test]
async fn a_claim_ends_its_own_uploads_lease_and_not_a_later_uploads() {
    for backend in backends::all().await {
        let library = backend.library(GRACE);
        let acme = tenant("acme");
        let bytes = photo(411);
        // Contacts A and B are created with the same picture, both uploads
        // before either claim arrives (e.g. claims queued while media-svc was down).
        let first = library.upload(&acme, bytes.clone().into()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let second = library.upload(&acme, bytes.into()).await.unwrap();
        assert_ne!(first.lease_expires_at, second.lease_expires_at, "{}: one lease per upload", backend.name);
        library.claim(&acme, &first.id, "contact-a", first.lease_expires_at).await.unwrap();
        // A is taken down before B's claim arrives.
        let released = library.release(&acme, &first.id, "contact-a").await.unwrap();
        assert!(
            matches!(released.outcome, ReleaseOutcome::Pending { .. }),
            "{}: B's upload still holds its lease: {released:?}",
            backend.name
        );
        library.claim(&acme, &first.id, "contact-b", second.lease_expires_at).await.expect("B's claim finds the image");
        assert!(is_complete(&library, &acme, &first.id).await, "{}", backend.name);
        // Every upload's lease is ended by its claim: the last release deletes at once.
        let released = library.release(&acme, &first.id, "contact-b").await.unwrap();
        assert_eq!(released.outcome, ReleaseOutcome::Deleted, "{}", backend.name);
    }
}

#[tokio::test]
async fn a_release_that_stopped_halfway_is_finished_by_a_retry_or_the_janitor() {
    for backend in backends::all().await {
        let library = backend.library(GRACE);
        let (acme, store) = (tenant("acme"), backend.store());

        // Stopped after step 2: the record is written, the claim removed, nothing deleted.
        let image = library.upload(&acme, photo(420).into()).await.unwrap();
        library.claim(&acme, &image.id, "contact-a", image.lease_expires_at).await.unwrap();
        store.put(&keys::released(&acme, &image.id), b"0".to_vec(), "text/plain").await.unwrap();
        store.delete(&keys::claim(&acme, &image.id, "contact-a")).await.unwrap();
        let report = library.sweep("janitor-a").await.unwrap();
        assert_eq!(report.deleted, 1, "{}: {report:?}", backend.name);
        let left = objects_of(&store, &acme, &image.id).await;
        assert!(left.is_empty(), "{}: the janitor finished it: {left:?}", backend.name);

        // Stopped during step 5: the manifest is gone, the rest is not.
        let image = library.upload(&acme, photo(421).into()).await.unwrap();
        library.claim(&acme, &image.id, "contact-a", image.lease_expires_at).await.unwrap();
        store.put(&keys::released(&acme, &image.id), b"0".to_vec(), "text/plain").await.unwrap();
        store.delete(&keys::claim(&acme, &image.id, "contact-a")).await.unwrap();
        store.delete(&keys::manifest(&acme, &image.id)).await.unwrap();
        let retried = library.release(&acme, &image.id, "contact-a").await.unwrap();
        assert_eq!(retried.outcome, ReleaseOutcome::Deleted, "{}", backend.name);
        let left = objects_of(&store, &acme, &image.id).await;
        assert!(left.is_empty(), "{}: the retry finished it: {left:?}", backend.name);
    }
}

#[tokio::test]
async fn the_janitor_forgets_release_records_after_the_grace_period() {
    for backend in backends::all().await {
        let grace = Duration::from_secs(1);
        let library = backend.library(grace);
        let acme = tenant("acme");
        let image = library.upload(&acme, photo(430).into()).await.unwrap();
        library.claim(&acme, &image.id, "contact-a", image.lease_expires_at).await.unwrap();
        library.release(&acme, &image.id, "contact-a").await.unwrap();
        let record = keys::released(&acme, &image.id);
        library.sweep("janitor-a").await.unwrap();
        assert!(backend.store().exists(&record).await.unwrap(), "{}: kept within the grace period", backend.name);

        tokio::time::sleep(grace * 2 + Duration::from_millis(100)).await;
        library.sweep("janitor-a").await.unwrap();
        assert!(!backend.store().exists(&record).await.unwrap(), "{}: gone after it", backend.name);
        let result = library.release(&acme, &image.id, "contact-a").await;
        assert!(matches!(result, Err(Error::NotFound { .. })), "{}: {result:?}", backend.name);
    }
}

/// Whether nothing but a complete image or nothing at all is left: no
/// manifest without its parts, no marker.
async fn whole_or_gone(library: &ImageLibrary, store: &ObjectStore, tenant: &TenantId, id: &ImageId) -> bool {
    let left = objects_of(store, tenant, id).await;
    let markers = left.iter().any(|key| key.contains("/deleting/"));
    !markers && (left.is_empty() || is_complete(library, tenant, id).await)
}

#[tokio::test]
async fn releases_racing_claims_on_another_replica_never_delete_a_claimed_image() {
    for backend in backends::all().await {
        let (releaser, claimer) = (backend.library(GRACE), backend.library(GRACE));
        let acme = tenant("acme");
        let mut ids = Vec::new();
        for round in 0..ROUNDS {
            let image = releaser.upload(&acme, photo(500 + round).into()).await.unwrap();
            releaser.claim(&acme, &image.id, "contact-a", image.lease_expires_at).await.unwrap();
            // The claimer's manifest cache knows the image, as a busy replica's would.
            assert!(signs(&claimer, &acme, &image.id).await);
            ids.push(image.id);
        }
        let rounds = ids.iter().zip(0..).map(|(id, round)| {
            let (releaser, claimer, acme, id) = (Arc::clone(&releaser), Arc::clone(&claimer), acme.clone(), id.clone());
            tokio::spawn(async move {
                // A claim left to itself beats a release every time (it has fewer steps): the
                // claimer first lists the image's objects 0 to 23 times, so claims land all along the release.
                let late_claim = async {
                    for _ in 0..round {
                        claimer.store().list(&keys::image_prefix(&acme, &id)).await.unwrap();
                    }
                    claimer.claim(&acme, &id, "contact-b", None).await
                };
                let (released, claimed) = tokio::join!(releaser.release(&acme, &id, "contact-a"), late_claim);
                (id, released.unwrap().outcome, claimed)
            })
        });
        let mut kept = 0;
        for (id, outcome, claimed) in futures::future::join_all(rounds).await.into_iter().map(Result::unwrap) {
            match claimed {
                Ok(_) => {
                    kept += 1;
                    assert_eq!(outcome, ReleaseOutcome::Claimed, "{}: {id}", backend.name);
                    assert!(is_complete(&claimer, &acme, &id).await, "{}: claimed {id} is incomplete", backend.name);
                }
                Err(Error::NotFound { .. }) => {
                    assert_eq!(outcome, ReleaseOutcome::Deleted, "{}: {id}", backend.name);
                    let left = objects_of(&backend.store(), &acme, &id).await;
                    assert!(left.is_empty(), "{}: {id} half there: {left:?}", backend.name);
                }
                Err(error) => panic!("{}: claim of {id}: {error}", backend.name),
            }
            assert!(whole_or_gone(&claimer, &backend.store(), &acme, &id).await, "{}: {id}", backend.name);
        }
        eprintln!("{}: {kept} of {ROUNDS} claims came first", backend.name);
        assert!(0 < kept && kept < ROUNDS, "{}: both orders must occur to test anything: {kept}", backend.name);
    }
}

#[tokio::test]
async fn releases_racing_uploads_on_another_replica_never_lose_the_uploaded_image() {
    for backend in backends::all().await {
        let (releaser, uploader) = (backend.library(GRACE), backend.library(GRACE));
        let acme = tenant("acme");
        let mut seeds = Vec::new();
        for round in 0..ROUNDS {
            let image = releaser.upload(&acme, photo(600 + round).into()).await.unwrap();
            releaser.claim(&acme, &image.id, "contact-a", image.lease_expires_at).await.unwrap();
            seeds.push((600 + round, image.id));
        }
        let rounds = seeds.into_iter().map(|(seed, id)| {
            let (releaser, uploader, acme) = (Arc::clone(&releaser), Arc::clone(&uploader), acme.clone());
            async move {
                let create_b = async {
                    for _ in 0..seed % 24 {
                        uploader.store().exists(&keys::manifest(&acme, &id)).await?;
                    }
                    let uploaded = uploader.upload(&acme, photo(seed).into()).await?;
                    uploader.claim(&acme, &uploaded.id, "contact-b", uploaded.lease_expires_at).await
                };
                let (released, created) = tokio::join!(releaser.release(&acme, &id, "contact-a"), create_b);
                (id, released.unwrap().outcome, created)
            }
        });
        // Two rounds at a time: the library's two workers take two uploads without refusing any.
        let rounds: Vec<_> = futures::stream::iter(rounds).buffer_unordered(2).collect().await;
        let deleted_first = rounds.iter().filter(|(_, outcome, _)| *outcome == ReleaseOutcome::Deleted).count();
        eprintln!("{}: {deleted_first} of {ROUNDS} releases deleted the image before the upload", backend.name);
        for (id, _, created) in rounds {
            // An upload that answered is followed by a claim that must find the image.
            let created =
                created.unwrap_or_else(|error| panic!("{}: upload then claim of {id}: {error}", backend.name));
            assert!(created.claimed, "{}", backend.name);
            assert!(is_complete(&uploader, &acme, &id).await, "{}: {id} is incomplete", backend.name);
            assert!(whole_or_gone(&uploader, &backend.store(), &acme, &id).await, "{}: {id}", backend.name);
        }
    }
}

/// Another replica's claim of the image, run whole at the release's
/// [`ProtocolStep::ReleaseBeforeMarker`]: after the release last looked at
/// the claims, before its marker exists. Its answer is kept for the test.
struct ClaimBeforeMarker {
    claimer: Arc<ImageLibrary>,
    tenant: TenantId,
    id: ImageId,
    answer: Mutex<Option<Result<(), Error>>>,
}

impl StepObserver for ClaimBeforeMarker {
    fn reached(&self, step: ProtocolStep) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if step == ProtocolStep::ReleaseBeforeMarker {
                let answer = self.claimer.claim(&self.tenant, &self.id, "contact-b", None).await.map(|_| ());
                *self.answer.lock().unwrap() = Some(answer);
            }
        })
    }
}

#[tokio::test]
async fn a_claim_between_the_releases_last_look_and_its_marker_keeps_the_image() {
    for backend in backends::all().await {
        let claimer = backend.library(GRACE);
        let acme = tenant("acme");
        let image = claimer.upload(&acme, photo(700).into()).await.unwrap();
        claimer.claim(&acme, &image.id, "contact-a", image.lease_expires_at).await.unwrap();

        // Why this fails when the release decides on the claims it read before
        // its marker: the claim runs whole in between (no marker to wait for,
        // image complete) and is acknowledged, then the release deletes the
        // image. Re-reading the claims under the marker sees contact-b's.
        let observer = Arc::new(ClaimBeforeMarker {
            claimer: Arc::clone(&claimer),
            tenant: acme.clone(),
            id: image.id.clone(),
            answer: Mutex::new(None),
        });
        let releaser = backend.image_library(GRACE).with_observer(observer.clone());
        let released = releaser.release(&acme, &image.id, "contact-a").await.unwrap();

        let answer = observer.answer.lock().unwrap().take().expect("the claim ran inside the release");
        answer.unwrap_or_else(|error| panic!("{}: the claim is acknowledged: {error}", backend.name));
        assert_eq!(released.outcome, ReleaseOutcome::Claimed, "{}", backend.name);
        assert!(is_complete(&claimer, &acme, &image.id).await, "{}: the claimed image stays whole", backend.name);
    }
}
