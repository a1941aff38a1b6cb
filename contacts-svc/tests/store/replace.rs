//! ReplaceProfilePicture's transaction: the contact that carries the picture
//! and the merge that moves it are written together or not at all.

use contacts_svc::{
    domain::{self, Contact, ContactId},
    error::Error,
    store::{MergeOutcome, MergeRequest, RequestRecord},
};

use crate::{
    TenantId,
    backends::{self, Backend},
    contact, tenant, with_picture,
};

/// Gives `id` the picture `image_id` at `now_us` through carrier `carrier`,
/// with the domain's policy; `decide` may be replaced to make the merge fail.
async fn replace(
    db: &Backend,
    tenant: &TenantId,
    id: &ContactId,
    carrier: &ContactId,
    now_us: i64,
    request: Option<RequestRecord>,
    decide: impl FnOnce(&Contact, &Contact) -> Contact,
) -> Result<MergeOutcome, Error> {
    let replace = MergeRequest {
        primary_id: id,
        duplicate_id: carrier,
        take_from_duplicate: domain::REPLACE_TAKES,
        request,
        now_us,
        claim_deadline_us: 88,
    };
    let carried = domain::picture_carrier(carrier.clone(), "img-new".into(), now_us);
    db.store.replace_picture(tenant, replace, carried, decide).await
}

fn policy(now_us: i64) -> impl FnOnce(&Contact, &Contact) -> Contact {
    move |current: &Contact, carrier: &Contact| domain::replaced_revision(current, carrier, now_us)
}

fn record(id: &ContactId) -> RequestRecord {
    RequestRecord {
        request_id: "req-1".into(),
        operation: "replace_picture".into(),
        fingerprint: "f".into(),
        contact_id: id.clone(),
        revision: 0,
    }
}

/// Rows of every table a replacement writes to.
async fn footprint(db: &Backend) -> [i64; 6] {
    let mut counts = [0; 6];
    let tables =
        ["contact", "contact_revision", "contact_merge", "merge_group_member", "claim_outbox", "request_record"];
    for (count, table) in counts.iter_mut().zip(tables) {
        *count = db.count(&format!("SELECT COUNT(*) FROM {table}")).await;
    }
    counts
}

#[tokio::test]
async fn a_replacement_writes_the_carrier_and_the_contacts_next_revision_together() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let ada = with_picture(contact("Ada", "Lovelace", "ada@example.com", 1), "img-old");
        db.create(&acme, &ada).await;
        let carrier = ContactId::generate();
        let outcome = replace(&db, &acme, &ada.id, &carrier, 50, Some(record(&ada.id)), policy(50)).await.unwrap();
        let MergeOutcome::Merged(replaced) = outcome else { panic!("{}: the replacement did not happen", db.name) };

        let expected = Contact {
            revision: 2,
            revision_create_time_us: 50,
            merged_contact_ids: vec![carrier.to_string()],
            fields: domain::ContactFields { image_id: Some("img-new".into()), ..ada.fields.clone() },
            ..ada.clone()
        };
        assert_eq!(*replaced, expected, "{}: the picture changes and nothing else", db.name);
        assert_eq!(db.store.revision(&acme, &ada.id, 2).await.unwrap(), Some(expected), "{}", db.name);
        let carried = db.store.revision(&acme, &carrier, 1).await.unwrap();
        assert_eq!(carried.and_then(|c| c.fields.image_id).as_deref(), Some("img-new"), "{}: the carrier", db.name);
        let survivors = db.store.resolve(&acme, std::slice::from_ref(&carrier)).await.unwrap();
        assert_eq!(survivors[&carrier], ada.id, "{}: the carrier resolves to the contact", db.name);
        let listed: Vec<_> = db.store.list(&acme, None, None, 10).await.unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(listed, std::slice::from_ref(&ada.id), "{}: the carrier is never listed", db.name);

        let claims = db.store.lease_claims(50, 60, 10).await.unwrap();
        let claims: Vec<_> =
            claims.iter().map(|c| (c.owner.as_str(), c.image_id.as_str(), c.claim_deadline_us)).collect();
        assert_eq!(claims, [(ada.id.as_str(), "img-new", 88)], "{}: one claim, for the contact", db.name);
        let done = db.store.find_request(&acme, "req-1").await.unwrap();
        assert_eq!(done, Some(RequestRecord { revision: 2, ..record(&ada.id) }), "{}", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn a_replacement_that_cannot_finish_writes_nothing() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (a, b) = (contact("a", "", "", 1), contact("b", "", "", 2));
        for x in [&a, &b] {
            db.create(&acme, x).await;
        }
        let merge = MergeRequest {
            primary_id: &b.id,
            duplicate_id: &a.id,
            take_from_duplicate: &[],
            request: None,
            now_us: 5,
            claim_deadline_us: 0,
        };
        db.store.merge(&acme, merge, |p: &Contact, d: &Contact| domain::merged_revision(p, d, &[], 5)).await.unwrap();
        replace(&db, &acme, &b.id, &ContactId::generate(), 6, Some(record(&b.id)), policy(6)).await.unwrap();
        let before = footprint(&db).await;

        // The merge step fails after the carrier was written: it goes too.
        let skipping = |p: &Contact, d: &Contact| Contact { revision: 9, ..domain::replaced_revision(p, d, 7) };
        let failed = replace(&db, &acme, &b.id, &ContactId::generate(), 7, None, skipping).await;
        assert!(failed.is_err(), "{}: a revision that skips is refused", db.name);
        assert_eq!(footprint(&db).await, before, "{}: a failed merge step leaves no carrier", db.name);

        match replace(&db, &acme, &a.id, &ContactId::generate(), 8, None, policy(8)).await.unwrap() {
            MergeOutcome::AlreadyMerged { id, survivor } => assert_eq!((id, survivor), (a.id.clone(), b.id.clone())),
            _ => panic!("{}: a merged-away contact is refused", db.name),
        }
        assert_eq!(footprint(&db).await, before, "{}: a refused replacement leaves no carrier", db.name);

        for (who, id) in [("acme", ContactId::generate()), ("globex", b.id.clone())] {
            match replace(&db, &tenant(who), &id, &ContactId::generate(), 9, None, policy(9)).await.unwrap() {
                MergeOutcome::NotFound(missing) => assert_eq!(missing, id, "{}", db.name),
                _ => panic!("{}: {who}'s unknown contact is not found", db.name),
            }
        }
        let again = replace(&db, &acme, &b.id, &ContactId::generate(), 10, Some(record(&b.id)), policy(10)).await;
        match again.unwrap() {
            MergeOutcome::RequestIdTaken(done) => assert_eq!(done.revision, 3, "{}", db.name),
            _ => panic!("{}: a request id is used once", db.name),
        }
        assert_eq!(footprint(&db).await, before, "{}: refusals write nothing", db.name);
        db.assert_listing_is_derived().await;
    }
}
