//! The claim outbox as a work queue: leases, rescheduling, dead letters,
//! the backlog, and the live pictures the reconciliation checks.

use contacts_svc::store::{LivePicture, OutboxBacklog};

use crate::{backends, contact, merge::merge, tenant, with_picture};

#[tokio::test]
async fn a_leased_claim_is_hidden_until_its_lease_ends_and_counts_an_attempt() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (old, new) =
            (with_picture(contact("a", "", "", 100), "img-a"), with_picture(contact("b", "", "", 200), "img-b"));
        for c in [&old, &new] {
            db.store.create(&acme, c, None, Some(10_000)).await.unwrap();
        }
        assert!(db.store.lease_claims(99, 1_000, 10).await.unwrap().is_empty(), "{}: not due yet", db.name);
        let first = db.store.lease_claims(300, 1_000, 1).await.unwrap();
        assert_eq!(first.len(), 1, "{}: the limit holds", db.name);
        assert_eq!((first[0].image_id.as_str(), first[0].attempts), ("img-a", 1), "{}: most overdue first", db.name);
        let second = db.store.lease_claims(300, 1_000, 10).await.unwrap();
        assert_eq!(second.iter().map(|e| e.image_id.as_str()).collect::<Vec<_>>(), ["img-b"], "{}", db.name);
        assert!(db.store.lease_claims(999, 2_000, 10).await.unwrap().is_empty(), "{}: both leased", db.name);
        let again = db.store.lease_claims(1_000, 2_000, 10).await.unwrap();
        assert_eq!(again.len(), 2, "{}: a lease that ran out gives the entry back", db.name);
        assert!(again.iter().all(|e| e.attempts == 2), "{}: {again:?}", db.name);
    }
}

#[tokio::test]
async fn a_failed_claim_waits_for_its_next_attempt_with_its_error_kept_short() {
    for db in backends::all().await {
        let acme = tenant("acme");
        db.store.create(&acme, &with_picture(contact("a", "", "", 100), "img"), None, Some(10_000)).await.unwrap();
        let entry = db.store.lease_claims(100, 200, 10).await.unwrap().remove(0);
        db.store.claim_retry_at(entry.id, 5_000, &"x".repeat(2_000)).await.unwrap();
        assert!(db.store.lease_claims(4_999, 6_000, 10).await.unwrap().is_empty(), "{}: backing off", db.name);
        let retried = db.store.lease_claims(5_000, 6_000, 10).await.unwrap();
        assert_eq!(retried.len(), 1, "{}", db.name);
        assert_eq!(retried[0].last_error.len(), 500, "{}: an error message, not a log", db.name);
        assert_eq!(retried[0].attempts, 2, "{}", db.name);
    }
}

#[tokio::test]
async fn a_dead_claim_moves_to_the_dead_letters_once_and_a_delivered_one_is_gone() {
    for db in backends::all().await {
        let acme = tenant("acme");
        for (i, image) in ["dead", "delivered", "waiting"].into_iter().enumerate() {
            let c = with_picture(contact(image, "", "", 100 + i as i64), image);
            db.store.create(&acme, &c, None, Some(10_000)).await.unwrap();
        }
        let backlog = db.store.claim_backlog().await.unwrap();
        assert_eq!(backlog, OutboxBacklog { entries: 3, oldest_create_time_us: Some(100) }, "{}", db.name);

        let leased = db.store.lease_claims(200, 300, 2).await.unwrap();
        let (dead, delivered) = (&leased[0], &leased[1]);
        assert_eq!((dead.image_id.as_str(), delivered.image_id.as_str()), ("dead", "delivered"), "{}", db.name);
        db.store.claim_dead(dead, 250, "NOT_FOUND").await.unwrap();
        db.store.claim_dead(dead, 260, "NOT_FOUND").await.expect("a replay after a crash is harmless");
        db.store.claim_delivered(delivered.id).await.unwrap();

        assert_eq!(db.count("SELECT COUNT(*) FROM claim_dead_letter").await, 1, "{}", db.name);
        let backlog = db.store.claim_backlog().await.unwrap();
        assert_eq!(backlog, OutboxBacklog { entries: 1, oldest_create_time_us: Some(102) }, "{}", db.name);
        let left = db.store.lease_claims(1_000, 2_000, 10).await.unwrap();
        assert_eq!(left.iter().map(|e| e.image_id.as_str()).collect::<Vec<_>>(), ["waiting"], "{}", db.name);
    }
}

#[tokio::test]
async fn live_pictures_leave_out_queued_claims_and_merged_away_contacts() {
    for db in backends::all().await {
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        let queued = with_picture(contact("queued", "", "", 1), "img-q");
        db.store.create(&acme, &queued, None, Some(10_000)).await.unwrap();
        let (kept, gone) =
            (with_picture(contact("kept", "", "", 2), "img-k"), with_picture(contact("gone", "", "", 3), "img-g"));
        let other = with_picture(contact("other", "", "", 4), "img-o");
        for (tenant, c) in [(&acme, &kept), (&acme, &gone), (&globex, &other)] {
            db.create(tenant, c).await;
        }
        db.create(&acme, &contact("no picture", "", "", 5)).await;
        // `gone` merges into a contact without a picture of its own: the
        // survivor wears it now, with a claim queued.
        let survivor = contact("survivor", "", "", 6);
        db.create(&acme, &survivor).await;
        merge(&db, &acme, &survivor.id, &gone.id, 10, None).await;

        let mut pictures = Vec::new();
        let mut after: Option<LivePicture> = None;
        // Bounded: a cursor that stops moving fails the test instead of hanging it.
        for _ in 0..10 {
            let page = db.store.live_pictures(after.as_ref(), 1).await.unwrap();
            let Some(last) = page.last().cloned() else { break };
            pictures.extend(page);
            after = Some(last);
        }
        let mut expected = vec![
            LivePicture { tenant: "acme".into(), contact_id: kept.id.to_string(), image_id: "img-k".into() },
            LivePicture { tenant: "globex".into(), contact_id: other.id.to_string(), image_id: "img-o".into() },
        ];
        expected.sort_by(|a, b| (&a.tenant, &a.contact_id).cmp(&(&b.tenant, &b.contact_id)));
        assert_eq!(pictures, expected, "{}", db.name);

        let leased = db.store.lease_claims(100, 200, 10).await.unwrap();
        for entry in &leased {
            db.store.claim_delivered(entry.id).await.unwrap();
        }
        let all = db.store.live_pictures(None, 10).await.unwrap();
        assert_eq!(all.len(), 4, "{}: delivered claims leave the outbox: {all:?}", db.name);
    }
}

#[tokio::test]
async fn a_release_waits_for_an_earlier_claim_of_the_same_image_and_owner_and_holds_back_no_one_else() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let (wearer, other) =
            (with_picture(contact("a", "", "", 100), "img"), with_picture(contact("b", "", "", 101), "img"));
        for c in [&wearer, &other] {
            db.store.create(&acme, c, None, Some(10_000)).await.unwrap();
        }
        db.store.queue_release(&acme, "img", &wearer.id, 150).await.unwrap();
        db.store.queue_release(&acme, "img-other", &wearer.id, 160).await.unwrap();

        // The wearer's claim fails and backs off: its release must not overtake it.
        let first = db.store.lease_claims(200, 300, 10).await.unwrap();
        let taken: Vec<(&str, &str, &str)> =
            first.iter().map(|e| (e.action.as_str(), e.image_id.as_str(), e.owner.as_str())).collect();
        let (wearer_id, other_id) = (wearer.id.to_string(), other.id.to_string());
        assert_eq!(
            taken,
            [
                ("claim", "img", wearer_id.as_str()),
                ("claim", "img", other_id.as_str()),
                ("release", "img-other", wearer_id.as_str())
            ],
            "{}: the release of img by its wearer waits; other images and owners do not",
            db.name
        );
        let claim = &first[0];
        db.store.claim_retry_at(claim.id, 5_000, "UNAVAILABLE").await.unwrap();
        for delivered in &first[1..] {
            db.store.claim_delivered(delivered.id).await.unwrap();
        }
        assert!(
            db.store.lease_claims(1_000, 2_000, 10).await.unwrap().is_empty(),
            "{}: still behind its claim",
            db.name
        );
        let retried = db.store.lease_claims(5_000, 6_000, 10).await.unwrap();
        assert_eq!(retried.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["claim"], "{}", db.name);
        db.store.claim_delivered(retried[0].id).await.unwrap();
        let release = db.store.lease_claims(6_000, 7_000, 10).await.unwrap();
        assert_eq!(
            release.iter().map(|e| (e.action.as_str(), e.image_id.as_str())).collect::<Vec<_>>(),
            [("release", "img")],
            "{}: the claim delivered, its release goes",
            db.name
        );
        let releases = db.count("SELECT COUNT(*) FROM claim_outbox WHERE action = 'release'").await;
        assert_eq!(releases, 1, "{}", db.name);
        db.store.claim_dead(&release[0], 7_000, "INVALID_ARGUMENT").await.unwrap();
        let dead = db.count("SELECT COUNT(*) FROM claim_dead_letter WHERE action = 'release'").await;
        assert_eq!(dead, 1, "{}: a dead letter keeps its action", db.name);
    }
}

#[tokio::test]
async fn live_pictures_leave_out_a_picture_whose_release_is_queued() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let wearer = with_picture(contact("a", "", "", 100), "img");
        db.store.create(&acme, &wearer, None, Some(10_000)).await.unwrap();
        for entry in db.store.lease_claims(200, 300, 10).await.unwrap() {
            db.store.claim_delivered(entry.id).await.unwrap();
        }
        assert_eq!(db.store.live_pictures(None, 10).await.unwrap().len(), 1, "{}", db.name);
        db.store.queue_release(&acme, "img", &wearer.id, 400).await.unwrap();
        assert!(
            db.store.live_pictures(None, 10).await.unwrap().is_empty(),
            "{}: reconciliation must not claim again what a queued release gives up",
            db.name
        );
    }
}
