//! contacts-svc end to end: the real binaries (contacts-svc, media-svc with
//! embedded storage) over real gRPC, on SQLite and on PostgreSQL.

use std::collections::HashSet;

use accommador_proto::{
    accommador::contacts::v1::{
        BatchGetContactsRequest, Contact, CreateContactRequest, FindDuplicateContactsRequest, GetContactRequest,
        ListContactsRequest, MatchReason, MergeContactsRequest, contacts_service_client::ContactsServiceClient,
    },
    status::{error_info, field_violations},
};
use accommador_tests::{
    Stack, TestDatabase, databases,
    pictures::camera_photo,
    requests::{create_request, merge_request},
    tenant_request,
};
use tonic::{Code, Status, transport::Channel};

type Client = ContactsServiceClient<Channel>;

fn picture(seed: u32) -> Vec<u8> {
    camera_photo(700, 600, seed)
}

fn person(first: &str, last: &str, email: &str) -> Contact {
    Contact { first_name: first.into(), last_name: last.into(), email: email.into(), ..Default::default() }
}

async fn create(client: &mut Client, tenant: &str, contact: Contact, picture: Vec<u8>) -> Result<Contact, Status> {
    client
        .create_contact(tenant_request(tenant, create_request(contact, picture)))
        .await
        .map(tonic::Response::into_inner)
}

async fn get(client: &mut Client, tenant: &str, id: &str, revision: i64) -> Result<Contact, Status> {
    let request = GetContactRequest { id: id.into(), revision };
    client.get_contact(tenant_request(tenant, request)).await.map(tonic::Response::into_inner)
}

async fn list(
    client: &mut Client,
    tenant: &str,
    page_size: i32,
    token: &str,
    query: &str,
) -> Result<(Vec<Contact>, String), Status> {
    let request = ListContactsRequest { page_size, page_token: token.into(), query: query.into() };
    let response = client.list_contacts(tenant_request(tenant, request)).await?.into_inner();
    Ok((response.contacts, response.next_page_token))
}

async fn merge(
    client: &mut Client,
    tenant: &str,
    primary: &str,
    duplicate: &str,
    take: &[&str],
) -> Result<Contact, Status> {
    client
        .merge_contacts(tenant_request(tenant, merge_request(primary, duplicate, take, "")))
        .await
        .map(tonic::Response::into_inner)
}

/// Fetches every rendition URL and checks it serves an image of its size.
async fn assert_picture_served(contact: &Contact, what: &str) {
    let picture = contact.profile_picture.as_ref().unwrap_or_else(|| panic!("{what}: no picture"));
    assert_eq!(picture.renditions.len(), 2, "{what}: two renditions with URLs");
    for rendition in &picture.renditions {
        let response = reqwest::get(&rendition.url).await.expect("GET picture");
        assert_eq!(response.status(), 200, "{what}: GET {}", rendition.url);
        let image = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(image.width(), rendition.width, "{what}");
    }
}

async fn stack(database: &TestDatabase) -> Stack {
    Stack::start(database, &[], &[]).await.expect("both services start")
}

#[tokio::test]
async fn created_pictures_show_in_get_list_and_batch_get() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let created =
            create(&mut client, "acme", person("Ada", "Lovelace", "ada@example.com"), picture(1)).await.unwrap();
        assert_eq!(created.revision, 1, "{}", database.name);
        assert!(uuid_is_v7(&created.id), "{}: ids are UUIDv7: {}", database.name, created.id);
        assert_picture_served(&created, database.name).await;

        let fetched = get(&mut client, "acme", &created.id, 0).await.unwrap();
        assert_picture_served(&fetched, database.name).await;
        let (page, _) = list(&mut client, "acme", 0, "", "").await.unwrap();
        assert_eq!(page.len(), 1);
        assert_picture_served(&page[0], database.name).await;
        let batch = client
            .batch_get_contacts(tenant_request("acme", BatchGetContactsRequest { ids: vec![created.id.clone()] }))
            .await
            .unwrap()
            .into_inner();
        assert_picture_served(&batch.contacts[0], database.name).await;

        // Another tenant sees nothing.
        let status = get(&mut client, "intruder", &created.id, 0).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{}", database.name);
        assert!(list(&mut client, "intruder", 0, "", "").await.unwrap().0.is_empty());
    }
}

fn uuid_is_v7(id: &str) -> bool {
    id.len() == 36 && id.as_bytes()[14] == b'7'
}

#[tokio::test]
async fn the_documented_workflow_gives_the_old_contact_the_new_picture() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let mut old = person("Ada", "", "ada@old.example");
        old.phone = "+1 415 555 2671".into();
        old.tags = vec!["vip".into()];
        let old = create(&mut client, "acme", old, vec![]).await.unwrap();
        assert!(old.profile_picture.is_none());
        let new = create(&mut client, "acme", person("Ada", "Lovelace", "ADA@new.example"), picture(2)).await.unwrap();

        let merged = merge(&mut client, "acme", &old.id, &new.id, &["profile_picture"]).await.unwrap();
        assert_eq!(
            (merged.id.as_str(), merged.revision),
            (old.id.as_str(), 2),
            "{}: old id, next revision",
            database.name
        );
        assert_eq!(merged.profile_picture.as_ref().unwrap().image_id, new.profile_picture.as_ref().unwrap().image_id);
        assert_picture_served(&merged, database.name).await;
        assert_eq!(merged.last_name, "Lovelace", "empty fields are filled from the duplicate");
        assert_eq!(merged.email, "ada@old.example");
        assert_eq!(merged.additional_emails, ["ADA@new.example"], "the losing email is kept");
        assert_eq!(merged.phone, "+14155552671");
        assert_eq!(merged.merged_contact_ids, std::slice::from_ref(&new.id));

        let history = get(&mut client, "acme", &old.id, 1).await.unwrap();
        assert!(history.profile_picture.is_none(), "{}: revision 1 still has no picture", database.name);
        let redirected = get(&mut client, "acme", &new.id, 0).await.unwrap();
        assert_eq!(redirected.id, old.id, "{}: the merged-away id resolves to the survivor", database.name);
        let as_it_was = get(&mut client, "acme", &new.id, 1).await.unwrap();
        assert_eq!(as_it_was.id, new.id, "{}: an explicit revision is never redirected", database.name);

        let (page, _) = list(&mut client, "acme", 0, "", "").await.unwrap();
        assert_eq!(page.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [old.id.as_str()], "{}", database.name);

        if let Some(url) = &database.url {
            assert_contact_data_never_updated(url).await;
        }
    }
}

/// PostgreSQL counts every updated and deleted row: contact data must have none.
async fn assert_contact_data_never_updated(url: &str) {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(url).await.unwrap();
    let sql = "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables \
               WHERE relname IN ('contact', 'contact_revision', 'contact_merge_event')";
    // A backend flushes its statistics at most once a second while busy and
    // within about ten seconds once idle: wait until every table shows the
    // inserts this test made, so that updates and deletes would show too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let counts = loop {
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
        let counts: Vec<(String, i64, i64, i64)> = rows
            .iter()
            .map(|row| {
                let count = |column: &str| row.try_get::<i64>("", column).unwrap();
                (row.try_get("", "relname").unwrap(), count("n_tup_ins"), count("n_tup_upd"), count("n_tup_del"))
            })
            .collect();
        let live = counts.len() == 3 && counts.iter().all(|(_, inserted, _, _)| *inserted > 0);
        if live || std::time::Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(counts.len(), 3, "statistics for the three contact tables");
    for (table, inserted, updated, deleted) in counts {
        assert!(inserted > 0, "{table}: statistics are live ({inserted} inserts)");
        assert_eq!((updated, deleted), (0, 0), "{table}: contact data is write-once");
    }
}

#[tokio::test]
async fn the_request_id_travels_to_media_svc() {
    let database = TestDatabase::sqlite();
    let stack = stack(&database).await;
    let mut client = stack.contacts_client();
    let mut request = tenant_request(
        "acme",
        CreateContactRequest {
            contact: Some(person("Ada", "", "")),
            profile_picture: picture(8),
            request_id: String::new(),
        },
    );
    request.metadata_mut().insert("x-request-id", "trace-4f2a9c".parse().unwrap());
    client.create_contact(request).await.unwrap();
    let log = stack.media.log();
    let upload_lines: Vec<_> = log.lines().filter(|line| line.contains("UploadImage")).collect();
    assert!(!upload_lines.is_empty(), "media-svc logged the upload:\n{log}");
    assert!(
        upload_lines.iter().all(|line| line.contains("trace-4f2a9c") && line.contains("acme")),
        "media-svc's span carries the caller's request id and tenant: {upload_lines:?}"
    );
}

#[tokio::test]
async fn invalid_contacts_report_every_violation_and_create_nothing() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let mut bad = person(&"x".repeat(101), "", "not-an-email");
        bad.phone = "12".into();
        let status = create(&mut client, "acme", bad, vec![]).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::CONTACT_INVALID);
        let fields: Vec<_> = field_violations(&status).into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["contact.first_name", "contact.email", "contact.phone"], "{}", database.name);

        let status = create(&mut client, "acme", person("Ada", "", ""), b"GIF89a....".to_vec()).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}: a bad picture is the caller's fault", database.name);
        assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::IMAGE_FORMAT_UNSUPPORTED);
        assert_eq!(field_violations(&status)[0].field, "profile_picture");

        let mut oversized = picture(3);
        oversized.resize(2_621_441, 0);
        let status = create(&mut client, "acme", person("Ada", "", ""), oversized).await.unwrap_err();
        assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::IMAGE_TOO_LARGE, "{status:?}");
        assert!(status.message().contains("2621441") && status.message().contains("2621440"), "{}", status.message());
        assert_eq!(field_violations(&status)[0].field, "profile_picture");

        assert!(list(&mut client, "acme", 0, "", "").await.unwrap().0.is_empty(), "{}: nothing created", database.name);
    }
}

#[tokio::test]
async fn request_ids_make_retries_safe_even_when_they_race() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let request = CreateContactRequest {
            contact: Some(person("Grace", "Hopper", "grace@example.com")),
            profile_picture: picture(4),
            request_id: "7d0e8c1a-retry".into(),
        };
        let racers = (0..6).map(|_| {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.create_contact(tenant_request("acme", request)).await.map(|r| r.into_inner().id) }
        });
        let ids: HashSet<String> = futures::future::join_all(racers).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(ids.len(), 1, "{}: every retry returns the same contact", database.name);
        assert_eq!(list(&mut client, "acme", 0, "", "").await.unwrap().0.len(), 1, "{}: created once", database.name);

        let mut different = request.clone();
        different.contact.as_mut().unwrap().first_name = "Someone else".into();
        let status = client.create_contact(tenant_request("acme", different)).await.unwrap_err();
        assert_eq!(
            (status.code(), error_info(&status).unwrap().reason.as_str()),
            (Code::InvalidArgument, accommador_proto::reasons::REQUEST_ID_REUSED)
        );
    }
}

#[tokio::test]
async fn the_smart_list_pages_newest_first_filters_and_hides_merged_contacts() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let mut ids = Vec::new();
        for n in 0..7 {
            let company = if n % 2 == 0 { "Acme Corp" } else { "Globex" };
            let mut contact = person(&format!("Person{n}"), "Test", &format!("p{n}@example.com"));
            contact.company_name = company.into();
            ids.push(create(&mut client, "acme", contact, vec![]).await.unwrap().id);
        }
        let (first, token) = list(&mut client, "acme", 3, "", "").await.unwrap();
        assert_eq!(
            first.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            [ids[6].clone(), ids[5].clone(), ids[4].clone()]
        );
        // Contacts added meanwhile do not shift the next page.
        create(&mut client, "acme", person("Late", "Comer", ""), vec![]).await.unwrap();
        let (second, token) = list(&mut client, "acme", 3, &token, "").await.unwrap();
        assert_eq!(
            second.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            [ids[3].clone(), ids[2].clone(), ids[1].clone()]
        );
        let (last, end) = list(&mut client, "acme", 3, &token, "").await.unwrap();
        assert_eq!((last.len(), end.as_str()), (1, ""), "{}: the last page ends the list", database.name);

        let (acme_corp, _) = list(&mut client, "acme", 0, "", "ACME corp").await.unwrap();
        assert_eq!(acme_corp.len(), 4, "{}: case-insensitive company match", database.name);
        let (by_email, _) = list(&mut client, "acme", 0, "", "p3@EXAMPLE").await.unwrap();
        assert_eq!(by_email.len(), 1);
        let (wildcard, _) = list(&mut client, "acme", 0, "", "%").await.unwrap();
        assert!(wildcard.is_empty(), "{}: % is a literal, not a wildcard", database.name);

        merge(&mut client, "acme", &ids[0], &ids[1], &[]).await.unwrap();
        let (all, _) = list(&mut client, "acme", 200, "", "").await.unwrap();
        assert!(!all.iter().any(|c| c.id == ids[1]), "{}: merged-away contacts never appear", database.name);

        let status = list(&mut client, "acme", -1, "", "").await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let (_, token) = list(&mut client, "acme", 2, "", "").await.unwrap();
        let status = list(&mut client, "acme", 2, &token, "globex").await.unwrap_err();
        assert_eq!((status.code(), field_violations(&status)[0].field.as_str()), (Code::InvalidArgument, "page_token"));
        // Tokens are signed: another tenant's, an altered one or a forged one is refused.
        let status = list(&mut client, "globex", 2, &token, "").await.unwrap_err();
        assert_eq!((status.code(), field_violations(&status)[0].field.as_str()), (Code::InvalidArgument, "page_token"));
        let (content, signature) = token.split_once('.').expect("content.signature");
        let forged = format!("{content}.{}", signature.chars().rev().collect::<String>());
        let status = list(&mut client, "acme", 2, &forged, "").await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}: a forged signature", database.name);
        let (capped, _) = list(&mut client, "acme", 10_000, "", "").await.unwrap();
        assert_eq!(capped.len(), 7, "{}: a huge page size is lowered, not refused", database.name);
    }
}

#[tokio::test]
async fn batch_get_keeps_order_resolves_merges_and_is_all_or_nothing() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let a = create(&mut client, "acme", person("A", "", ""), vec![]).await.unwrap().id;
        let b = create(&mut client, "acme", person("B", "", ""), picture(5)).await.unwrap().id;
        let c = create(&mut client, "acme", person("C", "", ""), vec![]).await.unwrap().id;
        merge(&mut client, "acme", &c, &b, &[]).await.unwrap();

        let ids = vec![b.clone(), a.clone(), c.clone(), a.clone()];
        let got = client
            .batch_get_contacts(tenant_request("acme", BatchGetContactsRequest { ids }))
            .await
            .unwrap()
            .into_inner();
        let got_ids: Vec<_> = got.contacts.iter().map(|c| c.id.clone()).collect();
        assert_eq!(got_ids, [c.clone(), a.clone(), c.clone(), a.clone()], "{}", database.name);
        assert_picture_served(&got.contacts[0], database.name).await;

        let unknown = "0190f0e6-0000-7000-8000-000000000000".to_owned();
        let status = client
            .batch_get_contacts(tenant_request(
                "acme",
                BatchGetContactsRequest { ids: vec![a.clone(), unknown.clone()] },
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().contains(&unknown), "{}: names the unknown id: {}", database.name, status.message());

        let status = client
            .batch_get_contacts(tenant_request("acme", BatchGetContactsRequest { ids: vec![a.clone(); 101] }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
    }
}

#[tokio::test]
async fn merges_refuse_self_repeat_and_foreign_contacts_and_follow_chains() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let a = create(&mut client, "acme", person("A", "", ""), vec![]).await.unwrap().id;
        let b = create(&mut client, "acme", person("B", "", ""), vec![]).await.unwrap().id;
        let c = create(&mut client, "acme", person("C", "", ""), vec![]).await.unwrap().id;
        let foreign = create(&mut client, "other", person("F", "", ""), vec![]).await.unwrap().id;

        assert_eq!(merge(&mut client, "acme", &a, &a, &[]).await.unwrap_err().code(), Code::InvalidArgument);
        let status = merge(&mut client, "acme", &a, &b, &["birthday"]).await.unwrap_err();
        assert_eq!(field_violations(&status)[0].field, "take_from_duplicate[0]", "{}", database.name);
        assert_eq!(merge(&mut client, "acme", &a, &foreign, &[]).await.unwrap_err().code(), Code::NotFound);

        merge(&mut client, "acme", &a, &b, &[]).await.unwrap();
        let status = merge(&mut client, "acme", &c, &b, &[]).await.unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{}", database.name);
        let info = error_info(&status).unwrap();
        assert_eq!(
            (info.reason.as_str(), info.metadata["survivor_id"].as_str()),
            (accommador_proto::reasons::CONTACT_ALREADY_MERGED, a.as_str())
        );

        // A retried merge (same request id) answers the first result and merges nothing more.
        let d = create(&mut client, "acme", person("D", "", ""), vec![]).await.unwrap().id;
        let request = MergeContactsRequest {
            primary_id: c.clone(),
            duplicate_id: d.clone(),
            take_from_duplicate: vec![],
            request_id: "merge-retry-1".into(),
        };
        let first = client.merge_contacts(tenant_request("acme", request.clone())).await.unwrap().into_inner();
        let retried = client.merge_contacts(tenant_request("acme", request.clone())).await.unwrap().into_inner();
        assert_eq!((retried.id, retried.revision), (first.id, first.revision), "{}", database.name);
        let reused = MergeContactsRequest { duplicate_id: a.clone(), ..request };
        let status = client.merge_contacts(tenant_request("acme", reused)).await.unwrap_err();
        assert_eq!(
            error_info(&status).unwrap().reason,
            accommador_proto::reasons::REQUEST_ID_REUSED,
            "{}",
            database.name
        );

        // A <- B, then C <- A: both resolve to C.
        let survivor = merge(&mut client, "acme", &c, &a, &[]).await.unwrap();
        assert_eq!(survivor.merged_contact_ids.iter().collect::<HashSet<_>>(), [&a, &b, &d].into_iter().collect());
        for id in [&a, &b] {
            assert_eq!(get(&mut client, "acme", id, 0).await.unwrap().id, c, "{}: {id} resolves to C", database.name);
        }
    }
}

#[tokio::test]
async fn concurrent_merges_are_serialized() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let mut ids = Vec::new();
        for n in 0..6 {
            ids.push(create(&mut client, "acme", person(&format!("P{n}"), "", ""), vec![]).await.unwrap().id);
        }
        // Everyone tries to absorb ids[0], and ids[1] and ids[2] try to absorb each other.
        let attempts = [(1, 0), (2, 0), (3, 0), (4, 0), (1, 2), (2, 1), (5, 0)];
        let calls = attempts.iter().map(|&(primary, duplicate)| {
            let mut client = client.clone();
            let (primary, duplicate) = (ids[primary].clone(), ids[duplicate].clone());
            async move { merge(&mut client, "acme", &primary, &duplicate, &[]).await }
        });
        let results = futures::future::join_all(calls).await;
        let absorbed_zero = results[..4].iter().chain([&results[6]]).filter(|r| r.is_ok()).count();
        assert_eq!(absorbed_zero, 1, "{}: a contact is merged into exactly one survivor", database.name);
        assert!(results[4].is_ok() != results[5].is_ok() || results[4].is_err(), "{}: no cycle", database.name);
        for result in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(result.code(), Code::FailedPrecondition), "{}: {result:?}", database.name);
        }
        // Every id still resolves to a contact that is not merged away.
        for id in &ids {
            let survivor = get(&mut client, "acme", id, 0).await.unwrap();
            assert_eq!(get(&mut client, "acme", &survivor.id, 0).await.unwrap().id, survivor.id, "{}", database.name);
        }
    }
}

#[tokio::test]
async fn duplicates_match_on_email_phone_and_full_name() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let mut me = person("Ada", "Lovelace", "Ada@Example.com");
        me.phone = "+1 (415) 555-2671".into();
        let me = create(&mut client, "acme", me, vec![]).await.unwrap();
        let same_email = create(&mut client, "acme", person("", "", "ada@example.COM"), vec![]).await.unwrap();
        let mut same_phone = person("X", "", "");
        same_phone.phone = "4155552671".into();
        let same_phone = create(&mut client, "acme", same_phone, vec![]).await.unwrap();
        let same_name =
            create(&mut client, "acme", person("ada", "LOVELACE", "other@example.com"), vec![]).await.unwrap();
        create(&mut client, "acme", person("Someone", "Else", "else@example.com"), vec![]).await.unwrap();
        create(&mut client, "other", person("Ada", "Lovelace", "ada@example.com"), vec![]).await.unwrap();

        let request = FindDuplicateContactsRequest { contact_id: me.id.clone() };
        let found = client.find_duplicate_contacts(tenant_request("acme", request)).await.unwrap().into_inner();
        let mut got: Vec<(String, Vec<i32>)> =
            found.matches.into_iter().map(|m| (m.contact.unwrap().id, m.reasons)).collect();
        got.sort();
        let mut expected = vec![
            (same_email.id, vec![MatchReason::Email as i32]),
            (same_phone.id, vec![MatchReason::Phone as i32]),
            (same_name.id, vec![MatchReason::FullName as i32]),
        ];
        expected.sort();
        assert_eq!(got, expected, "{}", database.name);
    }
}

/// The searches CRM staff type into the Smart List, and duplicate search
/// over the values a merge gathered (issue 15).
#[tokio::test]
async fn search_finds_what_staff_type_and_duplicates_see_merged_in_values() {
    for database in databases().await {
        let stack = stack(&database).await;
        let mut client = stack.contacts_client();
        let mut ann = person("Ann", "Smith", "ann.smith@example.com");
        ann.phone = "(415) 555-0101".into();
        create(&mut client, "acme", ann, vec![]).await.unwrap();
        create(&mut client, "acme", person("Jose\u{301}", "Nu\u{303}n\u{303}ez", ""), vec![]).await.unwrap();
        let mut hans = person("Hans", "Meier", "");
        hans.company_name = "Große Straße GmbH".into();
        create(&mut client, "acme", hans, vec![]).await.unwrap();
        create(&mut client, "acme", person("İsmail", "Kılıç", ""), vec![]).await.unwrap();
        // A absorbs B's email and phone as additional values.
        let a = create(&mut client, "acme", person("Annie", "", "annie@home.example"), vec![]).await.unwrap();
        let mut b = person("", "", "ann@ex.com");
        b.phone = "+1 212 555 0199".into();
        let b = create(&mut client, "acme", b, vec![]).await.unwrap();
        merge(&mut client, "acme", &a.id, &b.id, &[]).await.unwrap();

        let cases: &[(&str, &[&str])] = &[
            ("Ann Smith", &["Ann"]),
            ("555-0101", &["Ann"]),
            ("(415) 555-0101", &["Ann"]),
            ("+1 415", &["Ann"]),
            ("ANN@EX", &["Annie"]),
            ("212-555-0199", &["Annie"]),
            ("jose", &["José"]),
            ("José Núñez", &["José"]),
            ("STRASSE", &["Hans"]),
            ("İSMAİL KILIÇ", &["İsmail"]),
        ];
        for (query, expected) in cases {
            let (found, _) = list(&mut client, "acme", 50, "", query).await.unwrap();
            // "José" was sent in NFD and is stored in NFC.
            let names: Vec<&str> = found.iter().map(|c| c.first_name.as_str()).collect();
            assert_eq!(names, *expected, "{}: {query:?}", database.name);
        }

        for (email, phone) in [("ANN@EX.COM", ""), ("", "(212) 555-0199")] {
            let mut newcomer = person("New", "", email);
            newcomer.phone = phone.into();
            let newcomer = create(&mut client, "acme", newcomer, vec![]).await.unwrap();
            let request = FindDuplicateContactsRequest { contact_id: newcomer.id.clone() };
            let found = client.find_duplicate_contacts(tenant_request("acme", request)).await.unwrap().into_inner();
            let ids: Vec<String> = found.matches.into_iter().map(|m| m.contact.unwrap().id).collect();
            assert_eq!(ids, std::slice::from_ref(&a.id), "{}: {email}{phone} finds A", database.name);
        }
    }
}

#[tokio::test]
async fn reads_survive_a_media_outage_and_creates_fail_cleanly() {
    for database in databases().await {
        // Without the cache of signed URLs, which would still answer with
        // the URLs signed at create (see the next test).
        let stack = Stack::start(&database, &[], &[("PICTURE_URL_CACHE_ENTRIES", "0".into())]).await.unwrap();
        let mut client = stack.contacts_client();
        let with_picture = create(&mut client, "acme", person("Ada", "", ""), picture(6)).await.unwrap();
        let Stack { media, contacts, dir } = stack;
        assert!(media.terminate().await.unwrap().success());
        let stack_without_media = (contacts, dir);
        let mut client = ContactsServiceClient::new(stack_without_media.0.channel());

        let (page, _) = list(&mut client, "acme", 0, "", "").await.unwrap();
        let picture_ref = page[0].profile_picture.as_ref().expect("the picture reference stays");
        assert_eq!(picture_ref.image_id, with_picture.profile_picture.unwrap().image_id);
        assert!(picture_ref.renditions.is_empty(), "{}: no URLs without media-svc", database.name);

        let status = create(&mut client, "acme", person("Bob", "", ""), picture(7)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{}: {status:?}", database.name);
        assert_eq!(
            list(&mut client, "acme", 0, "", "").await.unwrap().0.len(),
            1,
            "{}: nothing created",
            database.name
        );
    }
}

#[tokio::test]
async fn signed_urls_are_kept_between_reads_and_through_a_media_outage() {
    let stack = stack(&TestDatabase::sqlite()).await;
    let mut client = stack.contacts_client();
    let ada = create(&mut client, "acme", person("Ada", "", ""), picture(6)).await.unwrap();
    let signing_calls = |metrics: String| -> f64 {
        let line = metrics
            .lines()
            .find(|line| line.starts_with("grpc_server_handled_total") && line.contains("SignImageUrls"));
        line.and_then(|line| line.rsplit(' ').next()?.parse().ok()).unwrap_or(0.0)
    };
    let before = signing_calls(stack.media.metrics().await.unwrap());
    for _ in 0..5 {
        let (page, _) = list(&mut client, "acme", 0, "", "").await.unwrap();
        assert_eq!(page[0].profile_picture, ada.profile_picture, "the URLs signed at create");
    }
    assert_eq!(signing_calls(stack.media.metrics().await.unwrap()), before, "no page asked media-svc");

    let Stack { media, contacts, dir: _dir } = stack;
    assert!(media.terminate().await.unwrap().success());
    let mut client = ContactsServiceClient::new(contacts.channel());
    let (page, _) = list(&mut client, "acme", 0, "", "").await.unwrap();
    assert_eq!(page[0].profile_picture, ada.profile_picture, "still good, so still shown while media-svc is down");
}
