//! media-svc as other services see it: the real binary over real gRPC.

use std::time::Duration;

use futures::StreamExt;

use accommador_proto::{
    accommador::media::v1::{
        ClaimImageRequest, ImageFormat, ReleaseImageRequest, SignImageUrlsRequest, UploadImageRequest,
        ValidateImageRequest, media_service_client::MediaServiceClient,
    },
    status::{error_info, field_violations},
};
use accommador_tests::{ServerProcess, clients::media_client, pictures::camera_photo, start_media, tenant_request};
use media_svc::samples::{self, JpegOptions, PngOptions};
use tonic::{Code, transport::Channel};

fn client(server: &ServerProcess) -> MediaServiceClient<Channel> {
    media_client(server)
}

fn photo() -> Vec<u8> {
    camera_photo(1024, 768, 7)
}

fn upload(data: Vec<u8>) -> tonic::Request<UploadImageRequest> {
    tenant_request("acme", UploadImageRequest { data, request_id: String::new() })
}

#[tokio::test]
async fn upload_claim_sign_and_fetch_through_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let mut media_client = client(&media);

    let bytes = photo();
    let info = media_client
        .validate_image(tenant_request("acme", ValidateImageRequest { data: bytes.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((info.format(), info.width, info.height, info.exif_orientation), (ImageFormat::Jpeg, 1024, 768, 6));
    assert_eq!(info.size_bytes, bytes.len() as u64);

    let image = media_client.upload_image(upload(bytes)).await.unwrap().into_inner();
    assert_eq!(image.image_id.len(), 64);
    assert!(!image.claimed && image.pending_expire_time.is_some());
    let sizes: Vec<_> = image.renditions.iter().map(|r| (r.size, r.width, r.content_type.as_str())).collect();
    assert_eq!(sizes, [(128, 128, "image/jpeg"), (512, 512, "image/jpeg")]);

    let claimed = media_client
        .claim_image(tenant_request(
            "acme",
            ClaimImageRequest {
                image_id: image.image_id.clone(),
                owner: "c-1".into(),
                lease_expire_time: image.lease_expire_time,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(claimed.claimed && claimed.pending_expire_time.is_none());

    let ttl = prost_types::Duration { seconds: 600, nanos: 0 };
    let request = SignImageUrlsRequest { image_ids: vec![image.image_id.clone()], ttl: Some(ttl), skip_missing: false };
    let signed = media_client.sign_image_urls(tenant_request("acme", request)).await.unwrap().into_inner();
    let rendition = &signed.images[0].renditions[1];
    let response = reqwest::get(&rendition.url).await.unwrap();
    assert_eq!(response.status(), 200, "GET {}", rendition.url);
    let picture = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((picture.width(), picture.height()), (512, 512));

    // Another tenant learns nothing about the image.
    let request = SignImageUrlsRequest { image_ids: vec![image.image_id.clone()], ttl: None, skip_missing: false };
    let status = media_client.sign_image_urls(tenant_request("intruder", request)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test]
async fn bad_images_get_invalid_argument_with_reason_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let mut media_client = client(&media);

    let mut just_too_large = photo();
    just_too_large.resize(2_621_441, 0);
    let cases = [
        (b"GIF89a\x01\x00\x01\x00".to_vec(), accommador_proto::reasons::IMAGE_FORMAT_UNSUPPORTED, "only JPEG and PNG"),
        (Vec::new(), accommador_proto::reasons::IMAGE_FORMAT_UNSUPPORTED, "only JPEG and PNG"),
        (
            just_too_large,
            accommador_proto::reasons::IMAGE_TOO_LARGE,
            "the picture is 2.5 MiB (2621441 bytes); the limit is 2.5 MiB (2621440 bytes)",
        ),
        (samples::png_bomb(65_535, 65_535), accommador_proto::reasons::IMAGE_DIMENSIONS_OUT_OF_RANGE, "65535x65535"),
        (photo()[..5000].to_vec(), accommador_proto::reasons::IMAGE_CORRUPT, "corrupt"),
    ];
    for (bytes, reason, message) in cases {
        let status = media_client.upload_image(upload(bytes)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{reason}: {status:?}");
        assert!(status.message().contains(message), "{reason}: message {:?}", status.message());
        let info = error_info(&status).expect("ErrorInfo");
        assert_eq!((info.reason.as_str(), info.domain.as_str()), (reason, "media.accommador"));
        let violations = field_violations(&status);
        assert_eq!(violations.len(), 1, "{reason}: one violation");
        assert_eq!(violations[0].field, "data");
    }

    // A phone photo of 5 MiB is a picture too large, not a transport error
    // (pictures.rs covers every size up to the transport's limit).
    let phone_photo = vec![0xFF; 5 * 1024 * 1024];
    let status = media_client.upload_image(upload(phone_photo)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::IMAGE_TOO_LARGE);
    assert!(status.message().contains("5.0 MiB (5242880 bytes)"), "{}", status.message());
    // The server keeps serving.
    media_client.upload_image(upload(photo())).await.expect("still serving");
}

#[tokio::test]
async fn bad_fields_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let mut media_client = client(&media);

    let request = SignImageUrlsRequest {
        image_ids: vec!["nope".into(), "0".repeat(64)],
        ttl: Some(prost_types::Duration { seconds: 8 * 24 * 3600, nanos: 0 }),
        skip_missing: false,
    };
    let status = media_client.sign_image_urls(tenant_request("acme", request)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<_> = field_violations(&status).into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["image_ids[0]", "ttl"]);

    let request = ClaimImageRequest { image_id: "0".repeat(64), owner: String::new(), lease_expire_time: None };
    let status = media_client.claim_image(tenant_request("acme", request)).await.unwrap_err();
    assert_eq!((status.code(), field_violations(&status)[0].field.as_str()), (Code::InvalidArgument, "owner"));
}

#[tokio::test]
async fn work_that_cannot_finish_before_its_deadline_is_refused_at_once_and_the_rest_waits() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[("MEDIA_WORKERS", "1".to_owned())]).await.unwrap();
    // Distinct large images so none dedupes onto another.
    let images: Vec<_> = (0..8)
        .map(|seed| samples::jpeg(&samples::photo(3000, 2000, seed), JpegOptions { quality: 60, ..Default::default() }))
        .collect();
    // First with no deadline: one worker, and every image waits its turn.
    let calls = images.iter().cloned().map(|bytes| {
        let mut media_client = client(&media);
        async move { media_client.upload_image(upload(bytes)).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "with time to wait, every upload waits: {results:?}");

    // Then with a deadline shorter than the queue ahead: the later ones are refused at once.
    let calls = (100..108).map(|seed| {
        let mut media_client = client(&media);
        // New images: the first round stored those.
        let bytes = samples::jpeg(&samples::photo(3000, 2000, seed), JpegOptions { quality: 60, ..Default::default() });
        async move {
            let mut request = upload(bytes);
            request.set_timeout(std::time::Duration::from_millis(400));
            media_client.upload_image(request).await
        }
    });
    let results = futures::future::join_all(calls).await;
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!refused.is_empty(), "8 images cannot all be done by one worker in 400 ms");
    for status in &refused {
        if status.code() == Code::ResourceExhausted {
            let info = error_info(status).unwrap();
            assert_eq!(info.reason, accommador_proto::reasons::OVERLOADED);
            assert_eq!(info.metadata["workers"], "1");
        } else {
            // One admitted in time may still run out of it; tonic's client
            // reports its own timer's expiry as CANCELLED "Timeout expired".
            assert!(matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled), "{status:?}");
        }
    }
    assert!(
        refused.iter().any(|status| status.code() == Code::ResourceExhausted),
        "the hopeless ones are refused at once, not left to time out: {refused:?}"
    );
}

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let png = samples::png_rgba(&samples::logo(300, 300), &PngOptions::default());
    let image = client(&media).upload_image(upload(png)).await.unwrap().into_inner();
    assert_eq!(image.renditions[1].content_type, "image/png", "a logo with transparency stays PNG");
    assert!(media.terminate().await.unwrap().success());

    let media = start_media(dir.path(), &[]).await.unwrap();
    let request = SignImageUrlsRequest { image_ids: vec![image.image_id], ttl: None, skip_missing: false };
    let signed = client(&media).sign_image_urls(tenant_request("acme", request)).await.unwrap().into_inner();
    let response = reqwest::get(&signed.images[0].renditions[0].url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn process_command_writes_renditions_and_reports_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jpg");
    let bad = dir.path().join("bad.png");
    std::fs::write(&good, photo()).unwrap();
    std::fs::write(&bad, b"GIF89a not really").unwrap();
    let out = dir.path().join("out");
    let output = accommador_tests::Server::media()
        .command()
        .args(["process", good.to_str().unwrap(), bad.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "a refused file makes the exit status 1");
    let lines: Vec<serde_json::Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["renditions"][1]["width"], 512);
    assert_eq!(lines[0]["image"]["orientation"], 6);
    assert_eq!(lines[1]["error"]["reason"], accommador_proto::reasons::IMAGE_FORMAT_UNSUPPORTED);
    let written = image::open(out.join("good-512.jpg")).unwrap();
    assert_eq!((written.width(), written.height()), (512, 512));
    assert!(out.join("good-128.jpg").exists());
}

#[tokio::test]
async fn upload_refuses_a_request_id_over_its_documented_limit() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let mut media_client = client(&media);
    let request = |request_id: String| tenant_request("acme", UploadImageRequest { data: photo(), request_id });

    let status = media_client.upload_image(request("r".repeat(129))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("128"), "names the limit: {}", status.message());
    let fields: Vec<_> = field_violations(&status).into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["request_id"]);
    media_client.upload_image(request("r".repeat(128))).await.expect("128 characters are fine");
}

/// A claim; `lease` is the lease of the upload it follows (UploadImage's
/// `lease_expire_time`), which the claim ends.
fn claim(image_id: &str, owner: &str, lease: Option<prost_types::Timestamp>) -> tonic::Request<ClaimImageRequest> {
    tenant_request(
        "acme",
        ClaimImageRequest { image_id: image_id.into(), owner: owner.into(), lease_expire_time: lease },
    )
}

fn release(tenant: &str, image_id: &str, owner: &str) -> tonic::Request<ReleaseImageRequest> {
    tenant_request(tenant, ReleaseImageRequest { image_id: image_id.into(), owner: owner.into() })
}

fn sign(image_id: &str, skip_missing: bool) -> tonic::Request<SignImageUrlsRequest> {
    let ttl = Some(prost_types::Duration { seconds: 600, nanos: 0 });
    tenant_request("acme", SignImageUrlsRequest { image_ids: vec![image_id.into()], ttl, skip_missing })
}

/// Objects of the embedded S3 server's bucket that belong to the image
/// (its release record aside), listed from the disk that holds them.
fn stored_files(dir: &std::path::Path, image_id: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                // s3s-fs leaves empty folders behind: they are not objects.
                folders.push(path);
                continue;
            }
            let path = path.to_string_lossy().into_owned();
            if path.contains(image_id) && !path.contains("/released/") {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn the_last_release_deletes_the_picture_and_its_urls_stop_working() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let mut media_client = client(&media);
    let image = media_client.upload_image(upload(photo())).await.unwrap().into_inner();
    let id = image.image_id.as_str();
    media_client.claim_image(claim(id, "c-a", image.lease_expire_time)).await.unwrap();
    media_client.claim_image(claim(id, "c-b", None)).await.unwrap();
    let signed = media_client.sign_image_urls(sign(id, false)).await.unwrap().into_inner();
    let url = signed.images[0].renditions[0].url.clone();

    let released = media_client.release_image(release("acme", id, "c-a")).await.unwrap().into_inner();
    assert!(released.owner_claim_removed && released.claimed && !released.image_deleted, "{released:?}");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200, "B's picture is still served");
    let signed = media_client.sign_image_urls(sign(id, false)).await.unwrap().into_inner();
    assert_eq!(reqwest::get(&signed.images[0].renditions[1].url).await.unwrap().status(), 200);

    let released = media_client.release_image(release("acme", id, "c-b")).await.unwrap().into_inner();
    assert!(released.owner_claim_removed && !released.claimed && released.image_deleted, "{released:?}");
    assert!(released.pending_expire_time.is_none());
    let left = stored_files(dir.path(), id);
    assert!(left.is_empty(), "every object of the image is gone from the bucket: {left:?}");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 404, "a URL signed before stops working");
    let signed = media_client.sign_image_urls(sign(id, true)).await.unwrap().into_inner();
    assert!(signed.images.is_empty() && signed.missing_image_ids == [id], "{signed:?}");
    let status = media_client.sign_image_urls(sign(id, false)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // Retries and owners that never claimed it succeed.
    for owner in ["c-b", "c-a", "never-claimed"] {
        let again = media_client.release_image(release("acme", id, owner)).await.unwrap().into_inner();
        assert!(!again.owner_claim_removed && again.image_deleted, "{owner}: {again:?}");
    }
    // Another tenant's image is NOT_FOUND, as is an unknown one.
    let theirs = media_client
        .upload_image(tenant_request("globex", UploadImageRequest { data: photo(), request_id: String::new() }))
        .await
        .unwrap()
        .into_inner();
    for unknown in [theirs.image_id.clone(), "ab".repeat(32)] {
        let status = media_client.release_image(release("acme", &unknown, "c-a")).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        let info = error_info(&status).unwrap();
        assert_eq!(info.reason, accommador_proto::reasons::IMAGE_NOT_FOUND);
        assert_eq!(info.metadata["image_id"], unknown);
    }
    // Bad fields are named.
    let status = media_client.release_image(release("acme", "nope", "c-a")).await.unwrap_err();
    assert_eq!((status.code(), field_violations(&status)[0].field.as_str()), (Code::InvalidArgument, "image_id"));
    let status = media_client.release_image(release("acme", id, &"o".repeat(129))).await.unwrap_err();
    assert_eq!((status.code(), field_violations(&status)[0].field.as_str()), (Code::InvalidArgument, "owner"));
    assert!(status.message().contains("128"), "names the limit: {}", status.message());
}

#[tokio::test]
async fn a_release_racing_a_claim_never_leaves_a_claimed_picture_without_its_objects() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let mut media_client = client(&media);
    let mut ids = Vec::new();
    for seed in 0..24 {
        let bytes = samples::jpeg(&samples::photo(200, 200, 900 + seed), JpegOptions::default());
        let image = media_client.upload_image(upload(bytes)).await.unwrap().into_inner();
        media_client.claim_image(claim(&image.image_id, "c-a", image.lease_expire_time)).await.unwrap();
        ids.push(image.image_id);
    }
    let mut urls = Vec::new();
    for id in &ids {
        let signed = media_client.sign_image_urls(sign(id, false)).await.unwrap().into_inner();
        urls.push(signed.images[0].renditions[0].url.clone());
    }
    let rounds = ids.iter().zip(urls).enumerate().map(|(round, (id, url))| {
        let (mut releaser, mut claimer) = (client(&media), client(&media));
        async move {
            // Left to itself a claim beats a release every time (it has fewer steps): the
            // claimer first fetches the picture 0 to 23 times and waits 0 to 230 ms, so
            // claims land all along the release however long it takes on this machine.
            let late_claim = async {
                for _ in 0..round {
                    reqwest::get(&url).await.unwrap();
                }
                tokio::time::sleep(Duration::from_millis(10 * round as u64)).await;
                claimer.claim_image(claim(id, "c-b", None)).await
            };
            let (released, claimed) = tokio::join!(releaser.release_image(release("acme", id, "c-a")), late_claim);
            (id, released.unwrap().into_inner(), claimed)
        }
    });
    let mut claimed_first = 0;
    for (id, released, claimed) in futures::future::join_all(rounds).await {
        match claimed {
            Ok(_) => {
                claimed_first += 1;
                assert!(released.claimed && !released.image_deleted, "{id}: {released:?}");
                let signed = media_client.sign_image_urls(sign(id, false)).await.unwrap().into_inner();
                for rendition in &signed.images[0].renditions {
                    let status = reqwest::get(&rendition.url).await.unwrap().status();
                    assert_eq!(status, 200, "{id}: claimed, so its {} px rendition must be there", rendition.size);
                }
            }
            Err(status) => {
                assert_eq!(status.code(), Code::NotFound, "{id}: {status:?}");
                assert!(released.image_deleted, "{id}: {released:?}");
                let left = stored_files(dir.path(), id);
                assert!(left.is_empty(), "{id}: nothing is left half there: {left:?}");
            }
        }
    }
    eprintln!("{claimed_first} of {} claims came before the release", ids.len());
    assert!(0 < claimed_first && claimed_first < ids.len(), "both orders must occur to test anything");
}

#[tokio::test]
async fn many_owners_releasing_one_picture_at_once_all_succeed_and_the_last_deletes_it() {
    const OWNERS: usize = 300;
    const AT_ONCE: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let mut media_client = client(&media);
    let image = media_client.upload_image(upload(photo())).await.unwrap().into_inner();
    let id = image.image_id.clone();
    for owner in 0..OWNERS {
        media_client.claim_image(claim(&id, &format!("owner-{owner}"), image.lease_expire_time)).await.unwrap();
    }
    let releases = futures::stream::iter(0..OWNERS)
        .map(|owner| {
            let (mut releaser, id) = (client(&media), id.clone());
            async move { releaser.release_image(release("acme", &id, &format!("owner-{owner}"))).await }
        })
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let failed: Vec<String> = releases.iter().filter_map(|r| r.as_ref().err()).map(|s| format!("{s:?}")).collect();
    assert!(failed.is_empty(), "{} of {OWNERS} releases failed, e.g. {:?}", failed.len(), failed.first());
    assert!(releases.iter().flatten().any(|r| r.get_ref().image_deleted), "the last release deletes the image");
    let left = stored_files(dir.path(), &id);
    assert!(left.is_empty(), "every object of the image is gone: {left:?}");
}

#[tokio::test]
async fn upload_claim_and_sign_answer_the_same_thumbhash_and_dominant_colour_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let png = samples::png_rgba(&samples::logo(300, 300), &PngOptions::default());
    let uploaded = client(&media).upload_image(upload(png.clone())).await.unwrap().into_inner();
    assert_eq!(uploaded.dominant_color, "#c81e1e", "the logo's disc: its transparent background does not count");
    assert!((1..=30).contains(&uploaded.thumbhash.len()), "a ThumbHash of {} bytes", uploaded.thumbhash.len());
    let preview = (uploaded.thumbhash.clone(), uploaded.dominant_color.clone());
    let again = client(&media).upload_image(upload(png)).await.unwrap().into_inner();
    assert_eq!((again.thumbhash, again.dominant_color), preview.clone(), "the same bytes, the same preview");
    let claimed = client(&media)
        .claim_image(claim(&uploaded.image_id, "c-1", uploaded.lease_expire_time))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((claimed.thumbhash, claimed.dominant_color), preview.clone());
    assert!(media.terminate().await.unwrap().success());

    // Kept in the manifest: a restarted server (or any replica) answers it.
    let media = start_media(dir.path(), &[]).await.unwrap();
    let signed = client(&media).sign_image_urls(sign(&uploaded.image_id, false)).await.unwrap().into_inner();
    let signed = &signed.images[0];
    assert_eq!((signed.thumbhash.clone(), signed.dominant_color.clone()), preview);
}
