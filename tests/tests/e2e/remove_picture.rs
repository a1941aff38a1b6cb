//! RemoveProfilePicture end to end, on SQLite and PostgreSQL: the picture
//! is gone from the contact at once and from media-svc once the release is
//! delivered (the old URL answers 404), another contact wearing the same
//! picture keeps it, retries are safe, and refused calls change nothing.

use std::time::{Duration, Instant};

use accommador_proto::{
    accommador::contacts::v1::{
        Contact, GetContactRequest, RemoveProfilePictureRequest, contacts_service_client::ContactsServiceClient,
    },
    accommador::media::v1::{SignImageUrlsRequest, media_service_client::MediaServiceClient},
    reasons,
    status::{error_info, field_violations},
};
use accommador_tests::{Stack, databases, pictures::photo, requests::create_request, tenant_request};
use tonic::{Code, Status, transport::Channel};

type Client = ContactsServiceClient<Channel>;

/// How long media-svc may keep serving a taken-down picture (the bound).
const URL_DEADLINE: Duration = Duration::from_secs(60);

async fn create(client: &mut Client, first_name: &str, picture: Vec<u8>) -> Contact {
    let contact = Contact { first_name: first_name.into(), ..Default::default() };
    client.create_contact(tenant_request("acme", create_request(contact, picture))).await.unwrap().into_inner()
}

async fn remove(
    client: &mut Client,
    tenant: &str,
    id: &str,
    reason: &str,
    request_id: &str,
) -> Result<Contact, Status> {
    let request = RemoveProfilePictureRequest { id: id.into(), reason: reason.into(), request_id: request_id.into() };
    client.remove_profile_picture(tenant_request(tenant, request)).await.map(tonic::Response::into_inner)
}

async fn get(client: &mut Client, id: &str) -> Contact {
    let request = GetContactRequest { id: id.into(), revision: 0 };
    client.get_contact(tenant_request("acme", request)).await.unwrap().into_inner()
}

fn first_url(contact: &Contact) -> String {
    contact.profile_picture.as_ref().expect("a picture").renditions[0].url.clone()
}

/// Waits until `url` answers 404; panics after [`URL_DEADLINE`].
async fn until_gone(url: &str, what: &str) {
    let start = Instant::now();
    loop {
        let status = reqwest::get(url).await.expect("GET picture").status();
        if status == 404 {
            return;
        }
        assert!(start.elapsed() < URL_DEADLINE, "{what}: the URL still answers {status} after a minute");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_picture_taken_down_leaves_the_contact_and_media_svc_but_not_another_contact_wearing_it() {
    for database in databases().await {
        let what = database.name;
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let ada = create(&mut client, "ada", photo(1)).await;
        let twin = create(&mut client, "twin", photo(1)).await;
        let bob = create(&mut client, "bob", photo(2)).await;
        let (twin_url, bob_url) = (first_url(&twin), first_url(&bob));

        // Ada's release is queued before bob's: once bob's picture is gone,
        // the outbox has had its pass over ada's too.
        remove(&mut client, "acme", &ada.id, "wrong person", "").await.unwrap();
        let removed = remove(&mut client, "acme", &bob.id, "offensive", "takedown-1").await.unwrap();
        assert_eq!((removed.revision, removed.profile_picture.as_ref()), (2, None), "{what}");
        assert_eq!(removed.first_name, "bob", "{what}: other fields kept");
        let again = remove(&mut client, "acme", &bob.id, "offensive", "takedown-1").await.unwrap();
        assert_eq!(again, removed, "{what}: a retry gets the first answer");
        assert!(get(&mut client, &bob.id).await.profile_picture.is_none(), "{what}: GetContact shows no picture");
        until_gone(&bob_url, what).await;

        // Twin's claim of the same bytes keeps the image ada gave up.
        assert_eq!(reqwest::get(&twin_url).await.unwrap().status(), 200, "{what}: the twin keeps the picture");
        assert!(get(&mut client, &twin.id).await.profile_picture.is_some(), "{what}");

        let status = remove(&mut client, "acme", &bob.id, "again", "").await.unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{what}");
        assert_eq!(error_info(&status).unwrap().reason, reasons::CONTACT_HAS_NO_PICTURE, "{what}");
        let status = remove(&mut client, "globex", &twin.id, "nope", "").await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{what}: another tenant's contact");
        for reason in ["", " \u{200B} ", "bad\u{202E}text"] {
            let status = remove(&mut client, "acme", &twin.id, reason, "").await.unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{what}: reason {reason:?}");
            assert!(field_violations(&status).iter().any(|v| v.field == "reason"), "{what}: {status:?}");
        }
        let status = remove(&mut client, "acme", &twin.id, &"x".repeat(501), "").await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: reason over 500 characters");
        let status = remove(&mut client, "acme", &twin.id, "other", "takedown-1").await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: a request id reused for another request");
        assert_eq!(error_info(&status).unwrap().reason, reasons::REQUEST_ID_REUSED, "{what}");
        assert!(get(&mut client, &twin.id).await.profile_picture.is_some(), "{what}: refusals change nothing");
    }
}

#[tokio::test]
async fn a_takedown_while_media_svc_is_down_commits_and_the_release_follows_when_it_returns() {
    for database in databases().await {
        let what = database.name;
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let ada = create(&mut client, "ada", photo(3)).await;
        let image_id = ada.profile_picture.as_ref().expect("a picture").image_id.clone();
        let media_addr = stack.media.addr();
        let Stack { media, contacts: contacts_process, dir } = stack;
        media.kill().unwrap();

        let removed = remove(&mut client, "acme", &ada.id, "offensive", "").await.expect("media-svc is not needed");
        assert_eq!((removed.revision, removed.profile_picture), (2, None), "{what}");
        let media = accommador_tests::stack::restart_media(media_addr, dir.path(), &[]).await.unwrap();
        // The embedded bucket listens on a new port: ask media-svc instead.
        let mut media_client = MediaServiceClient::new(media.channel());
        let start = Instant::now();
        loop {
            let request = SignImageUrlsRequest { image_ids: vec![image_id.clone()], ttl: None, skip_missing: true };
            let signed = media_client.sign_image_urls(tenant_request("acme", request)).await.unwrap().into_inner();
            if signed.missing_image_ids == [image_id.clone()] {
                break;
            }
            assert!(
                start.elapsed() < URL_DEADLINE,
                "{what}: the image is still there a minute after media-svc came back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop((media, contacts_process));
    }
}

#[tokio::test]
async fn a_picture_taken_down_and_given_back_at_once_stays_served() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        // Create, take down and give the same bytes back in quick succession:
        // the create's claim, the release and the replacement's claim are all
        // in the outbox together, and the replacement's upload has its own lease.
        let picture = photo(77);
        let ada = create(&mut client, "Ada", picture.clone()).await;
        remove(&mut client, "acme", &ada.id, "wrong photo", "").await.unwrap();
        let request = accommador_proto::accommador::contacts::v1::ReplaceProfilePictureRequest {
            id: ada.id.clone(),
            profile_picture: picture,
            request_id: String::new(),
        };
        let replaced = client.replace_profile_picture(tenant_request("acme", request)).await.unwrap().into_inner();
        let url = first_url(&replaced);
        // Long enough for every outbox entry to be delivered (CLAIM_RETRY_INTERVAL is 500 ms here).
        tokio::time::sleep(Duration::from_secs(5)).await;
        let now = get(&mut client, &ada.id).await;
        assert!(!now.profile_picture.as_ref().unwrap().renditions.is_empty(), "{name}: the picture is still known");
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 200, "{name}: the picture is still served");
    }
}

#[tokio::test]
async fn a_picture_merged_in_by_hand_and_taken_down_is_gone_from_the_duplicate_too() {
    let database = accommador_tests::TestDatabase::sqlite();
    let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
    let mut client = stack.contacts_client();
    let alice = create(&mut client, "alice", vec![]).await;
    let bad = create(&mut client, "bad", photo(31)).await;
    let merge = accommador_tests::requests::merge_request(&alice.id, &bad.id, &["profile_picture"], "merge-bad");
    let merged = client.merge_contacts(tenant_request("acme", merge)).await.unwrap().into_inner();
    assert_eq!(merged.profile_picture.as_ref().unwrap().image_id, bad.profile_picture.as_ref().unwrap().image_id);

    remove(&mut client, "acme", &alice.id, "offensive", "takedown-merged").await.unwrap();
    // Bad, merged into alice, held its own claim on the picture: released too.
    until_gone(&first_url(&bad), "the merged-away duplicate's picture").await;
}
