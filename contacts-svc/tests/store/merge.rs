//! Merges: the revision the domain decides is written as given, merged-away
//! ids resolve to their survivor through any chain, and a merge refuses
//! what is gone.

use contacts_svc::{
    domain::{self, Contact, ContactId, MergeField},
    store::{MergeOutcome, MergeRequest, RequestRecord},
};

use crate::{
    TenantId,
    backends::{self, Backend},
    contact, tenant, with_picture,
};

/// Merges `duplicate` into `primary` at `now_us` with the domain's policy.
pub async fn merge(
    db: &Backend,
    tenant: &TenantId,
    primary: &ContactId,
    duplicate: &ContactId,
    now_us: i64,
    request: Option<RequestRecord>,
) -> MergeOutcome {
    let take = [MergeField::ProfilePicture];
    let merge = MergeRequest {
        primary_id: primary,
        duplicate_id: duplicate,
        take_from_duplicate: &take,
        request,
        now_us,
        claim_deadline_us: 77,
    };
    let decide = |p: &Contact, d: &Contact| domain::merged_revision(p, d, &take, now_us);
    db.store.merge(tenant, merge, decide).await.unwrap_or_else(|error| panic!("{}: merge: {error}", db.name))
}

pub fn merged(outcome: MergeOutcome) -> Contact {
    match outcome {
        MergeOutcome::Merged(contact) => *contact,
        _ => panic!("the merge did not happen"),
    }
}

#[tokio::test]
async fn a_merge_writes_the_decided_revision_and_the_duplicate_resolves_to_the_primary() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let primary = contact("Ada", "", "ada@old.example", 1);
        let duplicate = with_picture(contact("Ada", "Lovelace", "ada@new.example", 2), "img-d");
        for c in [&primary, &duplicate] {
            db.create(&acme, c).await;
        }
        let expected = domain::merged_revision(&primary, &duplicate, &[MergeField::ProfilePicture], 50);
        let written = merged(merge(&db, &acme, &primary.id, &duplicate.id, 50, None).await);
        assert_eq!(written, expected, "{}: the store adds nothing of its own", db.name);
        assert_eq!(db.store.revision(&acme, &primary.id, 2).await.unwrap(), Some(expected), "{}", db.name);

        let survivors = db.store.resolve(&acme, &[duplicate.id.clone(), primary.id.clone()]).await.unwrap();
        assert_eq!(survivors[&duplicate.id], primary.id, "{}", db.name);
        assert_eq!(survivors[&primary.id], primary.id, "{}", db.name);
        let listed: Vec<_> = db.store.list(&acme, None, None, 10).await.unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(listed, std::slice::from_ref(&primary.id), "{}: the duplicate leaves the list", db.name);

        let claims = db.store.lease_claims(50, 60, 10).await.unwrap();
        assert_eq!(claims.len(), 1, "{}: the picture that moves is claimed for the primary", db.name);
        assert_eq!((claims[0].owner.as_str(), claims[0].image_id.as_str()), (primary.id.as_str(), "img-d"));
        assert_eq!(claims[0].claim_deadline_us, 77, "{}", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn a_chain_of_merges_resolves_every_id_to_the_last_survivor() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let contacts: Vec<_> = (0..6).map(|i| contact(&format!("c{i}"), "", "", i)).collect();
        for c in &contacts {
            db.create(&acme, c).await;
        }
        // c0 into c1, c1 into c2, ... then a group of two (c4 <- c5) takes
        // the chain's group: union by size from both sides.
        for pair in contacts[..5].windows(2) {
            merge(&db, &acme, &pair[1].id, &pair[0].id, 100, None).await;
        }
        let ids: Vec<_> = contacts.iter().map(|c| c.id.clone()).collect();
        let survivors = db.store.resolve(&acme, &ids).await.unwrap();
        for id in &ids[..5] {
            assert_eq!(survivors[id], ids[4], "{}: {id} after a chain", db.name);
        }
        assert_eq!(survivors[&ids[5]], ids[5], "{}", db.name);
        merge(&db, &acme, &ids[5], &ids[4], 200, None).await;
        let survivors = db.store.resolve(&acme, &ids).await.unwrap();
        assert!(ids.iter().all(|id| survivors[id] == ids[5]), "{}: {survivors:?}", db.name);
        let last = db.store.latest(&acme, std::slice::from_ref(&ids[5])).await.unwrap().remove(&ids[5]).unwrap();
        assert_eq!(last.merged_contact_ids.len(), 5, "{}: every merged id listed", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn a_merge_refuses_unknown_and_merged_away_contacts_and_writes_nothing() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (a, b, c) = (contact("a", "", "", 1), contact("b", "", "", 2), contact("c", "", "", 3));
        for x in [&a, &b, &c] {
            db.create(&acme, x).await;
        }
        let unknown = ContactId::generate();
        match merge(&db, &acme, &a.id, &unknown, 10, None).await {
            MergeOutcome::NotFound(id) => assert_eq!(id, unknown, "{}", db.name),
            _ => panic!("{}: an unknown duplicate is not found", db.name),
        }
        match merge(&db, &tenant("globex"), &a.id, &b.id, 10, None).await {
            MergeOutcome::NotFound(_) => {}
            _ => panic!("{}: another tenant's contacts are not found", db.name),
        }
        merged(merge(&db, &acme, &b.id, &a.id, 10, None).await);
        match merge(&db, &acme, &c.id, &a.id, 20, None).await {
            MergeOutcome::AlreadyMerged { id, survivor } => {
                assert_eq!((id, survivor), (a.id.clone(), b.id.clone()), "{}", db.name)
            }
            _ => panic!("{}: a merged-away contact cannot be merged again", db.name),
        }
        assert_eq!(db.count("SELECT COUNT(*) FROM contact_merge_event").await, 1, "{}", db.name);
        assert_eq!(db.count("SELECT COUNT(*) FROM contact_revision").await, 4, "{}", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn the_store_refuses_a_revision_that_does_not_follow_the_primary() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (a, b) = (contact("a", "", "", 1), contact("b", "", "", 2));
        for x in [&a, &b] {
            db.create(&acme, x).await;
        }
        let request = MergeRequest {
            primary_id: &a.id,
            duplicate_id: &b.id,
            take_from_duplicate: &[],
            request: None,
            now_us: 5,
            claim_deadline_us: 0,
        };
        let skipping = |p: &Contact, d: &Contact| Contact { revision: 7, ..domain::merged_revision(p, d, &[], 5) };
        assert!(db.store.merge(&acme, request, skipping).await.is_err(), "{}", db.name);
        assert_eq!(db.count("SELECT COUNT(*) FROM contact_merge_event").await, 0, "{}: rolled back", db.name);
    }
}
