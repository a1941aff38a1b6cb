//! Integrity whatever order failures come in: poison claims never hold back
//! the claim outbox, merge chains of any length resolve, a retried merge
//! gets the first call's result, a page loses only the pictures that are
//! gone, and the reconciliation repairs what it can and reports the rest.
//! Real binaries, real gRPC, on SQLite and PostgreSQL.

use std::{collections::HashSet, path::Path, time::Duration};

use accommador_proto::accommador::{
    contacts::v1::{
        BatchGetContactsRequest, Contact, GetContactRequest, ListContactsRequest, MergeContactsRequest,
        contacts_service_client::ContactsServiceClient,
    },
    media::v1::{UploadImageRequest, media_service_client::MediaServiceClient},
};
use accommador_tests::{
    Server, Stack, TestDatabase, databases,
    pictures::{jpeg, photo},
    requests::{self, create_request, named},
    start_contacts, tenant_request,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tonic::transport::Channel;

type Client = ContactsServiceClient<Channel>;

async fn create(client: &mut Client, name: &str, picture: Vec<u8>) -> Contact {
    client
        .create_contact(tenant_request("acme", create_request(named(name), picture)))
        .await
        .expect("create")
        .into_inner()
}

fn merge_request(primary: &str, duplicate: &str, request_id: &str) -> tonic::Request<MergeContactsRequest> {
    tenant_request("acme", requests::merge_request(primary, duplicate, &[], request_id))
}

async fn connect(stack: &Stack, database: &TestDatabase) -> DatabaseConnection {
    sea_orm::Database::connect(stack.database_url(database)).await.expect("connect to contacts-svc's database")
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index(0).unwrap()
}

/// The image ids (folders) media-svc's embedded S3 server keeps for tenant acme.
fn images_folder(dir: &Path) -> std::path::PathBuf {
    dir.join("media/objects/accommador-media/acme/images")
}

fn picture_id(contact: &Contact) -> String {
    contact.profile_picture.as_ref().expect("a picture").image_id.clone()
}

#[tokio::test]
async fn poison_claims_never_hold_back_a_new_contacts_claim() {
    for database in databases().await {
        let media_env = [("MEDIA_PENDING_GRACE", "15s".to_owned()), ("MEDIA_JANITOR_INTERVAL", "500ms".to_owned())];
        let stack = Stack::start(&database, &media_env, &[]).await.unwrap();
        let db = connect(&stack, &database).await;

        // 150 claims that can never succeed, older than anything to come:
        // images media-svc never had (NOT_FOUND) and ids it cannot accept
        // (INVALID_ARGUMENT). Written with the outbox's original columns only.
        let backend = db.get_database_backend();
        for n in 0..150 {
            let image_id = if n % 3 == 0 { "not-an-image-id".to_owned() } else { format!("{n:064x}") };
            let sql = format!(
                "INSERT INTO claim_outbox (tenant, image_id, owner, create_time_us, claim_deadline_us) \
                 VALUES ('acme', '{image_id}', 'poison-{n}', {n}, {})",
                i64::MAX
            );
            db.execute_raw(Statement::from_string(backend, sql)).await.unwrap();
        }

        let mut contacts = stack.contacts_client();
        let bytes = photo(7);
        let created = create(&mut contacts, "Ada", bytes.clone()).await;

        // Past media-svc's grace period, its janitor sweeping twice a second.
        tokio::time::sleep(Duration::from_secs(17)).await;
        let again = MediaServiceClient::new(stack.media.channel())
            .upload_image(tenant_request("acme", UploadImageRequest { data: bytes, request_id: String::new() }))
            .await
            .unwrap()
            .into_inner();
        assert!(again.claimed, "{}: the new contact's claim was delivered despite 150 poison entries", database.name);
        let survivor = contacts
            .get_contact(tenant_request("acme", GetContactRequest { id: created.id.clone(), revision: 0 }))
            .await
            .unwrap()
            .into_inner();
        let url = &survivor.profile_picture.expect("picture").renditions[0].url;
        assert_eq!(
            reqwest::get(url).await.unwrap().status(),
            200,
            "{}: the picture survived the janitor",
            database.name
        );

        assert_eq!(count(&db, "claim_outbox").await, 0, "{}: nothing is left waiting", database.name);
        assert_eq!(
            count(&db, "claim_dead_letter").await,
            150,
            "{}: every poison claim is a dead letter",
            database.name
        );
        let metrics = stack.contacts.metrics().await.unwrap();
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("contacts_claims_dead_lettered_total") && line.ends_with(" 150")),
            "{}: dead letters are counted:\n{metrics}",
            database.name
        );
        assert!(
            metrics.lines().any(|line| line == "contacts_claim_outbox_backlog 0"),
            "{}: the backlog gauge is the true backlog:\n{metrics}",
            database.name
        );
    }
}

#[tokio::test]
async fn claims_failing_for_now_wait_on_their_own_backoff_behind_a_healthy_one() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.unwrap();
        let db = connect(&stack, &database).await;
        // 110 claims (more than one outbox batch) that fail for now: their
        // images exist, but media-svc reads a manifest it cannot decode
        // (INTERNAL), as after a storage fault. They are older than anything to come.
        let mut media = MediaServiceClient::new(stack.media.channel());
        let backend = db.get_database_backend();
        for n in 0..110u32 {
            let data = jpeg(64, 64, 9_000 + n);
            let request = UploadImageRequest { data, request_id: String::new() };
            let image = media.upload_image(tenant_request("acme", request)).await.unwrap().into_inner();
            std::fs::write(images_folder(stack.dir.path()).join(&image.image_id).join("manifest.json"), b"{").unwrap();
            let sql = format!(
                "INSERT INTO claim_outbox (tenant, image_id, owner, create_time_us, claim_deadline_us) \
                 VALUES ('acme', '{}', 'stuck-{n}', {n}, {})",
                image.image_id,
                i64::MAX
            );
            db.execute_raw(Statement::from_string(backend, sql)).await.unwrap();
        }

        let mut contacts = stack.contacts_client();
        let created = create(&mut contacts, "Healthy", photo(11)).await;
        let claims = images_folder(stack.dir.path()).join(picture_id(&created)).join("claims");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::fs::read_dir(&claims).map_or(true, |mut entries| entries.next().is_none()) {
            assert!(std::time::Instant::now() < deadline, "{}: the healthy claim is delivered", database.name);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The failing ones stay queued for a retry, not dead, each with its own attempt count;
        // the healthy one leaves the outbox just after its claim is stored, so wait for both.
        let retried = "SELECT COUNT(*) FROM claim_outbox WHERE attempts >= 1 AND last_error <> ''";
        loop {
            let row = db.query_one_raw(Statement::from_string(backend, retried)).await.unwrap().unwrap();
            let (tried, queued) = (row.try_get_by_index::<i64>(0).unwrap(), count(&db, "claim_outbox").await);
            if tried == 110 && queued == 110 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: every failing claim was tried ({tried} of 110) and waits for its retry ({queued} queued, 110 expected)",
                database.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(count(&db, "claim_dead_letter").await, 0, "{}: INTERNAL may pass", database.name);
    }
}

/// The value of an unlabelled counter in Prometheus text, 0 when absent.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

#[tokio::test]
async fn two_replicas_deliver_each_claim_once() {
    for database in databases().await {
        let fast = [("CLAIM_RETRY_INTERVAL", "100ms".to_owned())];
        let stack = Stack::start(&database, &[], &fast).await.unwrap();
        let second = start_contacts(stack.dir.path(), &stack.media, &database, &fast).await.unwrap();
        let mut contacts = stack.contacts_client();
        const PICTURES: u32 = 30;
        for n in 0..PICTURES {
            create(&mut contacts, &format!("Replicated {n}"), photo(500 + n)).await;
        }
        let db = connect(&stack, &database).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while count(&db, "claim_outbox").await > 0 {
            assert!(std::time::Instant::now() < deadline, "{}: the replicas drain the outbox", database.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let delivered: Vec<u64> = futures::future::join_all([stack.contacts.metrics(), second.metrics()])
            .await
            .into_iter()
            .map(|metrics| counter(&metrics.unwrap(), r#"contacts_claims_delivered_total{action="claim"}"#))
            .collect();
        assert_eq!(delivered.iter().sum::<u64>(), u64::from(PICTURES), "{}: {delivered:?}", database.name);
    }
}

#[tokio::test]
async fn a_chain_of_1000_merges_resolves_every_id_to_the_survivor() {
    const CHAIN: usize = 1000;
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.unwrap();
        let mut contacts = stack.contacts_client();
        let mut ids = Vec::with_capacity(CHAIN);
        for n in 0..CHAIN {
            ids.push(create(&mut contacts, &format!("Contact {n}"), vec![]).await.id);
        }
        // Each survivor so far is merged into the next new contact: A into B, B into C, ...
        for pair in ids.windows(2) {
            contacts.merge_contacts(merge_request(&pair[1], &pair[0], "")).await.expect("merge");
        }
        let survivor = ids.last().unwrap();
        for chunk in ids.chunks(100) {
            let request = BatchGetContactsRequest { ids: chunk.to_vec() };
            let found = contacts.batch_get_contacts(tenant_request("acme", request)).await.unwrap().into_inner();
            assert!(
                found.contacts.iter().all(|contact| &contact.id == survivor),
                "{}: every id of the chain resolves to the survivor",
                database.name
            );
        }
        let first = contacts
            .get_contact(tenant_request("acme", GetContactRequest { id: ids[0].clone(), revision: 0 }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(&first.id, survivor, "{}", database.name);
        assert_eq!(first.merged_contact_ids.len(), 100, "{}: the listed merged ids are bounded", database.name);
        assert_eq!(first.merged_contact_ids.last(), Some(&ids[CHAIN - 2]), "{}: the newest are listed", database.name);

        // Union by size: a chain writes a few rows per merge, not one per
        // merged-away id per merge (which would be about n^2 / 2 = 500,000).
        let db = connect(&stack, &database).await;
        let rows = count(&db, "merge_group_member").await + count(&db, "merge_group").await;
        assert!(rows <= 3 * CHAIN as i64, "{}: {rows} merge-group rows for {CHAIN} merges", database.name);
    }
}

#[tokio::test]
async fn a_merge_retried_while_the_first_call_runs_gets_its_result() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.unwrap();
        let mut contacts = stack.contacts_client();
        for round in 0..12 {
            let primary = create(&mut contacts, "Primary", vec![]).await.id;
            let duplicate = create(&mut contacts, "Duplicate", vec![]).await.id;
            let request_id = format!("merge-retry-{round}");
            let (mut first, mut second) = (contacts.clone(), contacts.clone());
            let (a, b) = tokio::join!(
                first.merge_contacts(merge_request(&primary, &duplicate, &request_id)),
                second.merge_contacts(merge_request(&primary, &duplicate, &request_id)),
            );
            let (a, b) = (a.expect("first call").into_inner(), b.expect("the retry gets the same result").into_inner());
            assert_eq!((a.id.as_str(), a.revision), (b.id.as_str(), b.revision), "{} round {round}", database.name);
        }
    }
}

#[tokio::test]
async fn a_page_loses_only_the_pictures_media_svc_no_longer_has() {
    let database = TestDatabase::sqlite();
    // Without contacts-svc's cache of signed URLs: it only learns of the
    // releases it delivers, not of objects deleted behind everyone's back
    // (those it sees once half the TTL has passed).
    let no_cache = [("PICTURE_URL_CACHE_ENTRIES", "0".to_owned())];
    let stack = Stack::start(&database, &[], &no_cache).await.unwrap();
    let mut contacts = stack.contacts_client();
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(create(&mut contacts, &format!("Pictured {n}"), photo(100 + n)).await);
    }
    // Four pictures vanish from the bucket behind media-svc's back; a
    // restart empties its caches, so it finds out.
    for contact in &created[1..] {
        std::fs::remove_dir_all(images_folder(stack.dir.path()).join(picture_id(contact))).unwrap();
    }
    let stack = stack.restart_media(&[]).await.unwrap();

    let request = ListContactsRequest { page_size: 10, page_token: String::new(), query: String::new() };
    let page = contacts.list_contacts(tenant_request("acme", request)).await.unwrap().into_inner();
    assert_eq!(page.contacts.len(), 5);
    for contact in &page.contacts {
        let picture = contact.profile_picture.as_ref().expect("the image id is kept");
        if contact.id == created[0].id {
            assert_eq!(picture.renditions.len(), 2, "the remaining picture keeps its URLs");
            assert!(picture.renditions.iter().all(|r| !r.url.is_empty()));
        } else {
            assert!(picture.renditions.is_empty(), "a missing picture has no URLs: {picture:?}");
        }
    }
    let log = stack.contacts.log();
    for contact in &created[1..] {
        let id = picture_id(contact);
        let lines = log.lines().filter(|line| line.contains(&id) && line.contains("missing")).count();
        assert_eq!(lines, 1, "each missing picture is logged once with its id:\n{log}");
    }
}

#[tokio::test]
async fn reconciliation_reclaims_missing_claims_and_reports_lost_pictures() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[("RECONCILE_INTERVAL", "0s".to_owned())]).await.unwrap();
        let mut contacts = stack.contacts_client();
        let kept = create(&mut contacts, "Kept", photo(1)).await;
        let unclaimed = create(&mut contacts, "Unclaimed", photo(2)).await;
        let lost = create(&mut contacts, "Lost", photo(3)).await;
        let images = images_folder(stack.dir.path());
        let claims = |contact: &Contact| images.join(picture_id(contact)).join("claims");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while [&kept, &unclaimed, &lost].iter().any(|c| std::fs::read_dir(claims(c)).map_or(true, |d| d.count() == 0)) {
            assert!(std::time::Instant::now() < deadline, "{}: the outbox delivers the claims", database.name);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // An operator's mistake loses one claim; a bad restore loses a whole picture.
        std::fs::remove_dir_all(claims(&unclaimed)).unwrap();
        std::fs::remove_dir_all(images.join(picture_id(&lost))).unwrap();

        let mut command =
            Server::contacts().dir(stack.dir.path()).env("MEDIA_ENDPOINT", stack.media.endpoint()).command();
        command.arg("reconcile").env("RUST_LOG", "warn");
        if let Some(url) = &database.url {
            command.env("DATABASE_URL", url);
        }
        let output = command.output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
        assert_eq!(output.status.code(), Some(2), "{}: a lost picture makes the exit status 2", database.name);
        assert_eq!(report["checked"], 3, "{}: {report}", database.name);
        assert_eq!(report["claimed"], 1, "{}: {report}", database.name);
        assert_eq!(report["repaired"], 1, "{}: {report}", database.name);
        assert_eq!(report["unrepairable"], 1, "{}: {report}", database.name);
        assert_eq!(report["unrepairable_pictures"][0]["contact_id"], lost.id.as_str(), "{}", database.name);
        assert_eq!(std::fs::read_dir(claims(&unclaimed)).unwrap().count(), 1, "{}: claimed again", database.name);

        // Nothing was deleted: the contact with the lost picture still reads, without URLs.
        let read = contacts
            .get_contact(tenant_request("acme", GetContactRequest { id: lost.id.clone(), revision: 0 }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(read.profile_picture.map(|p| p.image_id), Some(picture_id(&lost)), "{}", database.name);
        let unique: HashSet<_> = [&kept, &unclaimed, &lost].iter().map(|c| picture_id(c)).collect();
        assert_eq!(unique.len(), 3);
    }
}

/// Puts a database back to the schema before merge groups and outbox
/// scheduling existed, keeping its contacts and merges: what an upgrade
/// from the previous release starts from.
async fn downgrade_to_second_migration(db: &DatabaseConnection) {
    let statements = [
        // Merges were rows of contact_merge until m0006 made them events.
        "INSERT INTO contact_merge (tenant, duplicate_id, primary_id, primary_revision, merge_time_us) \
         SELECT tenant, duplicate_id, primary_id, primary_revision, time_us FROM contact_merge_event",
        "DROP TABLE contact_merge_event",
        "DELETE FROM seaql_migrations WHERE version = 'm0006_merge_events'",
        "DROP TABLE merge_group",
        "DROP TABLE merge_group_member",
        "DROP TABLE claim_dead_letter",
        "DROP INDEX claim_outbox_due",
        "DROP INDEX claim_outbox_owner",
        "ALTER TABLE claim_outbox DROP COLUMN next_attempt_us",
        "ALTER TABLE claim_outbox DROP COLUMN attempts",
        "ALTER TABLE claim_outbox DROP COLUMN last_error",
        "DELETE FROM seaql_migrations WHERE version = 'm0003_outbox_schedule_and_merge_groups'",
    ];
    for sql in statements {
        db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[tokio::test]
async fn merges_made_before_the_upgrade_resolve_after_it() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.unwrap();
        let mut contacts = stack.contacts_client();
        let mut ids = Vec::new();
        for n in 0..5 {
            ids.push(create(&mut contacts, &format!("Before {n}"), vec![]).await.id);
        }
        // A chain (0 into 1, 1 into 2) and a star (3 into 2).
        for (primary, duplicate) in [(1, 0), (2, 1), (2, 3)] {
            contacts.merge_contacts(merge_request(&ids[primary], &ids[duplicate], "")).await.expect("merge");
        }
        let db = connect(&stack, &database).await;
        downgrade_to_second_migration(&db).await;
        drop(db);

        let Stack { media, contacts: old, dir } = stack;
        old.terminate().await.unwrap();
        let restarted = start_contacts(dir.path(), &media, &database, &[]).await.unwrap();
        let stack = Stack { media, contacts: restarted, dir };
        let mut contacts = stack.contacts_client();
        let request = BatchGetContactsRequest { ids: ids[..4].to_vec() };
        let found = contacts.batch_get_contacts(tenant_request("acme", request)).await.unwrap().into_inner();
        assert!(
            found.contacts.iter().all(|c| c.id == ids[2]),
            "{}: old merges resolve after the upgrade",
            database.name
        );

        // Merging the old group on unites it with the new survivor.
        contacts.merge_contacts(merge_request(&ids[4], &ids[2], "")).await.expect("merge after the upgrade");
        let request = BatchGetContactsRequest { ids: ids.clone() };
        let found = contacts.batch_get_contacts(tenant_request("acme", request)).await.unwrap().into_inner();
        assert!(
            found.contacts.iter().all(|c| c.id == ids[4]),
            "{}: every id resolves to the newest survivor",
            database.name
        );
        let db = connect(&stack, &database).await;
        assert_eq!(count(&db, "claim_dead_letter").await, 0, "{}: the dead letters exist again", database.name);
    }
}
