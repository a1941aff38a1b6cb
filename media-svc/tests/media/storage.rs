//! The image library against real S3 servers: uploads, dedupe, claims,
//! signed URLs fetched over HTTP, privacy, tampering, expiry.

use std::time::Duration;

use media_svc::{
    error::Error,
    images::{ImageId, MissingIds, UrlTtl, keys},
    samples,
};

use crate::{
    backends,
    helpers::{phone_photo, tenant},
};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

async fn fetch(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let response = reqwest::get(url).await.expect("HTTP request reaches the server");
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, content_type, response.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn uploads_are_fetchable_through_signed_urls_without_metadata() {
    for backend in backends::all().await {
        let library = backend.library(Duration::from_secs(3600));
        let acme = tenant("acme");
        let stored = library.upload(&acme, phone_photo(1).into()).await.expect("upload");
        assert!(!stored.claimed && stored.pending_expires_at.is_some(), "{}: new uploads are pending", backend.name);

        let signed = library
            .sign(&acme, std::slice::from_ref(&stored.id), UrlTtl::default(), MissingIds::Fail)
            .await
            .unwrap()
            .images;
        let renditions = &signed[0].renditions;
        assert_eq!(renditions.iter().map(|r| r.rendition.size).collect::<Vec<_>>(), [128, 512], "{}", backend.name);
        for signed in renditions {
            assert!(!signed.url.contains("original"), "{}: the original is never signed", backend.name);
            let (status, content_type, body) = fetch(&signed.url).await;
            assert_eq!(status, 200, "{}: GET {}", backend.name, signed.url);
            assert_eq!(content_type.as_deref(), Some("image/jpeg"), "{}", backend.name);
            let image = image::load_from_memory(&body).expect("a JPEG");
            assert_eq!((image.width(), image.height()), (signed.rendition.size, signed.rendition.size));
            assert!(
                !contains(&body, b"Exif") && !contains(&body, samples::EXIF_MARKER),
                "{}: EXIF leaked",
                backend.name
            );
        }
    }
}

#[tokio::test]
async fn the_same_bytes_give_the_same_id_and_are_stored_once() {
    for backend in backends::all().await {
        let library = backend.library(Duration::from_secs(3600));
        let acme = tenant("acme");
        let bytes = phone_photo(2);
        let first = library.upload(&acme, bytes.clone().into()).await.unwrap();
        // The image's objects, not the uploads' leases (one per upload).
        let image_objects =
            || async { backend.store().list(&format!("acme/images/{}/", first.id)).await.unwrap().len() };
        let objects_after_first = image_objects().await;
        let second = library.upload(&acme, bytes.clone().into()).await.unwrap();
        assert_eq!(first.id, second.id, "{}", backend.name);
        assert_eq!(image_objects().await, objects_after_first, "{}: stored once", backend.name);
        assert_eq!(
            backend.store().list("acme/pending/").await.unwrap().len(),
            2,
            "{}: a lease per upload",
            backend.name
        );

        let other = library.upload(&tenant("other"), bytes.into()).await.unwrap();
        assert_ne!(other.id, first.id, "{}: tenants get their own copy", backend.name);
        assert!(
            backend
                .store()
                .list("")
                .await
                .unwrap()
                .iter()
                .all(|o| o.key.starts_with("acme/") || o.key.starts_with("other/")),
            "{}: every key starts with its tenant",
            backend.name
        );
    }
}

#[tokio::test]
async fn the_original_is_kept_privately() {
    for backend in backends::all().await {
        let library = backend.library(Duration::from_secs(3600));
        let acme = tenant("acme");
        let bytes = phone_photo(3);
        let stored = library.upload(&acme, bytes.clone().into()).await.unwrap();
        let original = backend.store().get(&keys::original(&acme, &stored.id)).await.unwrap();
        assert_eq!(original.as_deref(), Some(bytes.as_slice()), "{}: original kept byte for byte", backend.name);
    }
}

#[tokio::test]
async fn the_bucket_refuses_anonymous_tampered_and_expired_requests() {
    for backend in backends::all().await {
        let library = backend.library(Duration::from_secs(3600));
        let acme = tenant("acme");
        let stored = library.upload(&acme, phone_photo(4).into()).await.unwrap();
        let ttl = UrlTtl::parse(Duration::from_secs(2)).unwrap();
        let signed = library.sign(&acme, std::slice::from_ref(&stored.id), ttl, MissingIds::Fail).await.unwrap().images;
        let url = signed[0].renditions[1].url.clone();
        assert_eq!(fetch(&url).await.0, 200, "{}: the signed URL works", backend.name);

        let anonymous = url.split('?').next().unwrap();
        let tampered_signature = {
            let (head, signature) = url.rsplit_once("X-Amz-Signature=").expect("SigV4 query");
            let flipped = if signature.starts_with('0') { "1" } else { "0" };
            format!("{head}X-Amz-Signature={flipped}{}", &signature[1..])
        };
        let other_object = url.replace("/512.jpg", "/128.jpg");
        let original = url.replace("/512.jpg", "/original");
        for (what, url) in [
            ("anonymous", anonymous.to_owned()),
            ("tampered signature", tampered_signature),
            ("other object", other_object),
            ("original", original),
        ] {
            let status = fetch(&url).await.0;
            assert!((400..500).contains(&status), "{}: {what} must be refused, got {status}", backend.name);
        }

        // The URL was signed at the start of a one-second bucket and lives two seconds.
        tokio::time::sleep(Duration::from_millis(3100)).await;
        let status = fetch(&url).await.0;
        assert!((400..500).contains(&status), "{}: expired URL must be refused, got {status}", backend.name);
    }
}

#[tokio::test]
async fn urls_are_identical_within_a_time_bucket() {
    for backend in backends::all().await {
        let library = backend.library(Duration::from_secs(3600));
        let acme = tenant("acme");
        let stored = library.upload(&acme, phone_photo(5).into()).await.unwrap();
        let ids = [stored.id.clone(), stored.id.clone()];
        let first = library.sign(&acme, &ids, UrlTtl::default(), MissingIds::Fail).await.unwrap().images;
        let again = library.sign(&acme, &ids, UrlTtl::default(), MissingIds::Fail).await.unwrap().images;
        // Several calls could straddle a bucket boundary only once every 30 minutes.
        assert_eq!(first[0].renditions[0].url, again[1].renditions[0].url, "{}", backend.name);
        assert_eq!(first[0].expires_at, again[0].expires_at);
        let remaining = first[0].expires_at.duration_since(std::time::SystemTime::now()).unwrap();
        assert!(remaining >= Duration::from_secs(1800), "{}: at least TTL/2 left, got {remaining:?}", backend.name);
    }
}

#[tokio::test]
async fn unknown_and_foreign_ids_are_not_found() {
    for backend in backends::all().await {
        let library = backend.library(Duration::from_secs(3600));
        let stored = library.upload(&tenant("acme"), phone_photo(6).into()).await.unwrap();
        let unknown = ImageId::of(&tenant("acme"), b"never uploaded");
        for (who, id) in [("other tenant", stored.id.clone()), ("unknown", unknown)] {
            let caller = if who == "other tenant" { tenant("intruder") } else { tenant("acme") };
            let signed = library.sign(&caller, std::slice::from_ref(&id), UrlTtl::default(), MissingIds::Fail).await;
            assert!(matches!(signed, Err(Error::NotFound { .. })), "{}: sign {who}: {signed:?}", backend.name);
            let claimed = library.claim(&caller, &id, "contact-1", None).await;
            assert!(matches!(claimed, Err(Error::NotFound { .. })), "{}: claim {who}: {claimed:?}", backend.name);
        }
        assert!(
            backend.store().list("intruder/").await.unwrap().is_empty(),
            "{}: failed calls write nothing",
            backend.name
        );
    }
}

#[tokio::test]
async fn claims_are_idempotent_and_shared_by_owners() {
    for backend in backends::all().await {
        let library = backend.library(Duration::from_secs(3600));
        let acme = tenant("acme");
        let stored = library.upload(&acme, phone_photo(7).into()).await.unwrap();
        for owner in ["contact-1", "contact-1", "contact-2"] {
            let claimed = library.claim(&acme, &stored.id, owner, stored.lease_expires_at).await.unwrap();
            assert!(claimed.claimed && claimed.pending_expires_at.is_none(), "{}", backend.name);
        }
        assert_eq!(backend.store().list(&keys::claims_prefix(&acme, &stored.id)).await.unwrap().len(), 2);
        let again = library.upload(&acme, phone_photo(7).into()).await.unwrap();
        assert!(again.claimed && again.pending_expires_at.is_none(), "{}: re-upload sees the claim", backend.name);
    }
}

#[tokio::test]
async fn skip_missing_signs_the_known_ids_in_order_and_lists_the_unknown_once() {
    for backend in backends::all().await {
        let library = backend.library(Duration::from_secs(3600));
        let acme = tenant("acme");
        let first = library.upload(&acme, phone_photo(8).into()).await.unwrap().id;
        let second = library.upload(&acme, phone_photo(9).into()).await.unwrap().id;
        let (gone, also_gone) = (ImageId::of(&acme, b"never uploaded"), ImageId::of(&acme, b"cleaned up"));
        let ids = [first.clone(), gone.clone(), second.clone(), also_gone.clone()];

        let batch = library.sign(&acme, &ids, UrlTtl::default(), MissingIds::Skip).await.unwrap();
        let signed: Vec<_> = batch.images.iter().map(|image| image.id.clone()).collect();
        assert_eq!(signed, [first.clone(), second], "{}: the known ids, signed in request order", backend.name);
        assert!(batch.images.iter().all(|image| image.renditions.len() == 2), "{}: every rendition", backend.name);
        assert_eq!(batch.missing, [gone.clone(), also_gone], "{}: the unknown ids, in request order", backend.name);

        let repeated = [gone.clone(), first, gone.clone()];
        let batch = library.sign(&acme, &repeated, UrlTtl::default(), MissingIds::Skip).await.unwrap();
        assert_eq!(batch.missing, [gone], "{}: an unknown id asked twice is listed once", backend.name);

        let all_or_nothing = library.sign(&acme, &ids, UrlTtl::default(), MissingIds::Fail).await;
        assert!(matches!(all_or_nothing, Err(Error::NotFound { .. })), "{}: {all_or_nothing:?}", backend.name);
    }
}
