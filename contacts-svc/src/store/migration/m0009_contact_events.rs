//! The contact event log, its per-tenant counters (`store::events`) and the
//! NATS relay's positions.

use sea_orm::Schema;
use sea_orm_migration::prelude::*;

use crate::store::entities::{contact_event, contact_event_counter, event_relay_position};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0009_contact_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager.create_table(schema.create_table_from_entity(contact_event::Entity)).await?;
        manager.create_table(schema.create_table_from_entity(contact_event_counter::Entity)).await?;
        manager.create_table(schema.create_table_from_entity(event_relay_position::Entity)).await?;
        // Retention prunes by time across tenants.
        manager
            .create_index(
                Index::create()
                    .name("contact_event_by_time")
                    .table(contact_event::Entity)
                    .col(contact_event::Column::TimeUs)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
