//! Releases in the claim outbox: an `action` column (`claim` or `release`)
//! on the outbox and its dead letters, so one queue and one worker carry
//! both, and the order between a claim and a later release of the same
//! image for the same owner is a question about one table (see
//! `store::outbox`). The default keeps every existing row a claim.
//!
//! And `contact_moderation`, the audit of picture takedowns.

use sea_orm::Schema;
use sea_orm_migration::prelude::*;

use crate::store::entities::{claim_dead_letter, claim_outbox, contact_moderation};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_outbox_releases"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Both tables are created from their entities by earlier migrations,
        // so a new database has the column already; an older one gets it here.
        if !manager.has_column("claim_outbox", "action").await? {
            let mut column =
                ColumnDef::new(claim_outbox::Column::Action).string().not_null().default("claim").to_owned();
            manager.alter_table(Table::alter().table(claim_outbox::Entity).add_column(&mut column).to_owned()).await?;
        }
        if !manager.has_column("claim_dead_letter", "action").await? {
            let mut column =
                ColumnDef::new(claim_dead_letter::Column::Action).string().not_null().default("claim").to_owned();
            manager
                .alter_table(Table::alter().table(claim_dead_letter::Entity).add_column(&mut column).to_owned())
                .await?;
        }
        // Leasing looks for an earlier entry of the same image and owner
        // before it takes one: an index lookup per candidate.
        manager
            .create_index(
                Index::create()
                    .name("claim_outbox_image_owner")
                    .table(claim_outbox::Entity)
                    .col(claim_outbox::Column::Tenant)
                    .col(claim_outbox::Column::ImageId)
                    .col(claim_outbox::Column::Owner)
                    .col(claim_outbox::Column::Id)
                    .to_owned(),
            )
            .await?;
        let schema = Schema::new(manager.get_database_backend());
        manager.create_table(schema.create_table_from_entity(contact_moderation::Entity)).await?;
        Ok(())
    }
}
