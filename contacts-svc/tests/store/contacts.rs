//! Creating contacts, reading revisions and resolving ids.

use contacts_svc::domain::ContactId;

use crate::{backends, contact, tenant, with_picture};

#[tokio::test]
async fn a_created_contact_reads_back_exactly_and_only_for_its_tenant() {
    for db in backends::all().await {
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        let mut ada = contact("Ada", "Lovelace", "Ada@Example.com", 1_000);
        ada.fields.tags = vec!["vip".into(), "engineer".into()];
        ada.fields.additional_phones = vec!["+14155552671".into()];
        db.create(&acme, &ada).await;

        let read = db.store.revision(&acme, &ada.id, 1).await.unwrap();
        assert_eq!(read.as_ref(), Some(&ada), "{}: revision 1 is what was written", db.name);
        assert_eq!(db.store.revision(&acme, &ada.id, 2).await.unwrap(), None, "{}: no revision 2", db.name);
        let latest = db.store.latest(&acme, &[ada.id.clone(), ada.id.clone()]).await.unwrap();
        assert_eq!(latest.len(), 1, "{}: repeated ids read once", db.name);
        assert_eq!(latest.get(&ada.id), Some(&ada), "{}", db.name);

        assert_eq!(db.store.revision(&globex, &ada.id, 1).await.unwrap(), None, "{}: other tenant", db.name);
        assert!(db.store.latest(&globex, std::slice::from_ref(&ada.id)).await.unwrap().is_empty(), "{}", db.name);
        assert!(db.store.resolve(&globex, std::slice::from_ref(&ada.id)).await.unwrap().is_empty(), "{}", db.name);
    }
}

#[tokio::test]
async fn an_id_never_merged_is_its_own_survivor_and_unknown_ids_are_absent() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let ada = contact("Ada", "", "", 1);
        db.create(&acme, &ada).await;
        let unknown = ContactId::generate();
        let survivors = db.store.resolve(&acme, &[ada.id.clone(), unknown.clone()]).await.unwrap();
        assert_eq!(survivors.get(&ada.id), Some(&ada.id), "{}", db.name);
        assert!(!survivors.contains_key(&unknown), "{}: unknown ids are absent", db.name);
        assert!(db.store.resolve(&acme, &[]).await.unwrap().is_empty(), "{}", db.name);
    }
}

#[tokio::test]
async fn a_contact_id_is_unique_within_a_tenant() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let ada = contact("Ada", "", "", 1);
        db.create(&acme, &ada).await;
        assert!(db.store.create(&acme, &ada, None, None).await.is_err(), "{}: a second write fails", db.name);
        assert_eq!(db.count("SELECT COUNT(*) FROM contact_revision").await, 1, "{}: nothing half-written", db.name);
    }
}

#[tokio::test]
async fn a_picture_is_claimed_in_the_create_transaction() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let ada = with_picture(contact("Ada", "", "", 5_000), "img-1");
        db.store.create(&acme, &ada, None, Some(9_000)).await.unwrap();
        let leased = db.store.lease_claims(5_000, 6_000, 10).await.unwrap();
        assert_eq!(leased.len(), 1, "{}: one claim queued", db.name);
        let claim = &leased[0];
        assert_eq!((claim.tenant.as_str(), claim.image_id.as_str()), ("acme", "img-1"), "{}", db.name);
        assert_eq!(claim.owner, ada.id.to_string(), "{}", db.name);
        assert_eq!((claim.create_time_us, claim.claim_deadline_us), (5_000, 9_000), "{}", db.name);

        let plain = contact("Bob", "", "", 6_000);
        db.store.create(&acme, &plain, None, Some(9_000)).await.unwrap();
        assert_eq!(db.count("SELECT COUNT(*) FROM claim_outbox").await, 1, "{}: no picture, no claim", db.name);
    }
}

#[tokio::test]
async fn an_import_writes_every_contact_in_batches() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let contacts: Vec<_> = (0..2_500).map(|i| contact(&format!("c{i}"), "", "", i)).collect();
        db.store.import(&acme, &contacts).await.unwrap();
        assert_eq!(db.count("SELECT COUNT(*) FROM contact").await, 2_500, "{}", db.name);
        let ids: Vec<_> = contacts.iter().map(|c| c.id.clone()).collect();
        assert_eq!(db.store.latest(&acme, &ids).await.unwrap().len(), 2_500, "{}", db.name);
        db.assert_listing_is_derived().await;
    }
}
