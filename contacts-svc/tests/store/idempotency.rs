//! Request records: a request id is taken once per tenant, in the same
//! transaction as the write it names.

use contacts_svc::store::{CreateOutcome, MergeOutcome, RequestRecord};

use crate::{
    backends, contact,
    merge::{merge, merged},
    tenant,
};

fn record(request_id: &str, operation: &str, contact: &contacts_svc::domain::Contact, revision: i64) -> RequestRecord {
    RequestRecord {
        request_id: request_id.into(),
        operation: operation.into(),
        fingerprint: "f".into(),
        contact_id: contact.id.clone(),
        revision,
    }
}

#[tokio::test]
async fn a_second_create_with_a_taken_request_id_gets_the_first_record_and_writes_nothing() {
    for db in backends::all().await {
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        let first = contact("Ada", "", "", 1);
        let winner = record("r-1", "create", &first, 1);
        let created = db.store.create(&acme, &first, Some(winner.clone()), None).await.unwrap();
        assert!(matches!(created, CreateOutcome::Created), "{}", db.name);
        assert_eq!(db.store.find_request(&acme, "r-1").await.unwrap(), Some(winner.clone()), "{}", db.name);
        assert_eq!(db.store.find_request(&globex, "r-1").await.unwrap(), None, "{}: per tenant", db.name);

        let retry = contact("Ada", "", "", 2);
        match db.store.create(&acme, &retry, Some(record("r-1", "create", &retry, 1)), None).await.unwrap() {
            CreateOutcome::RequestIdTaken(found) => assert_eq!(found, winner, "{}", db.name),
            CreateOutcome::Created => panic!("{}: a taken request id must not create again", db.name),
        }
        assert_eq!(db.store.revision(&acme, &retry.id, 1).await.unwrap(), None, "{}: rolled back", db.name);

        let elsewhere = contact("Ada", "", "", 3);
        let outcome = db.store.create(&globex, &elsewhere, Some(record("r-1", "create", &elsewhere, 1)), None);
        assert!(matches!(outcome.await.unwrap(), CreateOutcome::Created), "{}: another tenant's id", db.name);
    }
}

#[tokio::test]
async fn a_merge_records_the_revision_it_wrote_and_a_retry_gets_that_record() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (a, b) = (contact("a", "", "", 1), contact("b", "", "", 2));
        for x in [&a, &b] {
            db.create(&acme, x).await;
        }
        let request = record("m-1", "merge", &a, 0);
        let written = merged(merge(&db, &acme, &a.id, &b.id, 10, Some(request.clone())).await);
        let stored = db.store.find_request(&acme, "m-1").await.unwrap().expect("recorded");
        assert_eq!(stored, RequestRecord { revision: written.revision, ..request.clone() }, "{}", db.name);

        // The retry arrives after the merge: it finds the record, not "already merged".
        match merge(&db, &acme, &a.id, &b.id, 20, Some(request)).await {
            MergeOutcome::RequestIdTaken(found) => assert_eq!(found, stored, "{}", db.name),
            _ => panic!("{}: a retried merge gets the first one's record", db.name),
        }
        assert_eq!(db.count("SELECT COUNT(*) FROM contact_merge_event").await, 1, "{}", db.name);
    }
}

#[tokio::test]
async fn a_merge_with_a_request_id_a_create_took_writes_nothing() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (a, b) = (contact("a", "", "", 1), contact("b", "", "", 2));
        let create_record = record("r-9", "create", &a, 1);
        db.store.create(&acme, &a, Some(create_record.clone()), None).await.unwrap();
        db.create(&acme, &b).await;
        match merge(&db, &acme, &a.id, &b.id, 10, Some(record("r-9", "merge", &a, 0))).await {
            MergeOutcome::RequestIdTaken(found) => assert_eq!(found, create_record, "{}", db.name),
            _ => panic!("{}: the id is taken", db.name),
        }
        assert_eq!(db.count("SELECT COUNT(*) FROM contact_merge_event").await, 0, "{}", db.name);
    }
}
