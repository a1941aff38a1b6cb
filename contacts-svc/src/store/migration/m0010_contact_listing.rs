//! `contact_listing`: the Smart List's own table, one row per contact the
//! list shows (its newest revision, not merged away, not erased), so a page
//! reads 50 index entries instead of testing every revision it passes for
//! being the newest, unmerged and unerased (three subqueries a row, which
//! made deep pages and rare queries grow with the tenant). `store::listing`
//! keeps it in the transaction of every write that changes what it holds.
//!
//! Its search index: PostgreSQL's pg_trgm GIN moves here from
//! `contact_revision`; SQLite gets an FTS5 trigram index, an external-content
//! table kept by triggers, so the index changes with the row in the same
//! transaction.

use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;

use crate::store::visibility::{IS_LATEST, IS_NOT_ERASED, IS_NOT_MERGED};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_contact_listing"
    }
}

const POSTGRES: &[&str] = &[
    "CREATE TABLE contact_listing (
        id BIGSERIAL PRIMARY KEY,
        tenant TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        create_time_us BIGINT NOT NULL,
        revision BIGINT NOT NULL,
        search_text TEXT NOT NULL,
        UNIQUE (tenant, contact_id))",
    "CREATE INDEX contact_listing_order ON contact_listing (tenant, create_time_us, contact_id)",
    "CREATE INDEX contact_listing_search_trgm ON contact_listing USING gin (search_text gin_trgm_ops)",
    // Superseded by the listing's indexes; every revision written paid for them.
    "DROP INDEX IF EXISTS contact_revision_search_trgm",
    "DROP INDEX IF EXISTS contact_revision_list",
];

/// `id` is an INTEGER PRIMARY KEY, SQLite's rowid, which VACUUM keeps: the
/// FTS index refers to rows by it.
const SQLITE: &[&str] = &[
    "CREATE TABLE contact_listing (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        create_time_us BIGINT NOT NULL,
        revision BIGINT NOT NULL,
        search_text TEXT NOT NULL,
        UNIQUE (tenant, contact_id))",
    "CREATE INDEX contact_listing_order ON contact_listing (tenant, create_time_us, contact_id)",
    "CREATE VIRTUAL TABLE contact_listing_fts USING fts5(
        search_text, content = 'contact_listing', content_rowid = 'id', tokenize = 'trigram')",
    "CREATE TRIGGER contact_listing_fts_insert AFTER INSERT ON contact_listing BEGIN
        INSERT INTO contact_listing_fts (rowid, search_text) VALUES (new.id, new.search_text);
    END",
    "CREATE TRIGGER contact_listing_fts_delete AFTER DELETE ON contact_listing BEGIN
        INSERT INTO contact_listing_fts (contact_listing_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    END",
    "CREATE TRIGGER contact_listing_fts_update AFTER UPDATE ON contact_listing BEGIN
        INSERT INTO contact_listing_fts (contact_listing_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
        INSERT INTO contact_listing_fts (rowid, search_text) VALUES (new.id, new.search_text);
    END",
    "DROP INDEX IF EXISTS contact_revision_list",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES,
            _ => SQLITE,
        };
        for sql in statements {
            connection.execute_unprepared(sql).await?;
        }
        // The contacts written before this migration (the triggers index them
        // on SQLite).
        connection
            .execute_unprepared(&format!(
                r#"INSERT INTO contact_listing (tenant, contact_id, create_time_us, revision, search_text)
                   SELECT "tenant", "contact_id", "create_time_us", "revision", "search_text" FROM "contact_revision"
                   WHERE {IS_LATEST} AND {IS_NOT_MERGED} AND {IS_NOT_ERASED}"#
            ))
            .await?;
        Ok(())
    }
}
