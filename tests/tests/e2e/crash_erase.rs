//! contacts-svc killed (SIGKILL) in the middle of erasing people, again and
//! again: after each restart every merge group is whole or wholly erased
//! (every id CONTACT_ERASED, no value left in any of its revisions, one
//! audit row per id), and the releases queued before a crash are delivered
//! after it, so every erased picture stops being served.

use std::time::{Duration, Instant};

use accommador_proto::{
    accommador::contacts::v1::{
        Contact, EraseContactRequest, GetContactRequest, contacts_service_client::ContactsServiceClient,
    },
    reasons,
    status::error_info,
};
use accommador_tests::{
    Stack, databases,
    pictures::photo,
    requests::{create_request, merge_request},
    start_contacts, tenant_request,
};
use sea_orm::{ConnectionTrait, Statement};
use tonic::transport::Channel;

type Client = ContactsServiceClient<Channel>;

const GROUPS: usize = 40;
const CRASHES: usize = 3;

/// Erases the groups of `ids` in turn (through a random member each) until
/// the server goes away; after the last, erases them again.
async fn erase_until_killed(mut client: Client, ids: Vec<Vec<String>>) {
    for group in ids.iter().cycle() {
        let id = group[(uuid::Uuid::new_v4().as_u128() % group.len() as u128) as usize].clone();
        let request = EraseContactRequest { id, reason: "GDPR".into(), ..Default::default() };
        if let Err(status) = client.erase_contact(tenant_request("acme", request)).await
            && status.code() == tonic::Code::Unavailable
        {
            return;
        }
    }
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index(0).unwrap()
}

#[tokio::test]
async fn erasures_interrupted_by_sigkill_are_all_or_nothing() {
    for database in databases().await {
        let name = database.name;
        let Stack { media, contacts, dir } = Stack::start(&database, &[], &[]).await.unwrap();
        let mut client = ContactsServiceClient::new(contacts.channel());
        // Each group: a primary wearing a picture and two duplicates.
        let mut groups: Vec<(Contact, Vec<String>)> = Vec::new();
        for n in 0..GROUPS {
            let mut members = Vec::new();
            for part in 0..3 {
                let contact = Contact { first_name: format!("G{n}M{part}"), ..Default::default() };
                let picture = if part == 0 { photo(n as u32) } else { Vec::new() };
                let request = create_request(contact, picture);
                members.push(client.create_contact(tenant_request("acme", request)).await.unwrap().into_inner());
            }
            for duplicate in &members[1..] {
                let request = merge_request(&members[0].id, &duplicate.id, &[], "");
                client.merge_contacts(tenant_request("acme", request)).await.unwrap();
            }
            let ids = members.iter().map(|m| m.id.clone()).collect();
            groups.push((members.swap_remove(0), ids));
        }
        let every_group: Vec<Vec<String>> = groups.iter().map(|(_, ids)| ids.clone()).collect();

        let mut contacts = contacts;
        let settings = [("CLAIM_RETRY_INTERVAL", "500ms".to_owned())];
        for _ in 0..CRASHES {
            // Each round starts over from the first group, so later rounds
            // kill erasures of groups the earlier ones did not reach.
            let client = ContactsServiceClient::new(contacts.channel());
            let erasing = tokio::spawn(erase_until_killed(client, every_group.clone()));
            let delay = 10 + (uuid::Uuid::new_v4().as_u128() % 60) as u64;
            tokio::time::sleep(Duration::from_millis(delay)).await;
            contacts.kill().unwrap();
            erasing.await.unwrap();
            contacts = start_contacts(dir.path(), &media, &database, &settings).await.unwrap();
        }

        let url = database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rw", dir.path().join("contacts.sqlite").display()));
        let db = sea_orm::Database::connect(&url).await.unwrap();
        let mut client = ContactsServiceClient::new(contacts.channel());
        let (mut erased, mut whole) = (0, 0);
        let mut urls = Vec::new();
        for (primary, ids) in &groups {
            let what = format!("{name}: group of {}", primary.first_name);
            let in_group = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ");
            let valued = count(
                &db,
                &format!("SELECT COUNT(*) FROM contact_revision WHERE contact_id IN ({in_group}) AND first_name <> ''"),
            )
            .await;
            let audited =
                count(&db, &format!("SELECT COUNT(*) FROM contact_erasure WHERE contact_id IN ({in_group})")).await;
            let mut answers = Vec::new();
            for id in ids {
                let request = GetContactRequest { id: id.clone(), revision: 0 };
                answers
                    .push(client.get_contact(tenant_request("acme", request)).await.map(tonic::Response::into_inner));
            }
            if answers.iter().all(Result::is_ok) {
                whole += 1;
                assert_eq!(audited, 0, "{what}: a live group has no erasure rows");
                assert!(valued >= 3, "{what}: a live group keeps its values ({valued} revisions with a name)");
                for answer in answers {
                    assert_eq!(answer.unwrap().id, primary.id, "{what}: every id resolves to the primary");
                }
            } else {
                erased += 1;
                for answer in answers {
                    let status = answer.expect_err(&what);
                    assert_eq!(error_info(&status).unwrap().reason, reasons::CONTACT_ERASED, "{what}: {status:?}");
                }
                assert_eq!((valued, audited), (0, 3), "{what}: erased through and through");
            }
            // Erasing again is a success, and finishes nothing half-done.
            let request = EraseContactRequest { id: primary.id.clone(), reason: "GDPR".into(), ..Default::default() };
            let again = client.erase_contact(tenant_request("acme", request)).await.unwrap().into_inner();
            assert_eq!(again.erased_contact_ids.len(), 3, "{what}");
            urls.extend(primary.profile_picture.iter().map(|p| p.renditions[0].url.clone()));
        }
        assert!(erased > 0, "{name}: some erasures happened between the crashes");
        eprintln!("{name}: {erased} groups erased before the last crash, {whole} whole");

        // The releases queued by every erasure (before or after a crash) are
        // delivered; one a killed worker had leased waits out its lease (30 s).
        let start = Instant::now();
        for url in urls {
            while reqwest::get(&url).await.unwrap().status() != 404 {
                assert!(start.elapsed() < Duration::from_secs(90), "{name}: {url} still served");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        db.close().await.unwrap();
    }
}
