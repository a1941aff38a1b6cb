//! The hostile-image corpus (made by code in media-svc's samples) through
//! CreateContact, end to end: every refused file gives INVALID_ARGUMENT with
//! its reason and leaves no contact and no object behind; every valid one
//! gives correct renditions without metadata; media-svc's memory stays bounded.

use std::collections::HashSet;

use accommador_proto::{
    accommador::contacts::v1::{
        Contact, CreateContactRequest, ListContactsRequest, contacts_service_client::ContactsServiceClient,
    },
    status::error_info,
};
use accommador_tests::{Stack, TestDatabase, embedded_objects, tenant_request};
use media_svc::samples::{EXIF_MARKER, Expected, hostile_corpus};
use tonic::Code;

/// media-svc's peak resident memory over the whole corpus must stay below this.
const PEAK_MEMORY_BOUND: u64 = 256 * 1024 * 1024;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[tokio::test]
async fn every_hostile_image_gets_its_verdict_through_create_contact() {
    let stack = Stack::start(&TestDatabase { name: "sqlite", url: None }, &[], &[]).await.unwrap();
    let mut client = ContactsServiceClient::new(stack.contacts.channel())
        .max_encoding_message_size(8 << 20)
        .max_decoding_message_size(8 << 20);
    let corpus = hostile_corpus();
    let mut accepted_images = HashSet::new();
    let mut accepted_contacts = 0;
    for entry in &corpus {
        let request = CreateContactRequest {
            contact: Some(Contact { first_name: entry.name.clone(), ..Default::default() }),
            profile_picture: entry.bytes.clone(),
            request_id: String::new(),
        };
        let outcome = client.create_contact(tenant_request("acme", request)).await;
        match (outcome, entry.expected) {
            (Ok(response), Expected::Accepted) => {
                accepted_contacts += 1;
                let picture = response.into_inner().profile_picture.expect("a picture");
                accepted_images.insert(picture.image_id.clone());
                for rendition in &picture.renditions {
                    let bytes = reqwest::get(&rendition.url).await.unwrap().bytes().await.unwrap();
                    let image = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{}: {e}", entry.name));
                    assert_eq!((image.width(), image.height()), (rendition.width, rendition.height), "{}", entry.name);
                    assert!(rendition.width <= rendition.size, "{}: never upscaled", entry.name);
                    for forbidden in [b"Exif".as_slice(), EXIF_MARKER, b"<script>", b"PK\x03\x04"] {
                        assert!(
                            !contains(&bytes, forbidden),
                            "{}: {:?} survived",
                            entry.name,
                            String::from_utf8_lossy(forbidden)
                        );
                    }
                }
            }
            (Err(status), Expected::Refused(reason)) => {
                assert_eq!(status.code(), Code::InvalidArgument, "{}: {status:?}", entry.name);
                assert_eq!(error_info(&status).map(|i| i.reason), Some(reason.to_owned()), "{}", entry.name);
            }
            (outcome, expected) => panic!("{}: expected {expected:?}, got {outcome:?}", entry.name),
        }
    }

    let listed = client
        .list_contacts(tenant_request("acme", ListContactsRequest { page_size: 200, ..Default::default() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.contacts.len(), accepted_contacts, "refused pictures created no contact");
    assert_eq!(
        embedded_objects(stack.dir.path(), "acme", "images"),
        accepted_images,
        "refused pictures left no object behind"
    );

    let peak = stack.media.peak_memory_bytes().unwrap();
    println!(
        "hostile corpus: {} files, {} accepted, media-svc peak memory {} MiB",
        corpus.len(),
        accepted_contacts,
        peak >> 20
    );
    assert!(peak < PEAK_MEMORY_BOUND, "media-svc peaked at {} MiB (bound {} MiB)", peak >> 20, PEAK_MEMORY_BOUND >> 20);
}
