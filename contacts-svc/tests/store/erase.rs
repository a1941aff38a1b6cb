//! EraseContact's transaction on a group larger than one statement's id list
//! and than one event's: every member erased, every value emptied, every
//! release queued, every id announced.

use contacts_svc::{
    domain::ContactEvent,
    store::{ERASED_IDS_PER_EVENT, EraseOutcome, EraseRequest},
};

use crate::{backends, contact, merge::merge, tenant, with_picture};

/// One more member than one `erased` event carries (and so more than one
/// `IN (...)` list of `store::erasure` holds).
const MEMBERS: usize = ERASED_IDS_PER_EVENT + 1;

#[tokio::test]
async fn a_group_larger_than_one_statement_is_erased_whole_with_every_release_queued() {
    for db in backends::all().await {
        let (acme, other) = (tenant("acme"), tenant("other"));
        let members: Vec<_> = (0..MEMBERS)
            .map(|n| {
                with_picture(
                    contact(&format!("Member{n}"), "Smith", &format!("m{n}@example.com"), n as i64),
                    &format!("img-{n}"),
                )
            })
            .collect();
        db.store.import(&acme, &members).await.unwrap();
        let stranger = contact("Member0", "Smith", "m0@example.com", 1);
        db.create(&other, &stranger).await;
        // A chain (each member merged into the next, taking its picture):
        // every member but the first also wore the first member's image.
        for (n, pair) in members.windows(2).enumerate() {
            merge(&db, &acme, &pair[1].id, &pair[0].id, 10_000 + n as i64, None).await;
        }

        let request =
            EraseRequest { id: &members[MEMBERS / 2].id, reason: "GDPR", actor: "test", request: None, now_us: 99_999 };
        let outcome = db.store.erase(&acme, request).await.unwrap_or_else(|error| panic!("{}: {error}", db.name));
        let EraseOutcome::Erased { erasure, releases } = outcome else { panic!("{}: not erased", db.name) };
        assert_eq!(erasure.contact_ids.len(), MEMBERS, "{}", db.name);
        assert_eq!(releases, 2 * MEMBERS - 1, "{}", db.name);
        let counts = [
            db.count("SELECT COUNT(*) FROM contact_erasure").await,
            db.count("SELECT COUNT(*) FROM contact_revision WHERE tenant = 'acme' AND (first_name <> '' OR email <> '' OR image_id IS NOT NULL OR search_text <> '')").await,
            db.count("SELECT COUNT(*) FROM contact_match_key WHERE tenant = 'acme'").await,
            db.count("SELECT COUNT(*) FROM claim_outbox WHERE action = 'release'").await,
        ];
        assert_eq!(
            counts,
            [MEMBERS as i64, 0, 0, releases as i64],
            "{}: erasures, valued revisions, keys, releases",
            db.name
        );
        let (_, events) = db.store.events_after(&acme, None, 10_000).await.unwrap();
        let announced: Vec<_> = events
            .iter()
            .filter_map(|logged| match &logged.event {
                ContactEvent::ContactErased { contact_ids } => Some(contact_ids),
                _ => None,
            })
            .collect();
        assert_eq!(announced.len(), 2, "{}: two erased events for {MEMBERS} ids", db.name);
        assert!(announced.iter().all(|ids| ids.len() <= ERASED_IDS_PER_EVENT), "{}", db.name);
        let mut every_id: Vec<_> = announced.into_iter().flatten().cloned().collect();
        every_id.sort();
        let mut expected: Vec<_> = members.iter().map(|m| m.id.to_string()).collect();
        expected.sort();
        assert_eq!(every_id, expected, "{}: every member announced once", db.name);
        let ids: Vec<_> = members.iter().map(|m| m.id.clone()).collect();
        assert!(db.store.latest(&acme, &ids).await.unwrap().is_empty(), "{}: no member reads", db.name);
        let again = db.store.erasure_of(&acme, &members[MEMBERS - 1].id).await.unwrap();
        assert_eq!(again, Some(erasure), "{}: any member names the same erasure", db.name);
        let untouched = db.store.latest(&other, std::slice::from_ref(&stranger.id)).await.unwrap();
        assert_eq!(
            untouched[&stranger.id].fields.first_name, "Member0",
            "{}: another tenant keeps its contact",
            db.name
        );
        db.assert_listing_is_derived().await;
    }
}
