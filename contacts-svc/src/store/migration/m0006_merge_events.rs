//! Merges that can be undone: `contact_merge_event` replaces `contact_merge`
//! (whose one row per duplicate forbade merging a contact again after an
//! unmerge), and every existing merge is copied into it as generation 1.
//!
//! What an old merge did not record: the duplicate's revision is exact (a
//! merged-away contact never got another revision, so its latest is the one
//! merged); the `take_from_duplicate` names were never stored, so they stay
//! NULL and a replay infers them from the primary's revisions before and
//! after the merge (`domain::inferred_take`), which gives the same fields
//! as the names the caller sent.

use sea_orm::{ConnectionTrait, Schema};
use sea_orm_migration::prelude::*;

use crate::store::entities::contact_merge_event;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_merge_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases: a process that dies halfway
    /// leaves neither the table nor half its copy behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager.create_table(schema.create_table_from_entity(contact_merge_event::Entity)).await?;
        // UnmergeContacts replays a primary's merges and walks the merges
        // into a duplicate's subtree: both look events up by primary.
        manager
            .create_index(
                Index::create()
                    .name("contact_merge_event_primary")
                    .table(contact_merge_event::Entity)
                    .col(contact_merge_event::Column::Tenant)
                    .col(contact_merge_event::Column::PrimaryId)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO contact_merge_event \
                   (tenant, duplicate_id, generation, kind, primary_id, primary_revision, duplicate_revision, \
                    take_from_duplicate, time_us) \
                 SELECT m.tenant, m.duplicate_id, 1, 'merge', m.primary_id, m.primary_revision, \
                   (SELECT MAX(r.revision) FROM contact_revision r \
                    WHERE r.tenant = m.tenant AND r.contact_id = m.duplicate_id), \
                   NULL, m.merge_time_us \
                 FROM contact_merge m",
            )
            .await?;
        Ok(())
    }
}
