//! The first schema: contacts, their revisions, merges, request records
//! and the claim outbox, with the indexes the Smart List and duplicate
//! search read.

use sea_orm::Schema;
use sea_orm_migration::prelude::*;

use crate::store::entities::{claim_outbox, contact, contact_merge, contact_revision, request_record};

pub struct Migration;

/// Named "migration" because it was once derived from its file name,
/// `migration.rs`, and existing databases recorded it under that name.
impl MigrationName for Migration {
    fn name(&self) -> &str {
        "migration"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
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
