//! Search that finds what staff type: full names, formatted phone numbers,
//! every email, case and accents folded; and duplicate search that is
//! symmetric over the values a merge gathered. On both databases.

use contacts_svc::domain::{Contact, SearchQuery};

use crate::{backends, contact, tenant};

fn first_names(contacts: Vec<Contact>) -> Vec<String> {
    contacts.into_iter().map(|c| c.fields.first_name).collect()
}

async fn search(db: &backends::Backend, query: &str) -> Vec<String> {
    let acme = tenant("acme");
    let query = SearchQuery::parse(query, &crate::us_phones());
    first_names(db.store.list(&acme, query.as_ref(), None, 50).await.unwrap())
}

/// The people of the issue: each query a member of staff typed, and whom it must find.
fn people() -> Vec<Contact> {
    let mut ann = contact("Ann", "Smith", "ann@example.com", 1);
    ann.fields.phone = "+14155550101".into();
    ann.fields.additional_emails = vec!["a.smith@work.example".into()];
    let jose = contact("José", "Núñez", "", 2);
    let nfd = contact("Rene\u{301}e", "Dubois", "", 3);
    let strasse = contact("Hans", "Meier", "", 4);
    let mut strasse = strasse;
    strasse.fields.company_name = "Große Straße GmbH".into();
    let ismail = contact("İsmail", "Kılıç", "", 5);
    let mut extension = contact("Desk", "", "", 6);
    extension.fields.phone = "+442071838750;ext=99".into();
    let mut formatted_company = contact("Numbers", "", "", 7);
    formatted_company.fields.company_name = "555-0101 Ltd".into();
    vec![ann, jose, nfd, strasse, ismail, extension, formatted_company]
}

#[tokio::test]
async fn queries_find_full_names_formatted_phones_every_email_and_folded_spellings() {
    for db in backends::all().await {
        for person in people() {
            db.create(&tenant("acme"), &person).await;
        }
        let cases: &[(&str, &[&str])] = &[
            ("Ann Smith", &["Ann"]),
            ("ann  SMITH", &["Ann"]),
            ("smith", &["Ann"]),
            ("555-0101", &["Numbers", "Ann"]),
            ("(415) 555-0101", &["Ann"]),
            ("+1 415", &["Ann"]),
            ("4155550101", &["Ann"]),
            ("+44 20 7183 8750", &["Desk"]),
            ("+442071838750;ext=99", &["Desk"]),
            ("+44 20 7183 8750 ext. 99", &["Desk"]),
            ("\u{200B}Ann Smith", &["Ann"]),
            ("work.example", &["Ann"]),
            ("A.SMITH@WORK", &["Ann"]),
            ("jose", &["José"]),
            ("NUNEZ", &["José"]),
            ("Jose\u{301} Nu\u{303}n\u{303}ez", &["José"]),
            ("renée", &["Rene\u{301}e"]),
            ("STRASSE", &["Hans"]),
            ("große", &["Hans"]),
            ("İSMAİL KILIÇ", &["İsmail"]),
            ("ismail kilic", &["İsmail"]),
            ("nobody", &[]),
        ];
        for (query, expected) in cases {
            assert_eq!(search(&db, query).await, *expected, "{}: {query:?}", db.name);
        }
        assert_eq!(search(&db, "   ").await.len(), people().len(), "{}: a blank query lists all", db.name);
    }
}

#[tokio::test]
async fn duplicates_are_symmetric_over_values_a_merge_made_additional() {
    for db in backends::all().await {
        let acme = tenant("acme");
        // A absorbed ann@ex.com and +14155550101 as additional values in a merge.
        let mut absorbed = contact("Annie", "", "annie@home.example", 1);
        absorbed.fields.additional_emails = vec!["ann@ex.com".into()];
        absorbed.fields.additional_phones = vec!["+14155550101".into()];
        db.create(&acme, &absorbed).await;
        let same_email = contact("A.", "", "ANN@EX.COM", 2);
        let mut same_phone = contact("Front desk", "", "", 3);
        same_phone.fields.phone = "+14155550101".into();
        db.create(&acme, &same_email).await;
        db.create(&acme, &same_phone).await;

        for newcomer in [&same_email, &same_phone] {
            let found = db.store.duplicates_of(&acme, newcomer, 50).await.unwrap();
            assert_eq!(first_names(found), ["Annie"], "{}: {} finds A", db.name, newcomer.fields.first_name);
        }
        let found = db.store.duplicates_of(&acme, &absorbed, 50).await.unwrap();
        assert_eq!(first_names(found), ["Front desk", "A."], "{}: A finds both", db.name);
    }
}

#[tokio::test]
async fn full_names_spelled_in_nfc_and_nfd_are_duplicates() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let nfc = contact("José", "Núñez", "", 1);
        let nfd = contact("JOSE\u{301}", "NU\u{303}N\u{303}EZ", "", 2);
        db.create(&acme, &nfc).await;
        db.create(&acme, &nfd).await;
        let found = first_names(db.store.duplicates_of(&acme, &nfc, 50).await.unwrap());
        assert_eq!(found, ["JOSE\u{301}"], "{}", db.name);
        assert_eq!(first_names(db.store.duplicates_of(&acme, &nfd, 50).await.unwrap()), ["José"], "{}", db.name);
    }
}

#[tokio::test]
async fn a_database_written_before_folding_is_rebuilt_by_its_migration() {
    for db in backends::all().await {
        let acme = tenant("acme");
        for person in people() {
            db.create(&acme, &person).await;
        }
        // What the schema before m0005 held: lowercased search text, no match
        // keys, and no listing table yet (m0010 builds it from the revisions).
        for sql in [
            "UPDATE contact_revision SET search_text = lower(first_name || ' ' || last_name), full_name_key = ''",
            "DROP TABLE contact_match_key",
            "DELETE FROM seaql_migrations WHERE version = 'm0005_folded_search_keys'",
            "DROP TABLE IF EXISTS contact_listing_fts",
            "DROP TABLE contact_listing",
            "DELETE FROM seaql_migrations WHERE version = 'm0010_contact_listing'",
        ] {
            sea_orm::ConnectionTrait::execute_unprepared(&db.raw, sql).await.unwrap();
        }
        let old_matches = db.count("SELECT COUNT(*) FROM contact_revision WHERE search_text LIKE '%jose%'").await;
        assert_eq!(old_matches, 0, "{}: the old text misses José", db.name);

        let url = db.url.clone();
        let reopened = contacts_svc::store::Store::connect(&url).await.expect("migrate again");
        let query = SearchQuery::parse("İSMAİL KILIÇ", &crate::us_phones());
        let found = first_names(reopened.list(&acme, query.as_ref(), None, 50).await.unwrap());
        assert_eq!(found, ["İsmail"], "{}: search text rebuilt", db.name);
        let twin = contact("ANN", "SMITH", "", 9);
        let found = reopened.duplicates_of(&acme, &twin, 50).await.unwrap();
        assert_eq!(first_names(found), ["Ann"], "{}: match keys rebuilt", db.name);
        assert_eq!(
            db.count("SELECT COUNT(*) FROM contact_match_key WHERE kind = 'email'").await,
            2,
            "{}: every email, additional ones included",
            db.name
        );
        db.assert_listing_is_derived().await;
    }
}
