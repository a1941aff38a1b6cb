//! Per-entry scheduling for the claim outbox (so one failing claim never
//! holds back the others), its dead-letter table, and the merge-group
//! tables that resolve any merged-away id in one lookup. Existing merges are
//! folded into groups here, so resolution needs no fallback to chain walks.

use std::collections::HashMap;

use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, Schema};
use sea_orm_migration::prelude::*;

use crate::store::entities::{claim_dead_letter, claim_outbox, contact_merge, merge_group, merge_group_member};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_outbox_schedule_and_merge_groups"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The first migration creates `claim_outbox` from its entity, so a
        // database created from now on has these columns already; one that
        // predates them gets them here. One column per statement: SQLite's
        // ALTER TABLE adds one at a time.
        let columns = [
            ColumnDef::new(claim_outbox::Column::NextAttemptUs).big_integer().not_null().default(0).to_owned(),
            ColumnDef::new(claim_outbox::Column::Attempts).integer().not_null().default(0).to_owned(),
            ColumnDef::new(claim_outbox::Column::LastError).text().not_null().default("").to_owned(),
        ];
        for mut column in columns {
            let name = column.get_column_name();
            if manager.has_column("claim_outbox", &name).await? {
                continue;
            }
            manager.alter_table(Table::alter().table(claim_outbox::Entity).add_column(&mut column).to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("claim_outbox_due")
                    .table(claim_outbox::Entity)
                    .col(claim_outbox::Column::NextAttemptUs)
                    .to_owned(),
            )
            .await?;

        // The reconciliation skips pictures whose claim still waits here: one
        // lookup per picture, which must not scan an outbox a flood of failing
        // claims made large.
        manager
            .create_index(
                Index::create()
                    .name("claim_outbox_owner")
                    .table(claim_outbox::Entity)
                    .col(claim_outbox::Column::Tenant)
                    .col(claim_outbox::Column::Owner)
                    .to_owned(),
            )
            .await?;

        let schema = Schema::new(manager.get_database_backend());
        manager.create_table(schema.create_table_from_entity(claim_dead_letter::Entity)).await?;
        manager.create_table(schema.create_table_from_entity(merge_group_member::Entity)).await?;
        manager.create_table(schema.create_table_from_entity(merge_group::Entity)).await?;
        // A group's members, to re-point them when the group is merged into a larger one.
        manager
            .create_index(
                Index::create()
                    .name("merge_group_member_group")
                    .table(merge_group_member::Entity)
                    .col(merge_group_member::Column::Tenant)
                    .col(merge_group_member::Column::GroupId)
                    .to_owned(),
            )
            .await?;
        backfill_groups(manager.get_connection()).await
    }
}

/// One group per survivor of the merges made before this migration, with
/// the survivor's id as the group id and every id that resolves to it.
async fn backfill_groups(db: &impl sea_orm::ConnectionTrait) -> Result<(), DbErr> {
    let merges = contact_merge::Entity::find().order_by_asc(contact_merge::Column::MergeTimeUs).all(db).await?;
    let next: HashMap<(String, String), String> =
        merges.iter().map(|m| ((m.tenant.clone(), m.duplicate_id.clone()), m.primary_id.clone())).collect();
    let mut groups: HashMap<(String, String), Vec<String>> = HashMap::new();
    for merge in &merges {
        let mut survivor = merge.primary_id.clone();
        // Chains are acyclic (a merged-away id is never merged again), so this ends.
        while let Some(primary) = next.get(&(merge.tenant.clone(), survivor.clone())) {
            survivor = primary.clone();
        }
        groups.entry((merge.tenant.clone(), survivor)).or_default().push(merge.duplicate_id.clone());
    }
    for ((tenant, survivor), mut members) in groups {
        members.push(survivor.clone());
        let group = merge_group::ActiveModel {
            tenant: Set(tenant.clone()),
            group_id: Set(survivor.clone()),
            generation: Set(1),
            survivor_id: Set(survivor.clone()),
            size: Set(members.len() as i64),
        };
        merge_group::Entity::insert(group).exec(db).await?;
        for chunk in members.chunks(1_000) {
            let rows = chunk.iter().map(|member| merge_group_member::ActiveModel {
                tenant: Set(tenant.clone()),
                contact_id: Set(member.clone()),
                generation: Set(1),
                group_id: Set(survivor.clone()),
            });
            merge_group_member::Entity::insert_many(rows).exec(db).await?;
        }
    }
    Ok(())
}
