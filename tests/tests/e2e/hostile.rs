//! The hostile-image corpus (made by code in media-svc's samples) through
//! CreateContact, end to end: every refused file gives INVALID_ARGUMENT with
//! its reason and leaves no contact and no object behind; every valid one
//! gives correct renditions without metadata; and with the most expensive
//! files the limits accept decoded two at a time, media-svc's memory stays
//! within its baseline plus one memory budget per worker.

use std::collections::HashSet;

use accommador_proto::{accommador::contacts::v1::contacts_service_client::ContactsServiceClient, status::error_info};
use accommador_tests::{
    Stack, TestDatabase, embedded_objects,
    pictures::jpeg,
    requests::{create_request, first_page, named},
    tenant_request,
};
use futures::{StreamExt, stream};
use media_svc::{
    pipeline::budget::MEMORY_BUDGET_BYTES,
    samples::{CorpusEntry, EXIF_MARKER, Expected, hostile_corpus},
};
use tonic::{Code, transport::Channel};

/// Images media-svc decodes at once in this test, and so uploads in flight.
const WORKERS: usize = 2;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Sends one entry through CreateContact; what went wrong, if anything.
/// The image id of an accepted picture comes back too.
async fn check(mut client: ContactsServiceClient<Channel>, entry: &CorpusEntry) -> Result<Option<String>, String> {
    let request = create_request(named(&entry.name), entry.bytes.clone());
    let name = &entry.name;
    match (client.create_contact(tenant_request("acme", request)).await, entry.expected) {
        (Ok(response), Expected::Accepted) => {
            let picture = response.into_inner().profile_picture.ok_or(format!("{name}: no picture"))?;
            for rendition in &picture.renditions {
                let bytes = reqwest::get(&rendition.url).await.unwrap().bytes().await.unwrap();
                let image = image::load_from_memory(&bytes).map_err(|e| format!("{name}: {e}"))?;
                if (image.width(), image.height()) != (rendition.width, rendition.height) {
                    return Err(format!("{name}: {}x{} is not what was announced", image.width(), image.height()));
                }
                if rendition.width > rendition.size {
                    return Err(format!("{name}: upscaled to {}", rendition.width));
                }
                for forbidden in [b"Exif".as_slice(), EXIF_MARKER, b"<script>", b"PK\x03\x04"] {
                    if contains(&bytes, forbidden) {
                        return Err(format!("{name}: {:?} survived", String::from_utf8_lossy(forbidden)));
                    }
                }
            }
            Ok(Some(picture.image_id))
        }
        (Err(status), Expected::Refused(reason)) => {
            let info = error_info(&status);
            let got = info.as_ref().map(|info| info.reason.as_str());
            if status.code() != Code::InvalidArgument || got != Some(reason) {
                return Err(format!(
                    "{name}: expected {reason}, got {:?} {got:?}: {}",
                    status.code(),
                    status.message()
                ));
            }
            // A refusal for cost says what it would have taken, and the limit.
            let metadata = info.map(|info| info.metadata).unwrap_or_default();
            if reason == accommador_proto::reasons::IMAGE_TOO_COMPLEX
                && !["resource", "needed", "limit"].iter().all(|key| metadata.contains_key(*key))
            {
                return Err(format!("{name}: {reason} without its resource, need and limit: {metadata:?}"));
            }
            Ok(None)
        }
        (Ok(_), Expected::Refused(reason)) => Err(format!("{name}: expected {reason}, was accepted")),
        (Err(status), Expected::Accepted) => Err(format!(
            "{name}: expected acceptance, got {:?} {:?}: {}",
            status.code(),
            error_info(&status).map(|info| info.reason),
            status.message()
        )),
    }
}

#[tokio::test]
async fn every_hostile_image_gets_its_verdict_within_the_memory_budget() {
    let media_env = [("MEDIA_WORKERS", WORKERS.to_string())];
    // Debug builds decode 40-megapixel PNGs in seconds, not milliseconds:
    // give contacts-svc's calls to media-svc the time a loaded CI machine needs.
    let contacts_env = [("MEDIA_TIMEOUT", "120s".to_owned())];
    let stack = Stack::start(&TestDatabase::sqlite(), &media_env, &contacts_env).await.unwrap();
    let client = stack.contacts_client();
    let corpus = hostile_corpus();

    // The baseline: media-svc after it has served one ordinary picture
    // (connections, caches and thread pools set up), before the corpus.
    let warm_up = CorpusEntry { name: "warm-up.jpg".into(), bytes: jpeg(640, 480, 1), expected: Expected::Accepted };
    check(client.clone(), &warm_up).await.unwrap();
    let baseline = stack.media.peak_memory_bytes().unwrap();

    let outcomes: Vec<_> = stream::iter(&corpus)
        .map(|entry| {
            let client = client.clone();
            async move { check(client, entry).await }
        })
        .buffer_unordered(WORKERS)
        .collect()
        .await;
    let mut problems: Vec<String> = outcomes.iter().filter_map(|outcome| outcome.clone().err()).collect();
    let accepted_images: HashSet<String> =
        outcomes.iter().filter_map(|outcome| outcome.clone().ok().flatten()).collect();
    let accepted = corpus.iter().filter(|entry| entry.expected == Expected::Accepted).count();

    let peak = stack.media.peak_memory_bytes().unwrap();
    let bound = baseline + WORKERS as u64 * MEMORY_BUDGET_BYTES;
    println!(
        "hostile corpus: {} files, {accepted} accepted; media-svc peak {} MiB, baseline {} MiB, bound {} MiB \
         (baseline + {WORKERS} workers x {} MiB)",
        corpus.len(),
        peak >> 20,
        baseline >> 20,
        bound >> 20,
        MEMORY_BUDGET_BYTES >> 20
    );
    if peak > bound {
        problems.push(format!("media-svc peaked at {} MiB, over its bound of {} MiB", peak >> 20, bound >> 20));
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));

    let listed = first_page(&mut client.clone(), "acme").await;
    // The warm-up picture is a contact too.
    assert_eq!(listed.len(), accepted + 1, "refused pictures created no contact");
    let stored = embedded_objects(stack.dir.path(), "acme", "images");
    assert!(accepted_images.is_subset(&stored), "every accepted picture is stored");
    assert_eq!(stored.len(), accepted_images.len() + 1, "refused pictures left no object behind");
}
