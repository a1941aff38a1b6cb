//! EraseContact end to end, on SQLite and PostgreSQL: a person with merges,
//! a takedown and a replaced picture is erased through any id of the group;
//! every id answers CONTACT_ERASED, no list or search finds them, their
//! pictures stop being served (a twin's picture stays), and afterwards no
//! table of the database, no byte of the SQLite file (after a checkpoint and
//! VACUUM) and no log line holds any of their values, while a control
//! contact's values are found by the same scan.

use std::time::{Duration, Instant};

use accommador_proto::{
    accommador::contacts::v1::{
        BatchGetContactsRequest, Contact, CreateContactRequest, EraseContactRequest, EraseContactResponse,
        GetContactRequest, ListContactsRequest, RemoveProfilePictureRequest, ReplaceProfilePictureRequest,
        contacts_service_client::ContactsServiceClient,
    },
    reasons,
    status::{error_info, field_violations},
};
use accommador_tests::{
    Stack, TestDatabase, databases,
    databases::{compacted_sqlite_bytes, every_row_as_text},
    pictures::camera_photo,
    requests::{create_request, first_page, merge_request},
    tenant_request,
};
use tonic::{Code, Status, transport::Channel};

type Client = ContactsServiceClient<Channel>;

/// How long media-svc may keep serving an erased person's picture.
const URL_DEADLINE: Duration = Duration::from_secs(60);

/// The erased person's values, folded to lowercase: none may be left anywhere.
const PERSON: &[&str] = &[
    "zebulonia",
    "quarrington",
    "zebby",
    "erasure.example",
    "4155550187",
    "4155550188",
    "vexillum",
    "gdpr-subject",
    "offensive photo of z",
];
/// A contact that stays: the same scan must find every one of these.
const CONTROL: &[&str] = &["controlla", "keepington", "kept.example", "4155550199", "kept industries", "kept-tag"];

/// The person every erasure test erases (their values are in [`PERSON`]).
fn the_person() -> Contact {
    Contact {
        first_name: "Zebulonia".into(),
        last_name: "Quarrington".into(),
        email: "zebulonia.q@erasure.example".into(),
        phone: "+14155550187".into(),
        company_name: "Vexillum Holdings".into(),
        tags: vec!["gdpr-subject".into()],
        ..Default::default()
    }
}

/// Stops both services (so everything is written out) and returns every row
/// of the database as text, both services' logs, and the stack's folder.
async fn stop_and_read(stack: Stack, database: &TestDatabase) -> (String, String, tempfile::TempDir) {
    let Stack { media, contacts, dir } = stack;
    let logs = format!("{}\n{}", contacts.log(), media.log());
    contacts.terminate().await.unwrap();
    media.terminate().await.unwrap();
    let sqlite = || format!("sqlite://{}?mode=rw", dir.path().join("contacts.sqlite").display());
    let rows = every_row_as_text(&database.url.clone().unwrap_or_else(sqlite)).await.unwrap();
    (rows, logs, dir)
}

fn contact_named(first_name: &str) -> Contact {
    Contact { first_name: first_name.into(), ..Default::default() }
}

fn reason(status: &Status) -> String {
    error_info(status).map(|info| info.reason).unwrap_or_default()
}

async fn erase(
    client: &mut Client,
    tenant: &str,
    id: &str,
    why: &str,
    request_id: &str,
) -> Result<EraseContactResponse, Status> {
    let request = EraseContactRequest { id: id.into(), reason: why.into(), request_id: request_id.into() };
    client.erase_contact(tenant_request(tenant, request)).await.map(tonic::Response::into_inner)
}

async fn get(client: &mut Client, id: &str, revision: i64) -> Result<Contact, Status> {
    let request = GetContactRequest { id: id.into(), revision };
    client.get_contact(tenant_request("acme", request)).await.map(tonic::Response::into_inner)
}

fn first_url(contact: &Contact) -> String {
    contact.profile_picture.as_ref().expect("a picture").renditions[0].url.clone()
}

async fn status_of(url: &str) -> u16 {
    reqwest::get(url).await.expect("GET picture").status().as_u16()
}

/// Waits until `url` answers 404; panics after [`URL_DEADLINE`].
async fn until_gone(url: &str, what: &str) {
    let start = Instant::now();
    loop {
        let status = status_of(url).await;
        if status == 404 {
            return;
        }
        assert!(start.elapsed() < URL_DEADLINE, "{what}: the URL still answers {status} after a minute");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Which of `needles` occur in `haystack`, ASCII case ignored.
fn found_in(haystack: &[u8], needles: &[&str]) -> Vec<String> {
    let haystack = haystack.to_ascii_lowercase();
    needles
        .iter()
        .filter(|needle| haystack.windows(needle.len()).any(|window| window == needle.as_bytes()))
        .map(|needle| (*needle).to_owned())
        .collect()
}

fn assert_erased(result: Result<Contact, Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::NotFound, reasons::CONTACT_ERASED),
        "{what}: {status:?}"
    );
    let info = error_info(&status).unwrap();
    assert!(info.metadata.contains_key("erase_time"), "{what}: {info:?}");
    assert!(
        !PERSON.iter().any(|value| status.message().to_lowercase().contains(value)),
        "{what}: {}",
        status.message()
    );
}

#[tokio::test]
async fn an_erased_person_leaves_no_value_in_any_table_file_or_log() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;

        let person = the_person();
        let create = CreateContactRequest {
            contact: Some(person),
            profile_picture: camera_photo(640, 480, 11),
            request_id: "create-the-person".into(),
        };
        let a = client.create_contact(tenant_request("acme", create.clone())).await.unwrap().into_inner();
        let alias = Contact {
            first_name: "Zebby".into(),
            last_name: "Quarrington".into(),
            email: "zq.alt@erasure.example".into(),
            phone: "+14155550188".into(),
            company_name: "Vexillum Ltd".into(),
            tags: vec!["quarrington-family".into()],
            ..Default::default()
        };
        let shared_picture = camera_photo(600, 600, 12);
        let b = client.create_contact(tenant_request("acme", create_request(alias, shared_picture.clone()))).await;
        let b = b.unwrap().into_inner();
        let control = Contact {
            first_name: "Controlla".into(),
            last_name: "Keepington".into(),
            email: "controlla@kept.example".into(),
            phone: "+14155550199".into(),
            company_name: "Kept Industries".into(),
            tags: vec!["kept-tag".into()],
            ..Default::default()
        };
        let c = client.create_contact(tenant_request("acme", create_request(control, camera_photo(500, 500, 14))));
        let c = c.await.unwrap().into_inner();
        let twin = Contact { first_name: "Twin".into(), email: "twin@kept.example".into(), ..Default::default() };
        let t = client.create_contact(tenant_request("acme", create_request(twin, shared_picture))).await;
        let t = t.unwrap().into_inner();

        client.merge_contacts(tenant_request("acme", merge_request(&a.id, &b.id, &[], ""))).await.unwrap();
        let takedown = RemoveProfilePictureRequest {
            id: a.id.clone(),
            reason: "offensive photo of Zebulonia".into(),
            ..Default::default()
        };
        client.remove_profile_picture(tenant_request("acme", takedown)).await.unwrap();
        let replace = ReplaceProfilePictureRequest {
            id: a.id.clone(),
            profile_picture: camera_photo(512, 512, 13),
            ..Default::default()
        };
        let replaced = client.replace_profile_picture(tenant_request("acme", replace)).await.unwrap().into_inner();
        let carrier = replaced.merged_contact_ids.last().cloned().unwrap();
        let person_url = first_url(&replaced);
        let twin_url = first_url(&t);
        assert_eq!(status_of(&person_url).await, 200, "{name}: the picture is served before");

        // Erased through the alias's id: the whole group goes.
        let erased = erase(&mut client, "acme", &b.id, "GDPR request 4711", "erase-1").await.unwrap();
        let mut group = vec![a.id.clone(), b.id.clone(), carrier.clone()];
        group.sort();
        assert_eq!(erased.erased_contact_ids, group, "{name}: the contact, its duplicate and the carrier");
        assert!(erased.erase_time.is_some(), "{name}");
        for again in [
            erase(&mut client, "acme", &a.id, "GDPR request 4711", "").await,
            erase(&mut client, "acme", &carrier, "repeated", "another-request").await,
            erase(&mut client, "acme", &b.id, "GDPR request 4711", "erase-1").await,
        ] {
            assert_eq!(again.unwrap(), erased, "{name}: repeating the call is the same success");
        }

        for id in &group {
            for revision in [0, 1] {
                assert_erased(get(&mut client, id, revision).await, &format!("{name}: get {id} revision {revision}"));
            }
        }
        let batch = BatchGetContactsRequest { ids: vec![c.id.clone(), a.id.clone()] };
        let batch = client.batch_get_contacts(tenant_request("acme", batch)).await.map(|r| r.into_inner().contacts);
        assert_erased(batch.map(|mut contacts| contacts.remove(0)), &format!("{name}: batch get"));
        let unknown = uuid::Uuid::now_v7().to_string();
        let batch = BatchGetContactsRequest { ids: vec![c.id.clone(), unknown.clone(), a.id.clone()] };
        let status = client.batch_get_contacts(tenant_request("acme", batch)).await.unwrap_err();
        assert_eq!(reason(&status), reasons::CONTACT_NOT_FOUND, "{name}: the first id that does not read is named");
        assert_eq!(error_info(&status).unwrap().metadata["contact_id"], unknown, "{name}");
        let listed: Vec<String> = first_page(&mut client, "acme").await.into_iter().map(|c| c.id).collect();
        assert_eq!(listed.len(), 2, "{name}: only the control and the twin are listed: {listed:?}");
        assert!(listed.contains(&c.id) && listed.contains(&t.id), "{name}: {listed:?}");
        for query in ["Zebulonia", "quarrington", "4155550187", "Vexillum"] {
            let request = ListContactsRequest { query: query.into(), ..Default::default() };
            let found = client.list_contacts(tenant_request("acme", request)).await.unwrap().into_inner().contacts;
            assert!(found.is_empty(), "{name}: {query:?} finds {found:?}");
        }
        let merged = client.merge_contacts(tenant_request("acme", merge_request(&c.id, &a.id, &[], ""))).await;
        assert_erased(merged.map(tonic::Response::into_inner), &format!("{name}: merging an erased contact"));
        // The person's request ids: another operation is refused as ever,
        // the same one learns the contact is gone.
        let other_operation = merge_request(&c.id, &t.id, &[], "create-the-person");
        let reused = client.merge_contacts(tenant_request("acme", other_operation)).await.unwrap_err();
        assert_eq!(reason(&reused), reasons::REQUEST_ID_REUSED, "{name}: {reused:?}");
        let retried = client.create_contact(tenant_request("acme", create)).await;
        assert_erased(
            retried.map(tonic::Response::into_inner),
            &format!("{name}: a retried create of the erased contact"),
        );

        until_gone(&person_url, &format!("{name}: the erased picture")).await;
        assert_eq!(status_of(&twin_url).await, 200, "{name}: the twin keeps the picture it shares with the alias");

        let (rows, logs, dir) = stop_and_read(stack, &database).await;
        assert_eq!(found_in(rows.as_bytes(), PERSON), Vec::<String>::new(), "{name}: the person in a table:\n{rows}");
        assert_eq!(found_in(rows.as_bytes(), CONTROL).len(), CONTROL.len(), "{name}: the scan finds the control");
        assert!(rows.contains("GDPR request 4711") && rows.contains(&a.id), "{name}: the audit stays");
        assert_eq!(found_in(logs.as_bytes(), PERSON), Vec::<String>::new(), "{name}: the person in a log line");
        if database.url.is_none() {
            let bytes = compacted_sqlite_bytes(&dir.path().join("contacts.sqlite")).await.unwrap();
            assert_eq!(found_in(&bytes, PERSON), Vec::<String>::new(), "{name}: the person in the file's bytes");
            assert_eq!(found_in(&bytes, CONTROL).len(), CONTROL.len(), "{name}: the byte scan finds the control");
        }
    }
}

#[tokio::test]
async fn erasure_refuses_bad_requests_and_other_tenants() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let contact = Contact { first_name: "Kept".into(), ..Default::default() };
        let kept = client.create_contact(tenant_request("acme", create_request(contact, vec![]))).await;
        let kept = kept.unwrap().into_inner();

        let refused = erase(&mut client, "acme", "not-an-id", "", "").await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{name}: {refused:?}");
        let fields: Vec<String> = field_violations(&refused).into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["id", "reason"], "{name}: both problems at once");
        let long = "x".repeat(501);
        let refused = erase(&mut client, "acme", &kept.id, &long, "").await.unwrap_err();
        assert!(refused.message().contains("500"), "{name}: the limit is named: {}", refused.message());
        let refused = erase(&mut client, "acme", &kept.id, "bad\u{202e}reason", "").await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{name}");

        let unknown = uuid::Uuid::now_v7().to_string();
        let missing = erase(&mut client, "acme", &unknown, "GDPR", "").await.unwrap_err();
        assert_eq!((missing.code(), reason(&missing).as_str()), (Code::NotFound, reasons::CONTACT_NOT_FOUND), "{name}");
        let foreign = erase(&mut client, "other", &kept.id, "GDPR", "").await.unwrap_err();
        assert_eq!((foreign.code(), reason(&foreign).as_str()), (Code::NotFound, reasons::CONTACT_NOT_FOUND), "{name}");
        let reused = client.create_contact(tenant_request(
            "acme",
            CreateContactRequest {
                contact: Some(Contact { first_name: "Other".into(), ..Default::default() }),
                request_id: "used-once".into(),
                ..Default::default()
            },
        ));
        reused.await.unwrap();
        let reused = erase(&mut client, "acme", &kept.id, "GDPR", "used-once").await.unwrap_err();
        assert_eq!(reason(&reused), reasons::REQUEST_ID_REUSED, "{name}: {reused:?}");
        assert_eq!(get(&mut client, &kept.id, 0).await.unwrap().first_name, "Kept", "{name}: nothing was erased");

        // A repeat that carries a request id records it like a first call:
        // the id then never erases someone else.
        let gone = client.create_contact(tenant_request("acme", create_request(contact_named("Gone"), vec![]))).await;
        let gone = gone.unwrap().into_inner();
        erase(&mut client, "acme", &gone.id, "GDPR", "").await.unwrap();
        let repeat = erase(&mut client, "acme", &gone.id, "GDPR", "key-of-a-repeat").await.unwrap();
        let reused = erase(&mut client, "acme", &kept.id, "GDPR", "key-of-a-repeat").await.unwrap_err();
        assert_eq!(reason(&reused), reasons::REQUEST_ID_REUSED, "{name}: {reused:?}");
        assert_eq!(get(&mut client, &kept.id, 0).await.unwrap().first_name, "Kept", "{name}: nothing was erased");
        let retried = erase(&mut client, "acme", &gone.id, "GDPR", "key-of-a-repeat").await.unwrap();
        assert_eq!(retried, repeat, "{name}: the retry gets the erasure");
    }
}

#[tokio::test]
async fn merges_racing_an_erasure_either_join_the_erased_group_or_find_it_erased() {
    const JOINERS: usize = 16;
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let create = |first: String| create_request(Contact { first_name: first, ..Default::default() }, vec![]);
        let person = client.create_contact(tenant_request("acme", create("Racer".into()))).await.unwrap().into_inner();
        let mut joiners = Vec::new();
        for n in 0..JOINERS {
            joiners.push(
                client.create_contact(tenant_request("acme", create(format!("Joiner{n}")))).await.unwrap().into_inner(),
            );
        }
        let merges: Vec<_> = joiners
            .iter()
            .map(|joiner| {
                let mut client = client.clone();
                let request = merge_request(&person.id, &joiner.id, &[], "");
                tokio::spawn(async move { client.merge_contacts(tenant_request("acme", request)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let erased = erase(&mut client, "acme", &person.id, "GDPR", "").await.unwrap();
        let mut joined = 0;
        for (joiner, merge) in joiners.iter().zip(merges) {
            match merge.await.unwrap() {
                // Committed before the erasure took its locks: erased with the group.
                Ok(_) => {
                    joined += 1;
                    assert!(
                        erased.erased_contact_ids.contains(&joiner.id),
                        "{name}: {} merged but not erased",
                        joiner.id
                    );
                    assert_erased(get(&mut client, &joiner.id, 0).await, &format!("{name}: a joiner"));
                }
                Err(status) => {
                    assert_eq!(reason(&status), reasons::CONTACT_ERASED, "{name}: {status:?}");
                    assert!(
                        !erased.erased_contact_ids.contains(&joiner.id),
                        "{name}: {} erased but not merged",
                        joiner.id
                    );
                    assert_eq!(get(&mut client, &joiner.id, 0).await.unwrap().id, joiner.id, "{name}: still live");
                }
            }
        }
        assert_eq!(erased.erased_contact_ids.len(), joined + 1, "{name}: the person and exactly the joiners merged");
        eprintln!("{name}: {joined} of {JOINERS} merges joined the group before the erasure");
    }
}

#[tokio::test]
async fn a_contact_the_person_was_unmerged_from_keeps_its_history_without_the_person() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let keeper = Contact {
            first_name: "Xavier".into(),
            email: "xavier@kept.example".into(),
            tags: vec!["kept-tag".into()],
            ..Default::default()
        };
        let x = client.create_contact(tenant_request("acme", create_request(keeper, camera_photo(500, 400, 21))));
        let x = x.await.unwrap().into_inner();
        let person = the_person();
        let p = client.create_contact(tenant_request("acme", create_request(person, camera_photo(400, 500, 22))));
        let p = p.await.unwrap().into_inner();
        let person_url = first_url(&p);
        // A mistaken merge, undone: Xavier's revision 2 carries the person.
        let take = ["first_name", "profile_picture"];
        let merged = client.merge_contacts(tenant_request("acme", merge_request(&x.id, &p.id, &take, ""))).await;
        let merged = merged.unwrap().into_inner();
        assert_eq!((merged.first_name.as_str(), merged.phone.as_str()), ("Zebulonia", "+14155550187"), "{name}");
        let unmerge = accommador_proto::accommador::contacts::v1::UnmergeContactsRequest {
            primary_id: x.id.clone(),
            duplicate_id: p.id.clone(),
            request_id: String::new(),
        };
        client.unmerge_contacts(tenant_request("acme", unmerge)).await.unwrap();

        erase(&mut client, "acme", &p.id, "GDPR request 4712", "").await.unwrap();
        let latest = get(&mut client, &x.id, 0).await.unwrap();
        assert_eq!((latest.revision, latest.first_name.as_str()), (3, "Xavier"), "{name}: Xavier today is untouched");
        assert_eq!(latest.profile_picture.map(|p| p.image_id), x.profile_picture.map(|p| p.image_id), "{name}");
        let borrowed = get(&mut client, &x.id, 2).await.unwrap();
        let values = |c: &Contact| {
            (c.first_name.clone(), c.email.clone(), c.phone.clone(), c.company_name.clone(), c.tags.clone())
        };
        let without_person = (
            "".to_owned(),
            "xavier@kept.example".to_owned(),
            String::new(),
            String::new(),
            vec!["kept-tag".to_owned()],
        );
        assert_eq!(values(&borrowed), without_person, "{name}: revision 2 keeps Xavier's values only");
        assert!(borrowed.additional_emails.is_empty() && borrowed.profile_picture.is_none(), "{name}: {borrowed:?}");
        // Xavier's claim on the person's picture (from the merge) goes too.
        until_gone(&person_url, &format!("{name}: the person's picture")).await;

        let (rows, _, _) = stop_and_read(stack, &database).await;
        assert_eq!(found_in(rows.as_bytes(), PERSON), Vec::<String>::new(), "{name}: the person in a table:\n{rows}");
        let kept = ["xavier", "kept.example", "kept-tag"];
        assert_eq!(found_in(rows.as_bytes(), &kept).len(), kept.len(), "{name}: Xavier's values stay");
    }
}
