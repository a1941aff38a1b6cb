//! Unmerges: the primary is recomputed from the merges that still stand,
//! the duplicate and its own merged contacts come back, and the pair can be
//! merged again; wrong pairs are refused and write nothing.

use sea_orm::ConnectionTrait;

use contacts_svc::{
    domain::{self, Contact, ContactId, MergeField},
    store::{MergeOutcome, MergeRequest, RequestRecord, UnmergeOutcome, UnmergeRequest},
};

use crate::{
    TenantId,
    backends::{self, Backend},
    contact, tenant, with_picture,
};

async fn merge_taking(
    db: &Backend,
    tenant: &TenantId,
    primary: &ContactId,
    duplicate: &ContactId,
    take: &[MergeField],
    now_us: i64,
) -> Contact {
    let request = MergeRequest {
        primary_id: primary,
        duplicate_id: duplicate,
        take_from_duplicate: take,
        request: None,
        now_us,
        claim_deadline_us: 0,
    };
    let decide = |p: &Contact, d: &Contact| domain::merged_revision(p, d, take, now_us);
    match db.store.merge(tenant, request, decide).await.unwrap() {
        MergeOutcome::Merged(merged) => *merged,
        _ => panic!("{}: the merge did not happen", db.name),
    }
}

async fn unmerge(
    db: &Backend,
    tenant: &TenantId,
    primary: &ContactId,
    duplicate: &ContactId,
    now_us: i64,
    request: Option<RequestRecord>,
) -> UnmergeOutcome {
    let request = UnmergeRequest { primary_id: primary, duplicate_id: duplicate, request, now_us };
    db.store.unmerge(tenant, request).await.unwrap_or_else(|error| panic!("{}: unmerge: {error}", db.name))
}

fn unmerged(db: &Backend, outcome: UnmergeOutcome) -> (Contact, Contact) {
    match outcome {
        UnmergeOutcome::Unmerged { primary, duplicate } => (*primary, *duplicate),
        _ => panic!("{}: the unmerge did not happen", db.name),
    }
}

async fn latest(db: &Backend, tenant: &TenantId, id: &ContactId) -> Contact {
    db.store.latest(tenant, std::slice::from_ref(id)).await.unwrap().remove(id).expect("a revision")
}

async fn listed(db: &Backend, tenant: &TenantId) -> Vec<ContactId> {
    let mut ids: Vec<_> = db.store.list(tenant, None, None, 50).await.unwrap().into_iter().map(|c| c.id).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<ContactId>) -> Vec<ContactId> {
    ids.sort();
    ids
}

#[tokio::test]
async fn unmerging_b_recomputes_a_from_c_alone_and_brings_b_back_with_its_merged_contacts() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let a = contact("Ada", "", "", 1);
        let b = with_picture(contact("Bea", "Lovelace", "same@example.com", 2), "img-b");
        let c = contact("Cid", "", "cid@example.com", 3);
        let x = contact("Xan", "", "same@example.com", 4);
        for each in [&a, &b, &c, &x] {
            db.create(&acme, each).await;
        }
        // X into B before B into A: X is part of B's subtree.
        let b_with_x = merge_taking(&db, &acme, &b.id, &x.id, &[], 10).await;
        let a_with_b = merge_taking(&db, &acme, &a.id, &b.id, &[MergeField::FirstName], 20).await;
        let a_with_b_c = merge_taking(&db, &acme, &a.id, &c.id, &[MergeField::Email], 30).await;
        assert_eq!(a_with_b_c.fields.first_name, "Bea", "{}", db.name);

        let (primary, duplicate) = unmerged(&db, unmerge(&db, &acme, &a.id, &b.id, 40, None).await);
        let expected = domain::merged_revision(&a, &c, &[MergeField::Email], 40);
        assert_eq!((primary.id.clone(), primary.revision), (a.id.clone(), 4), "{}", db.name);
        assert_eq!(primary.fields, expected.fields, "{}: A is A<-C only", db.name);
        assert_eq!(primary.merged_contact_ids, [c.id.to_string()], "{}", db.name);
        assert_eq!(primary.fields.first_name, "Ada", "{}", db.name);
        assert_eq!(primary.fields.image_id, None, "{}: B's picture left with B", db.name);
        assert_eq!((duplicate.id.clone(), duplicate.revision), (b.id.clone(), 3), "{}", db.name);
        assert_eq!(duplicate.fields, b_with_x.fields, "{}: B has its last fields", db.name);
        assert_eq!(duplicate.fields.image_id.as_deref(), Some("img-b"), "{}", db.name);
        assert_eq!(latest(&db, &acme, &a.id).await, primary, "{}", db.name);
        assert_eq!(latest(&db, &acme, &b.id).await, duplicate, "{}", db.name);
        assert_eq!(db.store.revision(&acme, &a.id, 2).await.unwrap(), Some(a_with_b), "{}: history kept", db.name);

        let ids = [a.id.clone(), b.id.clone(), c.id.clone(), x.id.clone()];
        let survivors = db.store.resolve(&acme, &ids).await.unwrap();
        let expected = [&a.id, &b.id, &a.id, &b.id];
        for (id, survivor) in ids.iter().zip(expected) {
            assert_eq!(&survivors[id], survivor, "{}: {id}", db.name);
        }
        assert_eq!(listed(&db, &acme).await, sorted(vec![a.id.clone(), b.id.clone()]), "{}", db.name);
        let lookalike = contact("Someone", "", "same@example.com", 50);
        let found: Vec<_> =
            db.store.duplicates_of(&acme, &lookalike, 10).await.unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(found, std::slice::from_ref(&b.id), "{}: duplicate search sees B again", db.name);

        let claims = db.store.lease_claims(40, 60, 10).await.unwrap();
        let owners: Vec<_> = claims.iter().map(|claim| (claim.owner.as_str(), claim.image_id.as_str())).collect();
        assert!(owners.contains(&(b.id.as_str(), "img-b")), "{}: B's picture is claimed for B: {owners:?}", db.name);

        // B merges again, and takes X along.
        merge_taking(&db, &acme, &a.id, &b.id, &[], 60).await;
        let survivors = db.store.resolve(&acme, &ids).await.unwrap();
        assert!(ids.iter().all(|id| survivors[id] == a.id), "{}: {survivors:?}", db.name);
        assert_eq!(listed(&db, &acme).await, std::slice::from_ref(&a.id), "{}", db.name);
        // And the newest merge of B is undone in turn.
        let (primary, duplicate) = unmerged(&db, unmerge(&db, &acme, &a.id, &b.id, 70, None).await);
        assert_eq!(primary.fields, domain::merged_revision(&a, &c, &[MergeField::Email], 0).fields, "{}", db.name);
        assert_eq!(duplicate.fields, b_with_x.fields, "{}", db.name);
        assert_eq!(db.store.resolve(&acme, &ids).await.unwrap()[&x.id], b.id, "{}", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn undoing_the_later_merge_keeps_the_earlier_one_and_undone_merges_stay_undone() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let a = contact("", "Lovelace", "", 1);
        let b = contact("Bea", "", "b@example.com", 2);
        let c = contact("Cid", "", "c@example.com", 3);
        for each in [&a, &b, &c] {
            db.create(&acme, each).await;
        }
        let a_with_b = merge_taking(&db, &acme, &a.id, &b.id, &[], 10).await;
        merge_taking(&db, &acme, &a.id, &c.id, &[MergeField::FirstName, MergeField::Email], 20).await;
        let (primary, _) = unmerged(&db, unmerge(&db, &acme, &a.id, &c.id, 30, None).await);
        assert_eq!(primary.fields, a_with_b.fields, "{}: A is A<-B again", db.name);
        // B's merge came first; undoing it now must not bring C back.
        let (primary, _) = unmerged(&db, unmerge(&db, &acme, &a.id, &b.id, 40, None).await);
        assert_eq!(primary.fields, a.fields, "{}: A has its own fields", db.name);
        assert!(primary.merged_contact_ids.is_empty(), "{}", db.name);
        assert_eq!(listed(&db, &acme).await, sorted(vec![a.id.clone(), b.id.clone(), c.id.clone()]), "{}", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn wrong_pairs_and_a_second_unmerge_are_refused_and_write_nothing() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (a, b, c, z) =
            (contact("a", "", "", 1), contact("b", "", "", 2), contact("c", "", "", 3), contact("z", "", "", 4));
        for each in [&a, &b, &c, &z] {
            db.create(&acme, each).await;
        }
        merge_taking(&db, &acme, &a.id, &b.id, &[], 10).await;
        let writes = "SELECT (SELECT COUNT(*) FROM contact_revision) + (SELECT COUNT(*) FROM contact_merge_event) \
                      + (SELECT COUNT(*) FROM merge_group) + (SELECT COUNT(*) FROM merge_group_member)";
        let before = db.count(writes).await;
        match unmerge(&db, &acme, &c.id, &b.id, 20, None).await {
            UnmergeOutcome::NotMergedInto { merged_into } => assert_eq!(merged_into, Some(a.id.clone()), "{}", db.name),
            _ => panic!("{}: B is merged into A, not C", db.name),
        }
        assert!(
            matches!(
                unmerge(&db, &acme, &a.id, &c.id, 20, None).await,
                UnmergeOutcome::NotMergedInto { merged_into: None }
            ),
            "{}: C was never merged",
            db.name
        );
        assert!(
            matches!(
                unmerge(&db, &acme, &b.id, &a.id, 20, None).await,
                UnmergeOutcome::NotMergedInto { merged_into: None }
            ),
            "{}: the pair reversed",
            db.name
        );
        let unknown = ContactId::generate();
        match unmerge(&db, &acme, &a.id, &unknown, 20, None).await {
            UnmergeOutcome::NotFound(id) => assert_eq!(id, unknown, "{}", db.name),
            _ => panic!("{}: unknown id", db.name),
        }
        assert!(
            matches!(unmerge(&db, &tenant("globex"), &a.id, &b.id, 20, None).await, UnmergeOutcome::NotFound(_)),
            "{}: another tenant",
            db.name
        );
        assert_eq!(db.count(writes).await, before, "{}: refusals write nothing", db.name);

        unmerged(&db, unmerge(&db, &acme, &a.id, &b.id, 30, None).await);
        assert!(
            matches!(
                unmerge(&db, &acme, &a.id, &b.id, 40, None).await,
                UnmergeOutcome::NotMergedInto { merged_into: None }
            ),
            "{}: unmerged already",
            db.name
        );

        // The primary merged away since: the survivor is named.
        merge_taking(&db, &acme, &a.id, &b.id, &[], 50).await;
        merge_taking(&db, &acme, &z.id, &a.id, &[], 60).await;
        match unmerge(&db, &acme, &a.id, &b.id, 70, None).await {
            UnmergeOutcome::PrimaryMerged { survivor } => assert_eq!(survivor, z.id, "{}", db.name),
            _ => panic!("{}: A was merged into Z", db.name),
        }
    }
}

#[tokio::test]
async fn a_retried_unmerge_gets_the_first_result() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (a, b) = (contact("a", "", "", 1), contact("b", "", "", 2));
        for each in [&a, &b] {
            db.create(&acme, each).await;
        }
        merge_taking(&db, &acme, &a.id, &b.id, &[], 10).await;
        let record = RequestRecord {
            request_id: "u-1".into(),
            operation: "unmerge".into(),
            fingerprint: "f".into(),
            contact_id: a.id.clone(),
            revision: 0,
        };
        let (primary, duplicate) = unmerged(&db, unmerge(&db, &acme, &a.id, &b.id, 20, Some(record.clone())).await);
        match unmerge(&db, &acme, &a.id, &b.id, 30, Some(record)).await {
            UnmergeOutcome::RequestIdTaken(found) => {
                assert_eq!((found.contact_id.clone(), found.revision), (a.id.clone(), primary.revision), "{}", db.name);
                let result = db.store.unmerge_result(&acme, &found.contact_id, found.revision).await.unwrap();
                assert_eq!(result, Some((primary, duplicate)), "{}", db.name);
            }
            _ => panic!("{}: a retry gets the first unmerge's record", db.name),
        }
    }
}

#[tokio::test]
async fn a_merge_recorded_before_the_names_were_stored_replays_what_it_took() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let a = with_picture(contact("Ada", "", "a@example.com", 1), "img-a");
        let b = contact("Bea", "", "b@example.com", 2);
        let c = with_picture(contact("Cid", "Lovelace", "c@example.com", 3), "img-c");
        for each in [&a, &b, &c] {
            db.create(&acme, each).await;
        }
        merge_taking(&db, &acme, &a.id, &b.id, &[], 10).await;
        let take = [MergeField::FirstName, MergeField::ProfilePicture];
        merge_taking(&db, &acme, &a.id, &c.id, &take, 20).await;
        // What m0006 copies from contact_merge: no names.
        db.raw.execute_unprepared("UPDATE contact_merge_event SET take_from_duplicate = NULL").await.unwrap();
        let (primary, _) = unmerged(&db, unmerge(&db, &acme, &a.id, &b.id, 30, None).await);
        assert_eq!(primary.fields, domain::merge(&a, &c, &take), "{}", db.name);
    }
}

#[tokio::test]
async fn merges_made_before_m0006_are_copied_and_can_be_undone() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let a = contact("Ada", "", "a@example.com", 1);
        let b = contact("Bea", "Lovelace", "b@example.com", 2);
        let c = contact("Cid", "", "c@example.com", 3);
        for each in [&a, &b, &c] {
            db.create(&acme, each).await;
        }
        merge_taking(&db, &acme, &a.id, &b.id, &[MergeField::FirstName], 10).await;
        merge_taking(&db, &acme, &a.id, &c.id, &[MergeField::Email], 20).await;
        // What the schema before m0006 held: one contact_merge row per merge, no events.
        for sql in [
            "INSERT INTO contact_merge (tenant, duplicate_id, primary_id, primary_revision, merge_time_us) \
             SELECT tenant, duplicate_id, primary_id, primary_revision, time_us FROM contact_merge_event",
            "DROP TABLE contact_merge_event",
            "DELETE FROM seaql_migrations WHERE version = 'm0006_merge_events'",
        ] {
            db.raw.execute_unprepared(sql).await.unwrap();
        }
        let reopened = contacts_svc::store::Store::connect(&db.url).await.expect("migrate again");
        let ids: Vec<_> = reopened.list(&acme, None, None, 50).await.unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(ids, std::slice::from_ref(&a.id), "{}: the copied merges still hide B and C", db.name);
        let request = UnmergeRequest { primary_id: &a.id, duplicate_id: &b.id, request: None, now_us: 30 };
        let (primary, duplicate) = unmerged(&db, reopened.unmerge(&acme, request).await.unwrap());
        assert_eq!(primary.fields, domain::merge(&a, &c, &[MergeField::Email]), "{}: C's email still won", db.name);
        assert_eq!(duplicate.fields, b.fields, "{}", db.name);
        assert_eq!(db.count("SELECT COUNT(*) FROM contact_merge_event").await, 3, "{}", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn an_earlier_merge_undone_first_does_not_come_back_when_a_later_one_is_undone() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let a = contact("", "", "", 1);
        let (c, d) = (contact("Cid", "", "c@example.com", 2), contact("Dan", "", "d@example.com", 3));
        for each in [&a, &c, &d] {
            db.create(&acme, each).await;
        }
        merge_taking(&db, &acme, &a.id, &c.id, &[], 10).await;
        merge_taking(&db, &acme, &a.id, &d.id, &[], 20).await;
        let (primary, _) = unmerged(&db, unmerge(&db, &acme, &a.id, &c.id, 30, None).await);
        assert_eq!(primary.fields, domain::merge(&a, &d, &[]), "{}: A is A<-D", db.name);
        // A's revision before D's merge still shows C: the replay starts before C.
        let (primary, _) = unmerged(&db, unmerge(&db, &acme, &a.id, &d.id, 40, None).await);
        assert_eq!(primary.fields, a.fields, "{}: neither C nor D is left in A", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn a_picture_the_replay_gives_the_primary_is_claimed_for_it() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let a = contact("Ada", "", "", 1);
        let b = with_picture(contact("Bea", "", "", 2), "img-b");
        let c = with_picture(contact("Cid", "", "", 3), "img-c");
        for each in [&a, &b, &c] {
            db.create(&acme, each).await;
        }
        merge_taking(&db, &acme, &a.id, &b.id, &[], 10).await;
        let a_with_b_c = merge_taking(&db, &acme, &a.id, &c.id, &[], 20).await;
        assert_eq!(a_with_b_c.fields.image_id.as_deref(), Some("img-b"), "{}: B's picture won", db.name);
        let (primary, _) = unmerged(&db, unmerge(&db, &acme, &a.id, &b.id, 30, None).await);
        assert_eq!(primary.fields.image_id.as_deref(), Some("img-c"), "{}", db.name);
        let claims = db.store.lease_claims(30, 60, 10).await.unwrap();
        let owners: Vec<_> = claims.iter().map(|claim| (claim.owner.as_str(), claim.image_id.as_str())).collect();
        assert!(owners.contains(&(a.id.as_str(), "img-c")), "{}: {owners:?}", db.name);
    }
}
