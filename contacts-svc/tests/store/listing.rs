//! The Smart List (keyset pages, substring search) and duplicate search.

use contacts_svc::{
    domain::{Contact, SearchQuery},
    store::{LIST_SCAN_WINDOW, ListCursor},
};

use crate::{TenantId, backends, contact, tenant};

fn after(contact: &contacts_svc::domain::Contact) -> ListCursor {
    ListCursor { create_time_us: contact.create_time_us, contact_id: contact.id.to_string() }
}

#[tokio::test]
async fn pages_walk_newest_first_without_gaps_or_repeats_even_on_equal_times() {
    for db in backends::all().await {
        let acme = tenant("acme");
        // Two pairs share a creation time: the id breaks the tie.
        let times = [10, 20, 20, 30, 40, 40, 50];
        let mut written = Vec::new();
        for (i, time) in times.into_iter().enumerate() {
            let c = contact(&format!("c{i}"), "", "", time);
            db.create(&acme, &c).await;
            written.push(c);
        }
        db.create(&tenant("globex"), &contact("other", "", "", 35)).await;
        let mut expected = written.clone();
        expected.sort_by(|a, b| (b.create_time_us, b.id.as_str()).cmp(&(a.create_time_us, a.id.as_str())));

        let mut seen = Vec::new();
        let mut cursor = None;
        // Bounded: a cursor that stops moving fails the test instead of hanging it.
        for _ in 0..=written.len() {
            let page = db.store.list(&acme, None, cursor.as_ref(), 3).await.unwrap();
            assert!(page.len() <= 3, "{}", db.name);
            let Some(last) = page.last() else { break };
            cursor = Some(after(last));
            seen.extend(page);
        }
        let ids =
            |contacts: &[contacts_svc::domain::Contact]| contacts.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&seen), ids(&expected), "{}: every contact once, newest first", db.name);
    }
}

#[tokio::test]
async fn a_query_is_a_case_insensitive_substring_with_wildcards_taken_literally() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let percent = contact("Ann", "Fifty", "50%off@example.com", 1);
        let underscore = contact("Bob", "Under_Score", "", 2);
        let plain = contact("Carol", "Plain", "carol@example.com", 3);
        for c in [&percent, &underscore, &plain] {
            db.create(&acme, c).await;
        }
        let names = |contacts: Vec<contacts_svc::domain::Contact>| {
            contacts.into_iter().map(|c| c.fields.first_name).collect::<Vec<_>>()
        };
        let list = |query: &'static str| {
            let (db, acme) = (&db, &acme);
            let query = SearchQuery::parse(query, &crate::us_phones());
            async move { names(db.store.list(acme, query.as_ref(), None, 10).await.unwrap()) }
        };
        assert_eq!(list("fifty").await, ["Ann"], "{}: lowercase query, mixed-case data", db.name);
        assert_eq!(list("50%").await, ["Ann"], "{}: % is a character", db.name);
        assert_eq!(list("r_s").await, ["Bob"], "{}: _ is a character", db.name);
        assert_eq!(list("example.com").await, ["Carol", "Ann"], "{}: newest first", db.name);
        assert_eq!(list("").await.len(), 3, "{}: an empty query lists all", db.name);
        assert!(list("nobody").await.is_empty(), "{}", db.name);
    }
}

/// Walks every page of `query` in pages of `page_size`; the first names met.
async fn walk(db: &backends::Backend, tenant: &TenantId, query: &str, page_size: u64) -> Vec<String> {
    let query = SearchQuery::parse(query, &crate::us_phones());
    let mut names = Vec::new();
    let mut cursor = None;
    // Bounded: a cursor that stops moving fails the test instead of hanging it.
    for _ in 0..1_000 {
        let page = db.store.list(tenant, query.as_ref(), cursor.as_ref(), page_size).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(after(last));
        names.extend(page.into_iter().map(|c| c.fields.first_name));
    }
    names
}

#[tokio::test]
async fn queries_are_answered_alike_inside_the_scan_window_and_through_the_search_index_beyond_it() {
    for db in backends::all().await {
        let acme = tenant("acme");
        // Fillers newer than every contact searched for but one, so that the
        // rest lie beyond the window a query first walks.
        let fillers = 2 * LIST_SCAN_WINDOW as i64 + 500;
        let mut phoned = contact("Phoned", "Person", "", 3);
        phoned.fields.phone = "+14155550199".into();
        let searched = [
            contact("Oldest", "Needle%_x", "", 1),
            contact("Zq", "", "", 2),
            phoned,
            contact("Middle", "Needles", "", 4 + fillers / 2),
            // FTS5 query syntax in a name: taken as text, never as operators.
            contact("Syntax", "a\"b* OR c NEAR(d)", "", 0),
        ];
        let mut contacts: Vec<Contact> = (0..fillers)
            .filter(|i| *i != fillers / 2)
            .map(|i| contact("Filler", &format!("Number {i}"), "", 4 + i))
            .collect();
        contacts.extend(searched.iter().cloned());
        contacts.push(contact("Newest", "Needle", "", 10 * fillers));
        db.store.import(&acme, &contacts).await.unwrap();
        db.create(&tenant("globex"), &contact("Other", "Needle", "", 5)).await;

        for page_size in [50, 1] {
            let walked = |query: &'static str| walk(&db, &acme, query, page_size);
            assert_eq!(
                walked("needle").await,
                ["Newest", "Middle", "Oldest"],
                "{}, pages of {page_size}: in the window and beyond it, newest first, this tenant only",
                db.name
            );
            assert_eq!(walked("le%_x").await, ["Oldest"], "{}: wildcards are literal through the index", db.name);
            assert_eq!(walked("(415) 555-0199").await, ["Phoned"], "{}: phone digits through the index", db.name);
            assert_eq!(walked("zq").await, ["Zq"], "{}: two letters: no index, the walk goes on", db.name);
            assert_eq!(walked("a\"b* or c").await, ["Syntax"], "{}: quotes, * and OR through the index", db.name);
            assert_eq!(walked("near(d)").await, ["Syntax"], "{}: NEAR( through the index", db.name);
            assert!(walked("\"\"\"").await.is_empty(), "{}: only quotes: no error, no match", db.name);
            assert!(walked("no such person").await.is_empty(), "{}", db.name);
        }
        assert_eq!(walk(&db, &acme, "filler", 50).await.len() as i64, fillers - 1, "{}: a common query", db.name);
        db.assert_listing_is_derived().await;
    }
}

#[tokio::test]
async fn duplicates_match_email_phone_or_full_name_of_live_contacts_of_the_tenant() {
    for db in backends::all().await {
        let acme = tenant("acme");
        let mut ada = contact("Ada", "Lovelace", "ada@example.com", 1);
        ada.fields.additional_phones = vec!["+14155552671".into()];
        let same_email = contact("A.", "", "ADA@example.com", 2);
        let mut same_phone = contact("Countess", "", "", 3);
        same_phone.fields.phone = "+14155552671".into();
        let same_name = contact("ada", "LOVELACE", "other@example.com", 4);
        let first_name_only = contact("Ada", "", "", 5);
        let stranger = contact("Grace", "Hopper", "grace@example.com", 6);
        for c in [&ada, &same_email, &same_phone, &same_name, &first_name_only, &stranger] {
            db.create(&acme, c).await;
        }
        db.create(&tenant("globex"), &contact("Ada", "Lovelace", "ada@example.com", 7)).await;

        let found = db.store.duplicates_of(&acme, &ada, 50).await.unwrap();
        let mut ids: Vec<_> = found.iter().map(|c| c.id.clone()).collect();
        ids.sort();
        let mut expected = vec![same_email.id.clone(), same_phone.id.clone(), same_name.id.clone()];
        expected.sort();
        assert_eq!(ids, expected, "{}: not itself, not a lone first name, not another tenant", db.name);
        assert_eq!(db.store.duplicates_of(&acme, &ada, 1).await.unwrap().len(), 1, "{}: limited", db.name);
    }
}
