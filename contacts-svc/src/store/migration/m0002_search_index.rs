//! A trigram index for the Smart List's substring search (PostgreSQL only).

use sea_orm_migration::prelude::*;

/// The Smart List's `query` is a case-insensitive substring match
/// (`search_text LIKE '%...%'`), which no B-tree can serve: without this
/// index a rare query reads every row of the tenant. On PostgreSQL a
/// trigram GIN index answers it from the trigrams of the query (three
/// characters or more). SQLite has no equivalent for LIKE and keeps scanning
/// the list index.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_search_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        // pg_trgm ships with PostgreSQL (contrib) and is a trusted extension:
        // the database owner may create it without superuser rights.
        connection.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm").await?;
        connection
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS contact_revision_search_trgm \
                 ON contact_revision USING gin (search_text gin_trgm_ops)",
            )
            .await?;
        Ok(())
    }
}
