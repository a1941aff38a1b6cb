//! The databases every store test runs on: SQLite in a fresh folder always,
//! and a fresh database on the PostgreSQL server `TEST_POSTGRES_URL` names
//! (set by `tests/postgres.sh`). In CI (`CI` set) the PostgreSQL leg is
//! required, so it cannot be skipped silently.

use contacts_svc::store::{CreateOutcome, Store};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use crate::{Contact, TenantId};

pub struct Backend {
    pub name: &'static str,
    pub store: Store,
    /// The same database, for what the store does not expose (dead letters).
    pub raw: DatabaseConnection,
    /// Where it is, to connect again (as a restarted server would).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    /// Creates `contact` with no request id and no picture claim, or panics.
    pub async fn create(&self, tenant: &TenantId, contact: &Contact) {
        let outcome = self.store.create(tenant, contact, None, None).await;
        let outcome = outcome.unwrap_or_else(|error| panic!("{}: create: {error}", self.name));
        assert!(matches!(outcome, CreateOutcome::Created), "{}: a fresh contact is created", self.name);
    }

    /// The value of a one-number query.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self.raw.query_one_raw(sea_orm::Statement::from_string(self.raw.get_database_backend(), sql));
        let row = row.await.unwrap().expect("a row");
        row.try_get_by_index(0).unwrap()
    }
}

/// What the Smart List shows, by its definition: each contact's newest
/// revision, unless it was erased or its last merge event is a merge.
/// Written apart from the store's own SQL on purpose: the oracle for the
/// listing table the store maintains.
const LISTED_BY_DEFINITION: &str = "SELECT r.tenant, r.contact_id, r.revision, r.search_text FROM contact_revision r
    WHERE r.revision = (SELECT MAX(r2.revision) FROM contact_revision r2
                        WHERE r2.tenant = r.tenant AND r2.contact_id = r.contact_id)
      AND NOT EXISTS (SELECT 1 FROM contact_erasure x WHERE x.tenant = r.tenant AND x.contact_id = r.contact_id)
      AND COALESCE((SELECT e.kind FROM contact_merge_event e WHERE e.tenant = r.tenant AND e.duplicate_id = r.contact_id
                    ORDER BY e.generation DESC LIMIT 1), 'unmerge') <> 'merge'
    ORDER BY 1, 2";

impl Backend {
    /// Fails unless the listing table holds exactly the contacts the list
    /// should show, each at its newest revision with its search text, and
    /// (SQLite) the FTS5 index agrees with the table.
    pub async fn assert_listing_is_derived(&self) {
        let rows = |sql: &'static str| async move {
            let statement = sea_orm::Statement::from_string(self.raw.get_database_backend(), sql);
            let rows = self.raw.query_all_raw(statement).await.unwrap();
            rows.iter()
                .map(|row| {
                    let text: (String, String, i64, String) = (
                        row.try_get_by_index(0).unwrap(),
                        row.try_get_by_index(1).unwrap(),
                        row.try_get_by_index(2).unwrap(),
                        row.try_get_by_index(3).unwrap(),
                    );
                    text
                })
                .collect::<Vec<_>>()
        };
        let listed = rows("SELECT tenant, contact_id, revision, search_text FROM contact_listing ORDER BY 1, 2").await;
        assert_eq!(
            listed,
            rows(LISTED_BY_DEFINITION).await,
            "{}: the listing table is what the contacts say",
            self.name
        );
        if self.raw.get_database_backend() == sea_orm::DbBackend::Sqlite {
            // Compares the index with the table it indexes; an error if they differ.
            self.raw
                .execute_unprepared("INSERT INTO contact_listing_fts (contact_listing_fts) VALUES ('integrity-check')")
                .await
                .unwrap_or_else(|error| panic!("{}: the FTS5 index matches the listing: {error}", self.name));
        }
    }
}

pub async fn all() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("contacts.sqlite").display());
    let mut backends = vec![connect("sqlite", sqlite, Some(dir)).await];
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(admin_url) => {
            let name = format!("store_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url).await.expect("connect to the test PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
            let (base, _) = admin_url.rsplit_once('/').expect("the URL ends with a database name");
            backends.push(connect("postgres", format!("{base}/{name}"), None).await);
        }
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_POSTGRES_URL is not set: CI must run the PostgreSQL leg (tests/run.sh starts PostgreSQL)")
        }
        Err(_) => eprintln!("TEST_POSTGRES_URL not set: skipping the PostgreSQL leg (tests/postgres.sh sets it)"),
    }
    backends
}

async fn connect(name: &'static str, url: String, dir: Option<tempfile::TempDir>) -> Backend {
    let store = Store::connect(&url).await.unwrap_or_else(|error| panic!("{name}: connect and migrate: {error}"));
    let raw = Database::connect(&url).await.expect("a second connection");
    Backend { name, store, raw, url, _dir: dir }
}
