//! An erased person's values in other contacts' history, part of the
//! erasure transaction (`store::erasure`). A member of the erased group that
//! was once merged into a contact outside the group, and unmerged from it
//! again, left that contact revisions written in between that carry the
//! member's values; so does any contact that was merged into that one and
//! unmerged while it carried them, and so on. Those revisions ("borrowed")
//! stay, as the other contacts' history, with the person's values taken out
//! (`domain::ErasedValues`), their duplicate keys rewritten, and the other
//! contact's claim on the person's picture released when it no longer wears it.
//!
//! The other contacts are not locked: the borrowed revisions are history that
//! nothing else writes, and a merge into them writes only new revisions.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use accommador_proto::tenant::TenantId;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use super::{
    IDS_PER_STATEMENT,
    contacts::latest_in,
    entities::{claim_outbox, contact_match_key, contact_merge_event, contact_revision},
    listing,
    merge_events::{MERGE, MergeEvent, UNMERGE},
    outbox::release_row,
    rows,
};
use crate::{
    domain::{ContactId, ErasedValues},
    error::Error,
};

/// Revisions `from..until` of `contact` were written while it carried an
/// erased person's values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Borrowed {
    contact: String,
    from: i64,
    until: i64,
}

/// Takes the values of `members` out of every borrowed revision and queues
/// the releases it owes; returns how many releases.
pub(super) async fn scrub_borrowed(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    members: &[ContactId],
    now_us: i64,
) -> Result<usize, Error> {
    let borrowed = borrowed_revisions(txn, tenant, members).await?;
    if borrowed.is_empty() {
        return Ok(0);
    }
    let mut group_revisions = Vec::new();
    for chunk in members.chunks(IDS_PER_STATEMENT) {
        let rows = contact_revision::Entity::find()
            .filter(contact_revision::Column::Tenant.eq(tenant.as_str()))
            .filter(contact_revision::Column::ContactId.is_in(chunk.iter().map(ToString::to_string)))
            .all(txn)
            .await?;
        for row in rows {
            group_revisions.push(rows::contact(row)?);
        }
    }
    let erased = ErasedValues::of(&group_revisions);
    let mut worn: BTreeSet<(String, String)> = BTreeSet::new();
    for span in &borrowed {
        let rows = contact_revision::Entity::find()
            .filter(contact_revision::Column::Tenant.eq(tenant.as_str()))
            .filter(contact_revision::Column::ContactId.eq(&span.contact))
            .filter(contact_revision::Column::Revision.gte(span.from))
            .filter(contact_revision::Column::Revision.lt(span.until))
            .all(txn)
            .await?;
        for row in rows {
            let mut revision = rows::contact(row)?;
            if let Some(image_id) = revision.fields.image_id.as_ref().filter(|image| erased.is_image(image)) {
                worn.insert((span.contact.clone(), image_id.clone()));
            }
            let scrubbed = erased.scrub(&revision.fields);
            if scrubbed == revision.fields {
                continue;
            }
            revision.fields = scrubbed;
            contact_revision::Entity::update(rows::revision_row(tenant, &revision)).exec(txn).await?;
            contact_match_key::Entity::delete_many()
                .filter(contact_match_key::Column::Tenant.eq(tenant.as_str()))
                .filter(contact_match_key::Column::ContactId.eq(&span.contact))
                .filter(contact_match_key::Column::Revision.eq(revision.revision))
                .exec(txn)
                .await?;
            let keys = rows::match_key_rows(tenant, &revision);
            if !keys.is_empty() {
                contact_match_key::Entity::insert_many(keys).exec(txn).await?;
            }
        }
    }
    // A scrubbed revision may be the newest: the list shows it scrubbed.
    listing::refresh(txn, tenant, borrowed.iter().map(|span| span.contact.as_str())).await?;
    // The merge that gave the other contact the picture claimed it for that
    // contact, and the unmerge did not release it: release it now, unless
    // the contact wears that image today (the same picture as its own).
    let owners: Vec<ContactId> = worn
        .iter()
        .map(|(owner, _)| ContactId::from_trusted(owner.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let latest = latest_in(txn, tenant, &owners).await?;
    let mut releases = 0;
    for (owner, image_id) in &worn {
        let owner = ContactId::from_trusted(owner.clone());
        if latest.get(&owner).and_then(|contact| contact.fields.image_id.as_ref()) == Some(image_id) {
            continue;
        }
        claim_outbox::Entity::insert(release_row(tenant, image_id, &owner, now_us)).exec(txn).await?;
        releases += 1;
    }
    Ok(releases)
}

/// Every span of revisions outside the group written while the contact
/// carried a member's values, following merges level by level: a contact
/// merged into another while it carried them passes them on, until its
/// unmerge from that one.
async fn borrowed_revisions(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    members: &[ContactId],
) -> Result<Vec<Borrowed>, Error> {
    let group: HashSet<String> = members.iter().map(ToString::to_string).collect();
    let mut found: BTreeSet<Borrowed> = BTreeSet::new();
    // A member carries its values in every revision.
    let mut frontier: Vec<Borrowed> =
        members.iter().map(|id| Borrowed { contact: id.to_string(), from: 0, until: i64::MAX }).collect();
    while !frontier.is_empty() {
        let ids: Vec<String> =
            frontier.iter().map(|span| span.contact.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let events = events_of(txn, tenant, &ids).await?;
        let mut next = Vec::new();
        for span in &frontier {
            let Some(history) = events.get(&span.contact) else { continue };
            for (index, merge) in history.iter().enumerate() {
                let carried = (span.from..span.until).contains(&merge.duplicate_revision);
                if merge.kind != MERGE || !carried || group.contains(&merge.primary_id) {
                    continue;
                }
                // Until the unmerge that undid it; a merge that still stands
                // would have put the primary in the group.
                let until = history
                    .get(index + 1)
                    .filter(|undo| undo.kind == UNMERGE && undo.primary_id == merge.primary_id)
                    .map_or(i64::MAX, |undo| undo.primary_revision);
                let borrowed = Borrowed { contact: merge.primary_id.clone(), from: merge.primary_revision, until };
                if found.insert(borrowed.clone()) {
                    next.push(borrowed);
                }
            }
        }
        frontier = next;
    }
    Ok(found.into_iter().collect())
}

/// The merge events of each of `duplicates`, oldest first.
async fn events_of(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    duplicates: &[String],
) -> Result<BTreeMap<String, Vec<MergeEvent>>, Error> {
    let mut events: BTreeMap<String, Vec<MergeEvent>> = BTreeMap::new();
    for chunk in duplicates.chunks(IDS_PER_STATEMENT) {
        let rows = contact_merge_event::Entity::find()
            .filter(contact_merge_event::Column::Tenant.eq(tenant.as_str()))
            .filter(contact_merge_event::Column::DuplicateId.is_in(chunk.iter().cloned()))
            .order_by_asc(contact_merge_event::Column::DuplicateId)
            .order_by_asc(contact_merge_event::Column::Generation)
            .all(txn)
            .await?;
        for row in rows {
            events.entry(row.duplicate_id.clone()).or_default().push(row);
        }
    }
    Ok(events)
}
