//! `contact_erasure`, the audit and marker of erased contacts (EraseContact),
//! and `contact.picture_carrier`, which marks the intermediate contacts of
//! ReplaceProfilePicture so UnmergeContacts can refuse them. Carriers
//! written before this migration stay unmarked: the replace RPC shipped in
//! the same release, so no deployed database has any.

use sea_orm::Schema;
use sea_orm_migration::prelude::*;

use crate::store::entities::{contact, contact_erasure};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0008_erasure_and_picture_carriers"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `contact` is created from its entity by m0001, so a new database
        // has the column already; an older one gets it here.
        if !manager.has_column("contact", "picture_carrier").await? {
            let mut column =
                ColumnDef::new(contact::Column::PictureCarrier).boolean().not_null().default(false).to_owned();
            manager.alter_table(Table::alter().table(contact::Entity).add_column(&mut column).to_owned()).await?;
        }
        let schema = Schema::new(manager.get_database_backend());
        manager.create_table(schema.create_table_from_entity(contact_erasure::Entity)).await?;
        // A repeated EraseContact reads every row its first call wrote.
        manager
            .create_index(
                Index::create()
                    .name("contact_erasure_by_erasure")
                    .table(contact_erasure::Entity)
                    .col(contact_erasure::Column::Tenant)
                    .col(contact_erasure::Column::ErasureId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
