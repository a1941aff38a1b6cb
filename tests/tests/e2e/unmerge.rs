//! UnmergeContacts end to end, on SQLite and PostgreSQL: every read sees
//! the duplicate again, its own merged contacts resolve to it, the primary
//! keeps its other merges, and the pair can be merged again.

use accommador_proto::{
    accommador::contacts::v1::{
        BatchGetContactsRequest, Contact, FindDuplicateContactsRequest, GetContactRequest,
        ReplaceProfilePictureRequest, UnmergeContactsRequest, UnmergeContactsResponse,
        contacts_service_client::ContactsServiceClient,
    },
    reasons,
    status::{error_info, field_violations},
};
use accommador_tests::{
    Stack, databases,
    pictures::camera_photo,
    requests::{create_request, first_page, merge_request},
    tenant_request,
};
use tonic::{Code, Status, transport::Channel};

type Client = ContactsServiceClient<Channel>;

async fn create(client: &mut Client, first: &str, email: &str, picture: Vec<u8>) -> Contact {
    let contact = Contact { first_name: first.into(), email: email.into(), ..Default::default() };
    client.create_contact(tenant_request("acme", create_request(contact, picture))).await.unwrap().into_inner()
}

async fn merge(client: &mut Client, primary: &str, duplicate: &str, take: &[&str]) -> Result<Contact, Status> {
    let request = merge_request(primary, duplicate, take, "");
    client.merge_contacts(tenant_request("acme", request)).await.map(tonic::Response::into_inner)
}

async fn unmerge(
    client: &mut Client,
    tenant: &str,
    primary: &str,
    duplicate: &str,
    request_id: &str,
) -> Result<UnmergeContactsResponse, Status> {
    let request = UnmergeContactsRequest {
        primary_id: primary.into(),
        duplicate_id: duplicate.into(),
        request_id: request_id.into(),
    };
    client.unmerge_contacts(tenant_request(tenant, request)).await.map(tonic::Response::into_inner)
}

async fn get(client: &mut Client, id: &str) -> Contact {
    let request = GetContactRequest { id: id.into(), revision: 0 };
    client.get_contact(tenant_request("acme", request)).await.unwrap().into_inner()
}

fn reason(status: &Status) -> String {
    error_info(status).map(|info| info.reason).unwrap_or_default()
}

#[tokio::test]
async fn an_unmerged_contact_is_back_in_every_read_and_can_be_merged_again() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let a = create(&mut client, "Ada", "", vec![]).await;
        let b = create(&mut client, "Bea", "bea@example.com", camera_photo(700, 600, 3)).await;
        let c = create(&mut client, "Cid", "cid@example.com", vec![]).await;
        let x = create(&mut client, "Xan", "", vec![]).await;
        let lookalike = create(&mut client, "Other", "BEA@example.com", vec![]).await;
        merge(&mut client, &b.id, &x.id, &[]).await.unwrap();
        let a_with_b = merge(&mut client, &a.id, &b.id, &["first_name"]).await.unwrap();
        assert_eq!(a_with_b.first_name, "Bea", "{name}");
        merge(&mut client, &a.id, &c.id, &[]).await.unwrap();

        let unmerged = unmerge(&mut client, "acme", &a.id, &b.id, "unmerge-1").await.unwrap();
        let (primary, duplicate) = (unmerged.primary.unwrap(), unmerged.duplicate.unwrap());
        assert_eq!((primary.id.as_str(), primary.revision), (a.id.as_str(), 4), "{name}");
        assert_eq!((primary.first_name.as_str(), primary.email.as_str()), ("Ada", "cid@example.com"), "{name}");
        assert_eq!(primary.merged_contact_ids, std::slice::from_ref(&c.id), "{name}: C's merge is kept");
        assert!(primary.profile_picture.is_none(), "{name}: B's picture left A");
        assert_eq!((duplicate.id.as_str(), duplicate.revision), (b.id.as_str(), 3), "{name}");
        assert_eq!((duplicate.first_name.as_str(), duplicate.email.as_str()), ("Bea", "bea@example.com"), "{name}");
        assert_eq!(duplicate.merged_contact_ids, std::slice::from_ref(&x.id), "{name}");
        let picture = duplicate.profile_picture.as_ref().expect("B has its picture again");
        for rendition in &picture.renditions {
            let response = reqwest::get(&rendition.url).await.expect("GET picture");
            assert_eq!(response.status(), 200, "{name}: B's picture is served");
        }
        let retried = unmerge(&mut client, "acme", &a.id, &b.id, "unmerge-1").await.unwrap();
        let revisions = |r: &UnmergeContactsResponse| {
            (r.primary.as_ref().unwrap().revision, r.duplicate.as_ref().unwrap().revision)
        };
        assert_eq!(revisions(&retried), (4, 3), "{name}: a retry gets the first result");

        assert_eq!(get(&mut client, &b.id).await.id, b.id, "{name}: GetContact sees B");
        assert_eq!(get(&mut client, &x.id).await.id, b.id, "{name}: X resolves to B again");
        assert_eq!(get(&mut client, &c.id).await.id, a.id, "{name}: C still resolves to A");
        let ids = vec![x.id.clone(), c.id.clone(), b.id.clone()];
        let batch = client.batch_get_contacts(tenant_request("acme", BatchGetContactsRequest { ids })).await;
        let batch: Vec<String> = batch.unwrap().into_inner().contacts.into_iter().map(|c| c.id).collect();
        assert_eq!(batch, [b.id.clone(), a.id.clone(), b.id.clone()], "{name}: BatchGetContacts");
        let mut listed: Vec<String> = first_page(&mut client, "acme").await.into_iter().map(|c| c.id).collect();
        listed.sort();
        let mut expected = vec![a.id.clone(), b.id.clone(), lookalike.id.clone()];
        expected.sort();
        assert_eq!(listed, expected, "{name}: ListContacts");
        let request = FindDuplicateContactsRequest { contact_id: lookalike.id.clone() };
        let found = client.find_duplicate_contacts(tenant_request("acme", request)).await.unwrap().into_inner();
        let found: Vec<String> = found.matches.into_iter().map(|m| m.contact.unwrap().id).collect();
        assert_eq!(found, std::slice::from_ref(&b.id), "{name}: FindDuplicateContacts");

        let status = unmerge(&mut client, "acme", &a.id, &b.id, "").await.unwrap_err();
        assert_eq!(
            (status.code(), reason(&status)),
            (Code::FailedPrecondition, reasons::CONTACT_NOT_MERGED_INTO.into()),
            "{name}: twice"
        );
        let again = merge(&mut client, &a.id, &b.id, &[]).await.unwrap();
        assert_eq!(again.revision, 5, "{name}: B merges again");
        assert_eq!(get(&mut client, &x.id).await.id, a.id, "{name}: X follows B");
    }
}

#[tokio::test]
async fn unmerges_refuse_malformed_foreign_and_wrong_pairs() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let a = create(&mut client, "A", "", vec![]).await;
        let b = create(&mut client, "B", "", vec![]).await;
        let c = create(&mut client, "C", "", vec![]).await;
        let z = create(&mut client, "Z", "", vec![]).await;
        merge(&mut client, &a.id, &b.id, &[]).await.unwrap();

        let status = unmerge(&mut client, "acme", "nope", "", "").await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name}");
        let fields: Vec<String> = field_violations(&status).into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["primary_id", "duplicate_id"], "{name}: every malformed id");
        let status = unmerge(&mut client, "acme", &a.id, &a.id, "").await.unwrap_err();
        assert_eq!(
            (status.code(), field_violations(&status)[0].field.as_str()),
            (Code::InvalidArgument, "duplicate_id"),
            "{name}"
        );
        let status = unmerge(&mut client, "globex", &a.id, &b.id, "").await.unwrap_err();
        assert_eq!((status.code(), reason(&status)), (Code::NotFound, reasons::CONTACT_NOT_FOUND.into()), "{name}");

        let status = unmerge(&mut client, "acme", &c.id, &b.id, "").await.unwrap_err();
        assert_eq!(
            (status.code(), reason(&status)),
            (Code::FailedPrecondition, reasons::CONTACT_NOT_MERGED_INTO.into()),
            "{name}"
        );
        assert_eq!(error_info(&status).unwrap().metadata["merged_into"], a.id, "{name}");

        merge(&mut client, &z.id, &a.id, &[]).await.unwrap();
        let status = unmerge(&mut client, "acme", &a.id, &b.id, "").await.unwrap_err();
        assert_eq!(
            (status.code(), reason(&status)),
            (Code::FailedPrecondition, reasons::CONTACT_ALREADY_MERGED.into()),
            "{name}"
        );
        assert_eq!(error_info(&status).unwrap().metadata["survivor_id"], z.id, "{name}: the survivor is named");
        assert_eq!(get(&mut client, &b.id).await.id, z.id, "{name}: nothing was undone");
    }
}

#[tokio::test]
async fn concurrent_unmerges_and_merges_of_one_pair_are_serialized() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let a = create(&mut client, "A", "", vec![]).await;
        let b = create(&mut client, "B", "", vec![]).await;
        let c = create(&mut client, "C", "", vec![]).await;
        merge(&mut client, &a.id, &b.id, &[]).await.unwrap();

        // Thirty copies of one unmerge (no request id) and a merge of B into C at
        // once: 31 calls, within the tenant cap of 32 calls in progress.
        let unmerges = (0..30).map(|_| {
            let (mut client, a, b) = (client.clone(), a.id.clone(), b.id.clone());
            async move { unmerge(&mut client, "acme", &a, &b, "").await }
        });
        let mut merge_client = client.clone();
        let (results, merged) =
            tokio::join!(futures::future::join_all(unmerges), merge(&mut merge_client, &c.id, &b.id, &[]));
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{name}: one unmerge happens");
        for status in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(status.code(), Code::FailedPrecondition, "{name}: {status:?}");
        }
        let b_now = get(&mut client, &b.id).await.id;
        match merged {
            Ok(_) => assert_eq!(b_now, c.id, "{name}: the merge came after the unmerge"),
            Err(status) => {
                assert_eq!(reason(&status), reasons::CONTACT_ALREADY_MERGED, "{name}: the merge came first");
                assert_eq!(b_now, b.id, "{name}");
            }
        }
        assert_eq!(get(&mut client, &a.id).await.revision, 3, "{name}: A got exactly one new revision");
    }
}

#[tokio::test]
async fn a_picture_replacement_is_never_unmerged_and_replays_as_the_picture_alone() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let ada = create(&mut client, "Ada", "", vec![]).await;
        let bea = Contact {
            first_name: "Bea".into(),
            email: "bea@example.com".into(),
            phone: "+14155550123".into(),
            company_name: "Bea Corp".into(),
            tags: vec!["from-bea".into()],
            ..Default::default()
        };
        let bea =
            client.create_contact(tenant_request("acme", create_request(bea, vec![]))).await.unwrap().into_inner();
        let with_bea = merge(&mut client, &ada.id, &bea.id, &[]).await.unwrap();
        assert_eq!((with_bea.phone.as_str(), with_bea.company_name.as_str()), ("+14155550123", "Bea Corp"), "{name}");
        let request = ReplaceProfilePictureRequest {
            id: ada.id.clone(),
            profile_picture: camera_photo(640, 480, 5),
            ..Default::default()
        };
        let replaced = client.replace_profile_picture(tenant_request("acme", request)).await.unwrap().into_inner();
        let carrier = replaced.merged_contact_ids.last().cloned().unwrap();
        let new_image = replaced.profile_picture.as_ref().map(|p| p.image_id.clone());
        assert!(new_image.is_some(), "{name}: the replacement wears a picture");

        // The carrier was never live: bringing it back would show a copy of Ada.
        let stranger = create(&mut client, "Stranger", "", vec![]).await;
        let refused = unmerge(&mut client, "acme", &stranger.id, &carrier, "").await.unwrap_err();
        assert_eq!(reason(&refused), reasons::CONTACT_IS_PICTURE_CARRIER, "{name}: {refused:?}");
        let primary = error_info(&refused).unwrap().metadata["primary_id"].clone();
        assert_eq!(primary, ada.id, "{name}: names the contact the carrier went into: {}", refused.message());
        let refused = unmerge(&mut client, "acme", &ada.id, &carrier, "").await.unwrap_err();
        assert_eq!(
            (refused.code(), reason(&refused).as_str()),
            (Code::FailedPrecondition, reasons::CONTACT_IS_PICTURE_CARRIER),
            "{name}: {refused:?}"
        );
        assert!(
            refused.message().contains("ReplaceProfilePicture"),
            "{name}: the way out is named: {}",
            refused.message()
        );
        assert_eq!(get(&mut client, &carrier).await.id, ada.id, "{name}: the carrier still resolves to Ada");

        // Undoing the earlier merge replays the replacement: the picture
        // comes back, and nothing of Bea's does.
        let unmerged = unmerge(&mut client, "acme", &ada.id, &bea.id, "").await.unwrap();
        let primary = unmerged.primary.unwrap();
        let values = |c: &Contact| {
            (c.first_name.clone(), c.email.clone(), c.phone.clone(), c.company_name.clone(), c.tags.clone())
        };
        assert_eq!(values(&primary), values(&ada), "{name}: none of Bea's values stay on Ada");
        assert_eq!(primary.profile_picture.map(|p| p.image_id), new_image, "{name}: the replaced picture stays");
        assert_eq!(primary.merged_contact_ids, [carrier], "{name}");
        let listed: Vec<String> = first_page(&mut client, "acme").await.into_iter().map(|c| c.id).collect();
        assert_eq!(listed.len(), 3, "{name}: Ada, Bea and the stranger, no carrier: {listed:?}");
    }
}

#[tokio::test]
async fn a_picture_the_unmerge_takes_off_the_primary_goes_with_its_duplicates_takedown() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let ada = create(&mut client, "Ada", "", camera_photo(640, 480, 31)).await;
        let bea = create(&mut client, "Bea", "bea@example.com", camera_photo(480, 640, 32)).await;
        let bea_url = bea.profile_picture.as_ref().unwrap().renditions[0].url.clone();
        let merged = merge(&mut client, &ada.id, &bea.id, &["profile_picture"]).await.unwrap();
        assert_eq!(
            merged.profile_picture.map(|p| p.image_id),
            bea.profile_picture.as_ref().map(|p| p.image_id.clone()),
            "{name}"
        );
        let unmerged = unmerge(&mut client, "acme", &ada.id, &bea.id, "").await.unwrap();
        let ada_now = unmerged.primary.unwrap();
        assert_eq!(
            ada_now.profile_picture.map(|p| p.image_id),
            ada.profile_picture.as_ref().map(|p| p.image_id.clone()),
            "{name}: Ada wears her own again"
        );

        // Ada's claim on Bea's picture (from the merge) went with the unmerge,
        // so Bea's takedown leaves nobody holding it.
        let takedown = accommador_proto::accommador::contacts::v1::RemoveProfilePictureRequest {
            id: bea.id.clone(),
            reason: "wrong person".into(),
            request_id: String::new(),
        };
        client.remove_profile_picture(tenant_request("acme", takedown)).await.unwrap();
        let start = std::time::Instant::now();
        loop {
            let status = reqwest::get(&bea_url).await.unwrap().status();
            if status == 404 {
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "{name}: Bea's picture is still served ({status})"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let ada_url = get(&mut client, &ada.id).await.profile_picture.unwrap().renditions[0].url.clone();
        assert_eq!(reqwest::get(&ada_url).await.unwrap().status(), 200, "{name}: Ada's own picture stays");
    }
}

#[tokio::test]
async fn a_picture_taken_down_on_the_primary_does_not_come_back_on_the_duplicate() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let ada = create(&mut client, "Ada", "", vec![]).await;
        let bea = create(&mut client, "Bea", "bea@example.com", camera_photo(480, 640, 33)).await;
        let bea_url = bea.profile_picture.as_ref().unwrap().renditions[0].url.clone();
        merge(&mut client, &ada.id, &bea.id, &["profile_picture"]).await.unwrap();
        let takedown = accommador_proto::accommador::contacts::v1::RemoveProfilePictureRequest {
            id: ada.id.clone(),
            reason: "offensive".into(),
            request_id: String::new(),
        };
        client.remove_profile_picture(tenant_request("acme", takedown)).await.unwrap();
        let unmerged = unmerge(&mut client, "acme", &ada.id, &bea.id, "").await.unwrap();
        let duplicate = unmerged.duplicate.unwrap();
        assert!(duplicate.profile_picture.is_none(), "{name}: Bea comes back without the taken-down picture");
        assert!(get(&mut client, &bea.id).await.profile_picture.is_none(), "{name}");
        let start = std::time::Instant::now();
        while reqwest::get(&bea_url).await.unwrap().status() != 404 {
            assert!(start.elapsed() < std::time::Duration::from_secs(60), "{name}: the picture is still served");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
