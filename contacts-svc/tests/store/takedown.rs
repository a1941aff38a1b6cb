//! RemoveProfilePicture's transaction: the revision without the picture,
//! the release owed to media-svc and the audit row, together or not at all.

use contacts_svc::{
    domain::{Contact, ContactId, MergeField},
    store::{
        MergeOutcome, MergeRequest, RequestRecord, TakedownOutcome, TakedownRequest, UnmergeOutcome, UnmergeRequest,
    },
};

use crate::{
    TenantId,
    backends::{self, Backend},
    contact, tenant, with_picture,
};

async fn take_down(
    db: &Backend,
    tenant: &TenantId,
    id: &ContactId,
    now_us: i64,
    request: Option<RequestRecord>,
) -> TakedownOutcome {
    let takedown = TakedownRequest { id, reason: "offensive", actor: "acme-key", request, now_us };
    db.store.remove_picture(tenant, takedown).await.unwrap_or_else(|error| panic!("{}: {error}", db.name))
}

fn record(id: &ContactId) -> RequestRecord {
    RequestRecord {
        request_id: "req-1".into(),
        operation: "remove_picture".into(),
        fingerprint: "f".into(),
        contact_id: id.clone(),
        revision: 0,
    }
}

async fn footprint(db: &Backend) -> [i64; 4] {
    let mut counts = [0; 4];
    let tables = ["contact_revision", "claim_outbox", "contact_moderation", "request_record"];
    for (count, table) in counts.iter_mut().zip(tables) {
        *count = db.count(&format!("SELECT COUNT(*) FROM {table}")).await;
    }
    counts
}

#[tokio::test]
async fn a_takedown_writes_the_revision_the_release_and_the_audit_row_together() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let ada = with_picture(contact("Ada", "Lovelace", "ada@example.com", 1), "img");
        db.create(&acme, &ada).await;
        let before = footprint(&db).await;

        let TakedownOutcome::Removed(removed) = take_down(&db, &acme, &ada.id, 5, Some(record(&ada.id))).await else {
            panic!("{}: the picture is taken down", db.name);
        };
        assert_eq!(removed.revision, 2, "{}", db.name);
        assert_eq!(removed.fields.image_id, None, "{}", db.name);
        assert_eq!(removed.fields.first_name, "Ada", "{}: every other field kept", db.name);
        let stored = db.store.revision(&acme, &ada.id, 2).await.unwrap();
        assert_eq!(stored.as_ref(), Some(&*removed), "{}", db.name);
        let after = footprint(&db).await;
        assert_eq!(after, [before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1], "{}", db.name);
        let release = db
            .count(&format!(
                "SELECT COUNT(*) FROM claim_outbox WHERE action = 'release' AND image_id = 'img' AND owner = '{}'",
                ada.id
            ))
            .await;
        assert_eq!(release, 1, "{}: the release is queued for the contact", db.name);
        let audit = db
            .count(&format!(
                "SELECT COUNT(*) FROM contact_moderation WHERE contact_id = '{}' AND revision = 2 \
                 AND reason = 'offensive' AND actor = 'acme-key' AND action = 'remove_picture'",
                ada.id
            ))
            .await;
        assert_eq!(audit, 1, "{}: who and why are recorded", db.name);

        match take_down(&db, &acme, &ada.id, 6, Some(record(&ada.id))).await {
            TakedownOutcome::RequestIdTaken(done) => assert_eq!(done.revision, 2, "{}", db.name),
            _ => panic!("{}: a retry gets the first call's record", db.name),
        }
        assert!(matches!(take_down(&db, &acme, &ada.id, 7, None).await, TakedownOutcome::NoPicture), "{}", db.name);
        assert_eq!(footprint(&db).await, after, "{}: a retry and a refusal write nothing", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn a_takedown_of_a_merged_away_or_unknown_contact_writes_nothing() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (a, b) = (with_picture(contact("a", "", "", 1), "img"), contact("b", "", "", 2));
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
        let decide = |p: &Contact, d: &Contact| contacts_svc::domain::merged_revision(p, d, &[], 5);
        assert!(matches!(db.store.merge(&acme, merge, decide).await.unwrap(), MergeOutcome::Merged(_)));
        let before = footprint(&db).await;
        match take_down(&db, &acme, &a.id, 6, None).await {
            TakedownOutcome::AlreadyMerged { survivor } => assert_eq!(survivor, b.id, "{}", db.name),
            _ => panic!("{}: a merged-away contact is refused, naming the survivor", db.name),
        }
        assert!(matches!(take_down(&db, &tenant("globex"), &a.id, 6, None).await, TakedownOutcome::NotFound));
        assert!(matches!(take_down(&db, &acme, &ContactId::generate(), 6, None).await, TakedownOutcome::NotFound));
        assert_eq!(footprint(&db).await, before, "{}", db.name);
    }
}

async fn merge(
    db: &Backend,
    tenant: &TenantId,
    primary: &ContactId,
    duplicate: &ContactId,
    take: &[MergeField],
    now_us: i64,
) {
    let request = MergeRequest {
        primary_id: primary,
        duplicate_id: duplicate,
        take_from_duplicate: take,
        request: None,
        now_us,
        claim_deadline_us: 0,
    };
    let decide = |p: &Contact, d: &Contact| contacts_svc::domain::merged_revision(p, d, take, now_us);
    assert!(matches!(db.store.merge(tenant, request, decide).await.unwrap(), MergeOutcome::Merged(_)), "{}", db.name);
}

async fn unmerge(
    db: &Backend,
    tenant: &TenantId,
    primary: &ContactId,
    duplicate: &ContactId,
    now_us: i64,
) -> (Contact, Contact) {
    let request = UnmergeRequest { primary_id: primary, duplicate_id: duplicate, request: None, now_us };
    match db.store.unmerge(tenant, request).await.unwrap() {
        UnmergeOutcome::Unmerged { primary, duplicate } => (*primary, *duplicate),
        _ => panic!("{}: the unmerge did not happen", db.name),
    }
}

#[tokio::test]
async fn undoing_a_merge_made_before_a_takedown_keeps_the_picture_down() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (p, d) = (with_picture(contact("p", "", "", 1), "img-p"), contact("d", "", "", 2));
        for x in [&p, &d] {
            db.create(&acme, x).await;
        }
        merge(&db, &acme, &p.id, &d.id, &[], 3).await;
        assert!(matches!(take_down(&db, &acme, &p.id, 4, None).await, TakedownOutcome::Removed(_)), "{}", db.name);
        let (primary, _) = unmerge(&db, &acme, &p.id, &d.id, 5).await;
        assert_eq!(primary.fields.image_id, None, "{}: the replay must not bring the picture back", db.name);
        let claims = db.count("SELECT COUNT(*) FROM claim_outbox WHERE action = 'claim' AND image_id = 'img-p' AND next_attempt_us >= 5").await;
        assert_eq!(claims, 0, "{}: and must not claim it again", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn a_duplicate_whose_picture_was_taken_down_before_its_merge_comes_back_without_it() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (p, d) = (contact("p", "", "", 1), with_picture(contact("d", "", "", 2), "img-d"));
        for x in [&p, &d] {
            db.create(&acme, x).await;
        }
        assert!(matches!(take_down(&db, &acme, &d.id, 3, None).await, TakedownOutcome::Removed(_)), "{}", db.name);
        merge(&db, &acme, &p.id, &d.id, &[MergeField::ProfilePicture], 4).await;
        let (primary, duplicate) = unmerge(&db, &acme, &p.id, &d.id, 5).await;
        assert_eq!(duplicate.fields.image_id, None, "{}: restored without the picture taken down", db.name);
        assert_eq!(primary.fields.image_id, None, "{}", db.name);
        db.assert_listing_is_derived().await;
    }
}
