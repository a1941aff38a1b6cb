//! Merge groups: resolving any contact id to its survivor in one lookup.
//!
//! Resolution reads one row per id, however many merges stand behind it.
//! Every contact that took part in a merge belongs to a *merge group*; the
//! group has one survivor (the contact not merged away). Both facts are
//! append-only rows whose newest `generation` is current:
//!
//! - `merge_group_member(contact -> group)`: where a contact belongs;
//! - `merge_group(group -> survivor, size)`: who the group's survivor is.
//!
//! Merging duplicate D into primary P unites their groups: the members of the
//! *smaller* group get a new membership row pointing at the larger group,
//! and the larger group gets a new row naming P as its survivor. Re-pointing
//! only the smaller side ("union by size") bounds the rows a contact can
//! ever get to log2(group size), so a chain of n merges (A into B, B into C,
//! ...) writes O(n) rows in all, where re-pointing every alias of the
//! duplicate would write O(n^2).
//!
//! Unmerging D from P splits their group in two: D's subtree (D and every
//! contact whose standing merges lead to D) and the rest. The side holding
//! the contact the group is named after keeps the group (a new row with its
//! survivor and size); the other side's members get membership rows
//! pointing at a group named after one of them (D, or P), which no contact
//! outside that side points at: a group's name is always one of its current
//! members. This re-points one side whatever its size, so a contact's rows
//! are no longer bounded by log2(group size) once unmerges happen: one row
//! more per unmerge it is on the moved side of.
//!
//! All of it happens inside the merge (or unmerge) transaction, after both contacts'
//! rows are locked (PostgreSQL `FOR UPDATE`; SQLite has one writer): only
//! merges involving a group's survivor change that group, and the survivor
//! is what they lock.

use std::collections::{HashMap, HashSet};

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Value,
};

use super::{
    entities::{merge_group, merge_group_member},
    statement,
};
use crate::{domain::ContactId, error::Error};

/// A contact's current merge group.
struct Group {
    id: String,
    /// Generation of the group's newest row; 0 for a contact never merged.
    generation: i64,
    size: i64,
}

async fn group_of(txn: &DatabaseTransaction, tenant: &TenantId, contact_id: &ContactId) -> Result<Group, Error> {
    let membership = merge_group_member::Entity::find()
        .filter(merge_group_member::Column::Tenant.eq(tenant.as_str()))
        .filter(merge_group_member::Column::ContactId.eq(contact_id.as_str()))
        .order_by_desc(merge_group_member::Column::Generation)
        .one(txn)
        .await?;
    let Some(membership) = membership else {
        return Ok(Group { id: contact_id.to_string(), generation: 0, size: 1 });
    };
    let group = merge_group::Entity::find()
        .filter(merge_group::Column::Tenant.eq(tenant.as_str()))
        .filter(merge_group::Column::GroupId.eq(&membership.group_id))
        .order_by_desc(merge_group::Column::Generation)
        .one(txn)
        .await?
        .ok_or_else(|| Error::Internal(format!("merge group {} has no row", membership.group_id)))?;
    Ok(Group { id: group.group_id, generation: group.generation, size: group.size })
}

/// Current members of `group` with the generation of their membership.
async fn members_of(txn: &DatabaseTransaction, tenant: &TenantId, group: &Group) -> Result<Vec<(String, i64)>, Error> {
    if group.generation == 0 {
        return Ok(vec![(group.id.clone(), 0)]);
    }
    let sql = "SELECT m.contact_id, m.generation FROM merge_group_member m \
               WHERE m.tenant = ? AND m.group_id = ? AND m.generation = \
               (SELECT MAX(m2.generation) FROM merge_group_member m2 \
                WHERE m2.tenant = m.tenant AND m2.contact_id = m.contact_id)";
    let rows = txn
        .query_all_raw(statement(
            txn.get_database_backend(),
            sql,
            vec![tenant.as_str().into(), group.id.clone().into()],
        ))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get_by_index::<String>(0)?, row.try_get_by_index::<i64>(1)?)))
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(Error::from)
}

/// Every current member of `contact_id`'s merge group, `contact_id`
/// included: the contact's survivor and every contact whose merges lead to it.
pub(super) async fn group_members(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    contact_id: &ContactId,
) -> Result<Vec<ContactId>, Error> {
    let group = group_of(txn, tenant, contact_id).await?;
    let members = members_of(txn, tenant, &group).await?;
    Ok(members.into_iter().map(|(id, _)| ContactId::from_trusted(id)).collect())
}

/// Makes `primary` the survivor of the union of both contacts' groups.
pub(super) async fn unite_groups(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    primary: &ContactId,
    duplicate: &ContactId,
) -> Result<(), Error> {
    let primary_group = group_of(txn, tenant, primary).await?;
    let duplicate_group = group_of(txn, tenant, duplicate).await?;
    let (larger, smaller) = if duplicate_group.size > primary_group.size {
        (duplicate_group, primary_group)
    } else {
        (primary_group, duplicate_group)
    };
    let mut repointed = members_of(txn, tenant, &smaller).await?;
    if larger.generation == 0 {
        // A contact never merged before founds its group now.
        repointed.push((larger.id.clone(), 0));
    }
    for chunk in repointed.chunks(1_000) {
        let rows = chunk.iter().map(|(contact_id, generation)| merge_group_member::ActiveModel {
            tenant: Set(tenant.to_string()),
            contact_id: Set(contact_id.clone()),
            generation: Set(generation + 1),
            group_id: Set(larger.id.clone()),
        });
        merge_group_member::Entity::insert_many(rows).exec(txn).await?;
    }
    let group = merge_group::ActiveModel {
        tenant: Set(tenant.to_string()),
        group_id: Set(larger.id.clone()),
        generation: Set(larger.generation + 1),
        survivor_id: Set(primary.to_string()),
        size: Set(larger.size + smaller.size),
    };
    merge_group::Entity::insert(group).exec(txn).await?;
    Ok(())
}

/// Splits `duplicate`'s `subtree` (the duplicate included) out of the group
/// it shares with `primary`: the subtree resolves to `duplicate` again, the
/// rest to `primary`.
pub(super) async fn split_group(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    primary: &ContactId,
    duplicate: &ContactId,
    subtree: &HashSet<String>,
) -> Result<(), Error> {
    let group = group_of(txn, tenant, primary).await?;
    let (moved, kept): (Vec<_>, Vec<_>) = members_of(txn, tenant, &group)
        .await?
        .into_iter()
        .partition(|(member, _)| subtree.contains(member) != subtree.contains(&group.id));
    let (kept_survivor, moved_survivor) =
        if subtree.contains(&group.id) { (duplicate, primary) } else { (primary, duplicate) };
    let moved_group = merge_group::Entity::find()
        .filter(merge_group::Column::Tenant.eq(tenant.as_str()))
        .filter(merge_group::Column::GroupId.eq(moved_survivor.as_str()))
        .order_by_desc(merge_group::Column::Generation)
        .one(txn)
        .await?;
    for chunk in moved.chunks(1_000) {
        let rows = chunk.iter().map(|(contact_id, generation)| merge_group_member::ActiveModel {
            tenant: Set(tenant.to_string()),
            contact_id: Set(contact_id.clone()),
            generation: Set(generation + 1),
            group_id: Set(moved_survivor.to_string()),
        });
        merge_group_member::Entity::insert_many(rows).exec(txn).await?;
    }
    let groups = [
        merge_group::ActiveModel {
            tenant: Set(tenant.to_string()),
            group_id: Set(group.id.clone()),
            generation: Set(group.generation + 1),
            survivor_id: Set(kept_survivor.to_string()),
            size: Set(kept.len() as i64),
        },
        merge_group::ActiveModel {
            tenant: Set(tenant.to_string()),
            group_id: Set(moved_survivor.to_string()),
            generation: Set(moved_group.map_or(0, |row| row.generation) + 1),
            survivor_id: Set(moved_survivor.to_string()),
            size: Set(moved.len() as i64),
        },
    ];
    merge_group::Entity::insert_many(groups).exec(txn).await?;
    Ok(())
}

/// The survivor of each existing id among `ids` (an id never merged away is
/// its own survivor); unknown ids are absent. One query, whatever the chain.
pub(super) async fn resolve_in(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    ids: &[ContactId],
) -> Result<HashMap<ContactId, ContactId>, Error> {
    let unique: Vec<String> = ids.iter().map(ToString::to_string).collect::<HashSet<_>>().into_iter().collect();
    if unique.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = vec!["?"; unique.len()].join(", ");
    let sql = format!(
        "SELECT c.id, g.survivor_id FROM contact c \
         LEFT JOIN merge_group_member m ON m.tenant = c.tenant AND m.contact_id = c.id AND m.generation = \
           (SELECT MAX(m2.generation) FROM merge_group_member m2 WHERE m2.tenant = c.tenant AND m2.contact_id = c.id) \
         LEFT JOIN merge_group g ON g.tenant = c.tenant AND g.group_id = m.group_id AND g.generation = \
           (SELECT MAX(g2.generation) FROM merge_group g2 WHERE g2.tenant = c.tenant AND g2.group_id = m.group_id) \
         WHERE c.tenant = ? AND c.id IN ({placeholders})"
    );
    let mut values: Vec<Value> = vec![tenant.as_str().into()];
    values.extend(unique.into_iter().map(Value::from));
    let rows = db.query_all_raw(statement(db.get_database_backend(), &sql, values)).await?;
    let mut survivors = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get_by_index(0)?;
        let survivor: Option<String> = row.try_get_by_index(1)?;
        let survivor = survivor.unwrap_or_else(|| id.clone());
        survivors.insert(ContactId::from_trusted(id), ContactId::from_trusted(survivor));
    }
    Ok(survivors)
}
