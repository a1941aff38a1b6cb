//! The janitor against real S3 servers: pending images go after the grace
//! period, claimed ones stay, and concurrent janitors, claims and uploads
//! lose nothing that was claimed or handed out.

mod backends;

use std::{sync::Arc, time::Duration};

use accommador_proto::tenant::TenantId;
use media_svc::{
    images::{ImageId, ImageLibrary},
    samples::{self, JpegOptions},
    storage::keys,
};

const GRACE: Duration = Duration::from_secs(3);

fn photo(seed: u32) -> Vec<u8> {
    samples::jpeg(&samples::photo(200, 200, seed), JpegOptions::default())
}

async fn is_complete(library: &ImageLibrary, tenant: &TenantId, id: &ImageId) -> bool {
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
        let acme = TenantId::parse("acme").unwrap();
        let pending = library.upload(&acme, photo(1).into()).await.unwrap();
        let claimed = library.upload(&acme, photo(2).into()).await.unwrap();
        library.claim(&acme, &claimed.id, "contact-1").await.unwrap();

        let early = library.sweep("janitor-a").await.unwrap();
        assert_eq!(early.deleted, 0, "{}: nothing is deleted within the grace period", backend.name);

        tokio::time::sleep(GRACE * 2 + Duration::from_millis(100)).await;
        let report = library.sweep("janitor-a").await.unwrap();
        assert_eq!(report.deleted, 1, "{}: {report:?}", backend.name);
        let leftovers = backend.store().list(&keys::image_prefix(&acme, &pending.id)).await.unwrap();
        assert!(leftovers.is_empty(), "{}: every object of the pending image is gone: {leftovers:?}", backend.name);
        assert!(!backend.store().exists(&keys::pending(&acme, &pending.id)).await.unwrap());
        assert!(is_complete(&library, &acme, &claimed.id).await, "{}: the claimed image stays whole", backend.name);
    }
}

#[tokio::test]
async fn concurrent_janitors_claims_and_uploads_lose_nothing() {
    for backend in backends::all().await {
        let library = backend.library(GRACE);
        let acme = TenantId::parse("acme").unwrap();
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
            tokio::spawn(async move { (id.clone(), library.claim(&tenant, &id, "contact-9").await.is_ok()) })
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
