//! ReplaceProfilePicture end to end, on SQLite and PostgreSQL: the contact
//! keeps its id and gets its next revision wearing the new picture, the
//! contact that carried the picture is never live, retries are safe, and a
//! refused call changes nothing.

use std::collections::HashSet;

use accommador_proto::{
    accommador::contacts::v1::{
        Contact, FindDuplicateContactsRequest, GetContactRequest, ReplaceProfilePictureRequest,
        contacts_service_client::ContactsServiceClient,
    },
    reasons,
    status::{error_info, field_violations},
};
use accommador_tests::{
    Stack, databases,
    pictures::photo,
    requests::{create_request, first_page, merge_request},
    tenant_request,
};
use tonic::{Code, Status, transport::Channel};

type Client = ContactsServiceClient<Channel>;

async fn create(client: &mut Client, first_name: &str, picture: Vec<u8>) -> Contact {
    let mut contact =
        Contact { first_name: first_name.into(), email: format!("{first_name}@example.com"), ..Default::default() };
    contact.phone = "+1 415 555 0101".into();
    contact.tags = vec!["vip".into()];
    client.create_contact(tenant_request("acme", create_request(contact, picture))).await.unwrap().into_inner()
}

async fn replace(
    client: &mut Client,
    tenant: &str,
    id: &str,
    picture: Vec<u8>,
    request_id: &str,
) -> Result<Contact, Status> {
    let request =
        ReplaceProfilePictureRequest { id: id.into(), profile_picture: picture, request_id: request_id.into() };
    client.replace_profile_picture(tenant_request(tenant, request)).await.map(tonic::Response::into_inner)
}

async fn get(client: &mut Client, id: &str, revision: i64) -> Contact {
    let request = GetContactRequest { id: id.into(), revision };
    client.get_contact(tenant_request("acme", request)).await.unwrap().into_inner()
}

fn image_id(contact: &Contact) -> &str {
    contact.profile_picture.as_ref().map(|p| p.image_id.as_str()).unwrap_or("")
}

/// Fetches every rendition URL and checks it serves an image.
async fn assert_picture_served(contact: &Contact, what: &str) {
    let picture = contact.profile_picture.as_ref().unwrap_or_else(|| panic!("{what}: no picture"));
    assert_eq!(picture.renditions.len(), 2, "{what}: two renditions with URLs");
    for rendition in &picture.renditions {
        let response = reqwest::get(&rendition.url).await.expect("GET picture");
        assert_eq!(response.status(), 200, "{what}: GET {}", rendition.url);
    }
}

/// `after` is `before`'s next revision with the picture `image` and nothing else changed.
fn assert_only_the_picture_changed(before: &Contact, after: &Contact, what: &str) {
    assert_eq!((after.id.as_str(), after.revision), (before.id.as_str(), before.revision + 1), "{what}: id, revision");
    let carrier = after.merged_contact_ids.last().cloned().unwrap_or_default();
    let unchanged = Contact {
        revision: after.revision,
        profile_picture: after.profile_picture.clone(),
        revision_create_time: after.revision_create_time,
        merged_contact_ids: before.merged_contact_ids.iter().cloned().chain([carrier]).collect(),
        ..before.clone()
    };
    assert_eq!(after, &unchanged, "{what}: only the picture (and the carrier in the history) changed");
    assert!(!image_id(after).is_empty() && image_id(after) != image_id(before), "{what}: a new picture");
}

#[tokio::test]
async fn a_replaced_picture_is_served_on_the_same_contact_and_its_carrier_is_history() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let ada = create(&mut client, "ada", vec![]).await;
        let bob = create(&mut client, "bob", photo(1)).await;
        for (before, seed) in [(&ada, 2), (&bob, 3)] {
            let what = format!("{}: {}", database.name, before.first_name);
            let after = replace(&mut client, "acme", &before.id, photo(seed), "").await.unwrap();
            assert_only_the_picture_changed(before, &after, &what);
            assert_picture_served(&after, &what).await;
            assert_eq!(get(&mut client, &before.id, 0).await.revision, 2, "{what}: the latest revision");
            assert_eq!(image_id(&get(&mut client, &before.id, 1).await), image_id(before), "{what}: history kept");

            let carrier_id = after.merged_contact_ids.last().unwrap();
            assert_eq!(get(&mut client, carrier_id, 0).await.id, before.id, "{what}: the carrier resolves to it");
            let carrier = get(&mut client, carrier_id, 1).await;
            assert_eq!(
                (carrier.first_name.as_str(), carrier.email.as_str(), carrier.tags.len(), image_id(&carrier)),
                ("", "", 0, image_id(&after)),
                "{what}: the carrier's revision 1 wears the new picture and nothing else"
            );
        }
        let listed: HashSet<String> = first_page(&mut client, "acme").await.into_iter().map(|c| c.id).collect();
        assert_eq!(listed, HashSet::from([ada.id.clone(), bob.id.clone()]), "{}: no carrier listed", database.name);
        // Duplicate search must not offer a carrier either.
        for id in [&ada.id, &bob.id] {
            let request = FindDuplicateContactsRequest { contact_id: id.clone() };
            let found = client.find_duplicate_contacts(tenant_request("acme", request)).await.unwrap().into_inner();
            let found: Vec<_> = found.matches.into_iter().filter_map(|m| m.contact).map(|c| c.id).collect();
            assert!(
                !found.iter().any(|f| !listed.contains(f)),
                "{}: a carrier offered as duplicate: {found:?}",
                database.name
            );
        }
    }
}

#[tokio::test]
async fn refused_replacements_change_nothing() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let ada = create(&mut client, "ada", photo(1)).await;
        let gone = create(&mut client, "gone", vec![]).await;
        client.merge_contacts(tenant_request("acme", merge_request(&ada.id, &gone.id, &[], ""))).await.unwrap();
        let ada = get(&mut client, &ada.id, 0).await;
        let unknown = uuid::Uuid::now_v7().to_string();

        let refusals = [
            ("another tenant", "globex", ada.id.as_str(), photo(2), Code::NotFound, reasons::CONTACT_NOT_FOUND),
            ("an unknown id", "acme", unknown.as_str(), photo(2), Code::NotFound, reasons::CONTACT_NOT_FOUND),
            (
                "not a picture",
                "acme",
                ada.id.as_str(),
                b"GIF89a not at all".to_vec(),
                Code::InvalidArgument,
                reasons::IMAGE_FORMAT_UNSUPPORTED,
            ),
            ("too large", "acme", ada.id.as_str(), vec![0; 2_621_441], Code::InvalidArgument, reasons::IMAGE_TOO_LARGE),
            ("empty", "acme", ada.id.as_str(), vec![], Code::InvalidArgument, reasons::CONTACT_INVALID),
            (
                "merged away",
                "acme",
                gone.id.as_str(),
                photo(2),
                Code::FailedPrecondition,
                reasons::CONTACT_ALREADY_MERGED,
            ),
        ];
        for (what, tenant, id, picture, code, reason) in refusals {
            let status = replace(&mut client, tenant, id, picture, "").await.unwrap_err();
            let info = error_info(&status).unwrap_or_else(|| panic!("{}: {what}: ErrorInfo", database.name));
            assert_eq!((status.code(), info.reason.as_str()), (code, reason), "{}: {what}: {status:?}", database.name);
            if code == Code::InvalidArgument {
                let fields: Vec<_> = field_violations(&status).into_iter().map(|v| v.field).collect();
                assert_eq!(fields, ["profile_picture"], "{}: {what}", database.name);
            }
            if code == Code::FailedPrecondition {
                assert!(status.message().contains(&ada.id), "{}: names the survivor: {status:?}", database.name);
            }
            assert_eq!(get(&mut client, &ada.id, 0).await, ada, "{}: {what} changes nothing", database.name);
        }
        let both = replace(&mut client, "acme", "", vec![], "").await.unwrap_err();
        let fields: Vec<_> = field_violations(&both).into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["id", "profile_picture"], "{}: both problems at once: {both:?}", database.name);
        let listed: Vec<String> = first_page(&mut client, "acme").await.into_iter().map(|c| c.id).collect();
        assert_eq!(listed, std::slice::from_ref(&ada.id), "{}: no carrier left behind", database.name);
    }
}

#[tokio::test]
async fn retries_with_one_request_id_replace_once_even_when_they_race() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let ada = create(&mut client, "ada", vec![]).await;
        let racers = (0..6).map(|_| {
            let mut client = client.clone();
            let id = ada.id.clone();
            async move { replace(&mut client, "acme", &id, photo(9), "9b1c-replace").await }
        });
        let results: Vec<Contact> = futures::future::join_all(racers).await.into_iter().map(Result::unwrap).collect();
        let distinct: HashSet<_> = results.iter().map(|c| (c.revision, c.merged_contact_ids.clone())).collect();
        assert_eq!(distinct.len(), 1, "{}: every retry gets the first result: {distinct:?}", database.name);
        assert_eq!(get(&mut client, &ada.id, 0).await.revision, 2, "{}: replaced once", database.name);
        let again = replace(&mut client, "acme", &ada.id, photo(9), "9b1c-replace").await.unwrap();
        assert_eq!(again, get(&mut client, &ada.id, 2).await, "{}: a later retry too", database.name);

        let status = replace(&mut client, "acme", &ada.id, photo(10), "9b1c-replace").await.unwrap_err();
        let reason = error_info(&status).map(|info| info.reason);
        assert_eq!(
            (status.code(), reason.as_deref()),
            (Code::InvalidArgument, Some(reasons::REQUEST_ID_REUSED)),
            "{}: another picture with the same request id",
            database.name
        );
    }
}

#[tokio::test]
async fn the_smart_list_never_shows_a_carrier_during_concurrent_replacements() {
    const CONTACTS: usize = 4;
    const REPLACEMENTS_EACH: u32 = 5;
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let mut ids = HashSet::new();
        for n in 0..CONTACTS {
            ids.insert(create(&mut client, &format!("c{n}"), vec![]).await.id);
        }
        let replacements =
            ids.iter().flat_map(|id| (0..REPLACEMENTS_EACH).map(move |n| (id.clone(), n))).map(|(id, n)| {
                let mut client = client.clone();
                async move { replace(&mut client, "acme", &id, photo(100 + n), "").await }
            });
        let replacing = tokio::spawn(futures::future::join_all(replacements));
        let mut lists = 0;
        while !replacing.is_finished() || lists == 0 {
            let listed: HashSet<String> = first_page(&mut client, "acme").await.into_iter().map(|c| c.id).collect();
            assert_eq!(listed, ids, "{}: list {lists} shows exactly the contacts", database.name);
            lists += 1;
        }
        for result in replacing.await.unwrap() {
            result.unwrap_or_else(|status| panic!("{}: {status:?}", database.name));
        }
        for id in &ids {
            let latest = get(&mut client, id, 0).await;
            assert_eq!(
                latest.revision,
                1 + i64::from(REPLACEMENTS_EACH),
                "{}: every replacement applied",
                database.name
            );
            assert_eq!(latest.merged_contact_ids.len(), REPLACEMENTS_EACH as usize, "{}", database.name);
        }
        let listed: HashSet<String> = first_page(&mut client, "acme").await.into_iter().map(|c| c.id).collect();
        assert_eq!(listed, ids, "{}: after {lists} lists during the replacements", database.name);
    }
}
