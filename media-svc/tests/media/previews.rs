//! The preview (ThumbHash and dominant colour) is stored with the image:
//! the upload answers it, every replica signs it, a re-upload and a claim
//! answer the same; an image stored before previews existed has none.

use std::time::Duration;

use media_svc::{
    images::{ImageId, ImageLibrary, MissingIds, UrlTtl, keys},
    pipeline::{Preview, Rgb},
    samples::{self, PngOptions},
};

use crate::{
    backends,
    helpers::{phone_photo, tenant},
};

const GRACE: Duration = Duration::from_secs(3600);

async fn signed_preview(library: &ImageLibrary, tenant_name: &str, id: &ImageId) -> Option<Preview> {
    let batch = library.sign(&tenant(tenant_name), std::slice::from_ref(id), UrlTtl::default(), MissingIds::Fail).await;
    batch.expect("the image signs").images.remove(0).preview
}

#[tokio::test]
async fn upload_sign_claim_and_reupload_answer_the_same_stored_preview() {
    for backend in backends::all().await {
        let library = backend.library(GRACE);
        let acme = tenant("acme");
        let logo = samples::png_rgba(&samples::logo(300, 300), &PngOptions::default());
        for (bytes, colour) in [(phone_photo(21), None), (logo, Some(Rgb([200, 30, 30])))] {
            let stored = library.upload(&acme, bytes.clone().into()).await.unwrap();
            let preview = stored.manifest.preview.clone().unwrap_or_else(|| panic!("{}: no preview", backend.name));
            assert!((1..=30).contains(&preview.thumbhash.len()), "{}: {preview:?}", backend.name);
            thumbhash::thumb_hash_to_rgba(&preview.thumbhash).expect("the ThumbHash decodes");
            if let Some(colour) = colour {
                assert_eq!(preview.dominant_color, colour, "{}: the logo's disc", backend.name);
            }

            // Another replica, with nothing cached, reads it from the bucket.
            let replica = backend.library(GRACE);
            assert_eq!(signed_preview(&replica, "acme", &stored.id).await.as_ref(), Some(&preview), "{}", backend.name);
            let again = replica.upload(&acme, bytes.into()).await.unwrap();
            assert_eq!((&again.id, again.manifest.preview.as_ref()), (&stored.id, Some(&preview)), "{}", backend.name);
            let claimed = replica.claim(&acme, &stored.id, "contact-1", again.lease_expires_at).await.unwrap();
            assert_eq!(claimed.manifest.preview.as_ref(), Some(&preview), "{}", backend.name);
        }
    }
}

#[tokio::test]
async fn an_image_stored_before_previews_reads_without_one() {
    for backend in backends::all().await {
        let acme = tenant("acme");
        let bytes = phone_photo(22);
        let stored = backend.library(GRACE).upload(&acme, bytes.clone().into()).await.unwrap();
        // Rewrite its manifest as media-svc wrote them before previews.
        let key = keys::manifest(&acme, &stored.id);
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&backend.store().get(&key).await.unwrap().expect("the manifest")).unwrap();
        assert!(manifest.as_object_mut().unwrap().remove("preview").is_some(), "{}: {manifest}", backend.name);
        backend.store().put(&key, serde_json::to_vec(&manifest).unwrap(), "application/json").await.unwrap();

        let replica = backend.library(GRACE);
        assert_eq!(signed_preview(&replica, "acme", &stored.id).await, None, "{}", backend.name);
        let again = replica.upload(&acme, bytes.into()).await.expect("the old image is found complete");
        assert_eq!((again.id, again.manifest.preview.clone()), (stored.id.clone(), None), "{}", backend.name);
        let claimed = replica.claim(&acme, &stored.id, "contact-1", None).await.unwrap();
        assert_eq!(claimed.manifest.preview, None, "{}", backend.name);
    }
}
