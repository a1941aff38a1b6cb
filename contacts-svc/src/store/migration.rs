//! Schema migrations, run at startup.

use sea_orm::Schema;
use sea_orm_migration::prelude::*;

use super::entities::{claim_outbox, contact, contact_merge, contact_revision, request_record};

mod m0003_outbox_schedule_and_merge_groups;
mod m0004_server_keys;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(InitialSchema),
            Box::new(SearchIndex),
            Box::new(m0003_outbox_schedule_and_merge_groups::Migration),
            Box::new(m0004_server_keys::Migration),
        ]
    }
}

#[derive(DeriveMigrationName)]
struct InitialSchema;

#[async_trait::async_trait]
impl MigrationTrait for InitialSchema {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager.create_table(schema.create_table_from_entity(contact::Entity)).await?;
        manager.create_table(schema.create_table_from_entity(contact_revision::Entity)).await?;
        manager.create_table(schema.create_table_from_entity(contact_merge::Entity)).await?;
        manager.create_table(schema.create_table_from_entity(request_record::Entity)).await?;
        manager.create_table(schema.create_table_from_entity(claim_outbox::Entity)).await?;

        use contact_revision::Column as Revision;
        let indexes = [
            // The Smart List: newest first, keyset pagination.
            ("contact_revision_list", vec![Revision::Tenant, Revision::CreateTimeUs, Revision::ContactId]),
            // Duplicate search.
            ("contact_revision_email", vec![Revision::Tenant, Revision::EmailKey]),
            ("contact_revision_phone", vec![Revision::Tenant, Revision::Phone]),
            ("contact_revision_full_name", vec![Revision::Tenant, Revision::FullNameKey]),
        ];
        for (name, columns) in indexes {
            let mut index = Index::create().name(name).table(contact_revision::Entity).to_owned();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("contact_merge_primary")
                    .table(contact_merge::Entity)
                    .col(contact_merge::Column::Tenant)
                    .col(contact_merge::Column::PrimaryId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// The Smart List's `query` is a case-insensitive substring match
/// (`search_text LIKE '%...%'`), which no B-tree can serve: without this
/// index a rare query reads every row of the tenant. On PostgreSQL a
/// trigram GIN index answers it from the trigrams of the query (three
/// characters or more). SQLite has no equivalent for LIKE and keeps scanning
/// the list index.
struct SearchIndex;

/// Named by hand: the derive names a migration after its file, which would
/// give this one the first one's name ("migration", kept as it is because
/// existing databases have recorded it).
impl MigrationName for SearchIndex {
    fn name(&self) -> &str {
        "m0002_search_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SearchIndex {
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
