//! Merge events (`contact_merge_event`): whether a contact is merged away
//! now, and which merges into a contact still stand.

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Value,
};

use super::{entities::contact_merge_event, listing, statement};
use crate::{
    domain::{ContactId, MergeField},
    error::Error,
};

pub(super) use contact_merge_event::Model as MergeEvent;

pub(super) const MERGE: &str = "merge";
pub(super) const UNMERGE: &str = "unmerge";

/// The newest event of `duplicate`: it is merged away when that is a merge.
pub(super) async fn latest_event(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    duplicate: &ContactId,
) -> Result<Option<MergeEvent>, Error> {
    Ok(contact_merge_event::Entity::find()
        .filter(contact_merge_event::Column::Tenant.eq(tenant.as_str()))
        .filter(contact_merge_event::Column::DuplicateId.eq(duplicate.as_str()))
        .order_by_desc(contact_merge_event::Column::Generation)
        .one(db)
        .await?)
}

/// Every merge into one of `primaries` that still stands (the duplicate's
/// newest event), in the order of the revisions they wrote.
pub(super) async fn standing_merges_into(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    primaries: &[String],
) -> Result<Vec<MergeEvent>, Error> {
    let mut events = Vec::new();
    for chunk in primaries.chunks(500) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT e.* FROM contact_merge_event e WHERE e.tenant = ? AND e.primary_id IN ({placeholders}) \
             AND e.kind = 'merge' AND e.generation = (SELECT MAX(e2.generation) FROM contact_merge_event e2 \
             WHERE e2.tenant = e.tenant AND e2.duplicate_id = e.duplicate_id)"
        );
        let mut values: Vec<Value> = vec![tenant.as_str().into()];
        values.extend(chunk.iter().cloned().map(Value::from));
        let found = MergeEvent::find_by_statement(statement(db.get_database_backend(), &sql, values)).all(db).await?;
        events.extend(found);
    }
    events.sort_by_key(|event| event.primary_revision);
    Ok(events)
}

/// Every merge ever made into `primary`, standing or undone.
pub(super) async fn merges_into(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    primary: &ContactId,
) -> Result<Vec<MergeEvent>, Error> {
    Ok(contact_merge_event::Entity::find()
        .filter(contact_merge_event::Column::Tenant.eq(tenant.as_str()))
        .filter(contact_merge_event::Column::PrimaryId.eq(primary.as_str()))
        .filter(contact_merge_event::Column::Kind.eq(MERGE))
        .order_by_asc(contact_merge_event::Column::PrimaryRevision)
        .all(db)
        .await?)
}

/// The event row after `previous` (the duplicate's newest event, if any).
pub(super) struct NewEvent<'a> {
    pub kind: &'static str,
    pub primary_id: &'a ContactId,
    pub primary_revision: i64,
    pub duplicate_id: &'a ContactId,
    pub duplicate_revision: i64,
    pub take_from_duplicate: Option<&'a [MergeField]>,
    pub time_us: i64,
}

pub(super) async fn insert_event(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    previous: Option<&MergeEvent>,
    event: NewEvent<'_>,
) -> Result<(), Error> {
    let take = event.take_from_duplicate.map(|fields| {
        let names: Vec<&str> = fields.iter().map(|field| field.name()).collect();
        serde_json::to_string(&names).expect("names serialize")
    });
    let row = contact_merge_event::ActiveModel {
        tenant: Set(tenant.to_string()),
        duplicate_id: Set(event.duplicate_id.to_string()),
        generation: Set(previous.map_or(0, |previous| previous.generation) + 1),
        kind: Set(event.kind.to_owned()),
        primary_id: Set(event.primary_id.to_string()),
        primary_revision: Set(event.primary_revision),
        duplicate_revision: Set(event.duplicate_revision),
        take_from_duplicate: Set(take),
        time_us: Set(event.time_us),
    };
    contact_merge_event::Entity::insert(row).exec(db).await?;
    // A merge takes the duplicate off the Smart List, an unmerge puts it back.
    listing::refresh(db, tenant, [event.duplicate_id.as_str()]).await?;
    Ok(())
}

/// The stored names of a merge; `None` for a merge recorded before they were.
pub(super) fn stored_take(event: &MergeEvent) -> Result<Option<Vec<MergeField>>, Error> {
    let Some(json) = &event.take_from_duplicate else {
        return Ok(None);
    };
    let names: Vec<String> =
        serde_json::from_str(json).map_err(|error| Error::Internal(format!("corrupt merge record: {error}")))?;
    names.iter().map(|name| MergeField::parse(name).map_err(Error::Internal)).collect::<Result<_, _>>().map(Some)
}
