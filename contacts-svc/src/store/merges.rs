//! Merges, and resolving any contact id to its survivor.
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
//! All of it happens inside the merge transaction, after both contacts'
//! rows are locked (PostgreSQL `FOR UPDATE`; SQLite has one writer): only
//! merges involving a group's survivor change that group, and the survivor
//! is what they lock.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, Value,
};

use super::{
    Store,
    entities::{claim_outbox, contact, contact_merge, contact_revision, merge_group, merge_group_member},
    queries::{RequestRecord, claim_row, find_request_in, insert_request_record, latest_in},
    rows, statement,
};
use crate::{
    domain::{Contact, ContactFields, MAX_LISTED_MERGED_IDS},
    error::Error,
};

pub struct MergeRequest<'a> {
    pub primary_id: &'a str,
    pub duplicate_id: &'a str,
    pub request: Option<RequestRecord>,
    pub now_us: i64,
    /// Claim deadline for a picture that moves to the primary.
    pub claim_deadline_us: i64,
}

pub enum MergeOutcome {
    Merged(Box<Contact>),
    /// A request with the same id was done (or won a race); here is what it produced.
    RequestIdTaken(RequestRecord),
    NotFound(String),
    AlreadyMerged {
        id: String,
        survivor: String,
    },
}

impl Store {
    /// Merges in one transaction: locks both contacts, checks neither was
    /// merged away, writes the primary's next revision with the fields
    /// `policy` computes, records the merge, unites the merge groups, and
    /// writes the claim of a picture that moves and the request id.
    pub async fn merge(
        &self,
        tenant: &str,
        request: MergeRequest<'_>,
        policy: impl FnOnce(&Contact, &Contact) -> ContactFields,
    ) -> Result<MergeOutcome, Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        let outcome = merge_in(&txn, tenant, &request, policy).await?;
        let MergeOutcome::Merged(merged) = &outcome else {
            txn.rollback().await?;
            return Ok(outcome);
        };
        if let Some(record) = &request.request {
            let record = RequestRecord { revision: merged.revision, ..record.clone() };
            if !insert_request_record(&txn, tenant, &record, request.now_us).await? {
                txn.rollback().await?;
                return Ok(MergeOutcome::RequestIdTaken(self.request_winner(tenant, &record.request_id).await?));
            }
        }
        txn.commit().await?;
        Ok(outcome)
    }
}

async fn merge_in(
    txn: &DatabaseTransaction,
    tenant: &str,
    request: &MergeRequest<'_>,
    policy: impl FnOnce(&Contact, &Contact) -> ContactFields,
) -> Result<MergeOutcome, Error> {
    let ids = [request.primary_id.to_owned(), request.duplicate_id.to_owned()];
    // Row locks on PostgreSQL (a no-op on SQLite, whose writers are serialized):
    // concurrent merges touching either contact wait here, in id order.
    let anchors = contact::Entity::find()
        .filter(contact::Column::Tenant.eq(tenant))
        .filter(contact::Column::Id.is_in(ids.clone()))
        .order_by_asc(contact::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await?;
    // A retry of a merge still running when it arrived waited on the locks
    // above until that merge committed: it must get that merge's result,
    // not "already merged".
    if let Some(record) = &request.request
        && let Some(done) = find_request_in(txn, tenant, &record.request_id).await?
    {
        return Ok(MergeOutcome::RequestIdTaken(done));
    }
    for id in &ids {
        if !anchors.iter().any(|anchor| &anchor.id == id) {
            return Ok(MergeOutcome::NotFound(id.clone()));
        }
    }
    let survivors = resolve_in(txn, tenant, &ids).await?;
    for id in &ids {
        if survivors.get(id) != Some(id) {
            let survivor = survivors.get(id).cloned().unwrap_or_default();
            return Ok(MergeOutcome::AlreadyMerged { id: id.clone(), survivor });
        }
    }
    let latest = latest_in(txn, tenant, &ids).await?;
    let (Some(primary), Some(duplicate)) = (latest.get(request.primary_id), latest.get(request.duplicate_id)) else {
        return Err(Error::Internal("contact without revisions".into()));
    };
    let fields = policy(primary, duplicate);
    let merged = Contact {
        id: primary.id.clone(),
        revision: primary.revision + 1,
        fields,
        create_time_us: primary.create_time_us,
        revision_create_time_us: request.now_us,
        merged_contact_ids: listed_merged_ids(primary, duplicate),
    };
    contact_revision::Entity::insert(rows::revision_row(tenant, &merged)).exec(txn).await?;
    let record = contact_merge::ActiveModel {
        tenant: Set(tenant.to_owned()),
        duplicate_id: Set(duplicate.id.to_string()),
        primary_id: Set(primary.id.to_string()),
        primary_revision: Set(merged.revision),
        merge_time_us: Set(request.now_us),
    };
    contact_merge::Entity::insert(record).exec(txn).await?;
    unite_groups(txn, tenant, primary.id.as_str(), duplicate.id.as_str()).await?;
    if let Some(image_id) = &merged.fields.image_id
        && primary.fields.image_id.as_ref() != Some(image_id)
    {
        let claim = claim_row(tenant, image_id, primary.id.as_str(), request.now_us, request.claim_deadline_us);
        claim_outbox::Entity::insert(claim).exec(txn).await?;
    }
    Ok(MergeOutcome::Merged(Box::new(merged)))
}

/// The merged ids a revision lists: the newest [`MAX_LISTED_MERGED_IDS`] of
/// the primary's, the duplicate's and the duplicate itself. Bounded so that
/// a contact merged thousands of times still fits in a response and each
/// revision stays small; `contact_merge` keeps every merge once.
fn listed_merged_ids(primary: &Contact, duplicate: &Contact) -> Vec<String> {
    let mut ids = primary.merged_contact_ids.clone();
    ids.extend(duplicate.merged_contact_ids.iter().cloned());
    ids.push(duplicate.id.to_string());
    let excess = ids.len().saturating_sub(MAX_LISTED_MERGED_IDS);
    ids.drain(..excess);
    ids
}

/// A contact's current merge group.
struct Group {
    id: String,
    /// Generation of the group's newest row; 0 for a contact never merged.
    generation: i64,
    size: i64,
}

async fn group_of(txn: &DatabaseTransaction, tenant: &str, contact_id: &str) -> Result<Group, Error> {
    let membership = merge_group_member::Entity::find()
        .filter(merge_group_member::Column::Tenant.eq(tenant))
        .filter(merge_group_member::Column::ContactId.eq(contact_id))
        .order_by_desc(merge_group_member::Column::Generation)
        .one(txn)
        .await?;
    let Some(membership) = membership else {
        return Ok(Group { id: contact_id.to_owned(), generation: 0, size: 1 });
    };
    let group = merge_group::Entity::find()
        .filter(merge_group::Column::Tenant.eq(tenant))
        .filter(merge_group::Column::GroupId.eq(&membership.group_id))
        .order_by_desc(merge_group::Column::Generation)
        .one(txn)
        .await?
        .ok_or_else(|| Error::Internal(format!("merge group {} has no row", membership.group_id)))?;
    Ok(Group { id: group.group_id, generation: group.generation, size: group.size })
}

/// Current members of `group` with the generation of their membership.
async fn members_of(txn: &DatabaseTransaction, tenant: &str, group: &Group) -> Result<Vec<(String, i64)>, Error> {
    if group.generation == 0 {
        return Ok(vec![(group.id.clone(), 0)]);
    }
    let sql = "SELECT m.contact_id, m.generation FROM merge_group_member m \
               WHERE m.tenant = ? AND m.group_id = ? AND m.generation = \
               (SELECT MAX(m2.generation) FROM merge_group_member m2 \
                WHERE m2.tenant = m.tenant AND m2.contact_id = m.contact_id)";
    let rows = txn
        .query_all_raw(statement(txn.get_database_backend(), sql, vec![tenant.into(), group.id.clone().into()]))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get_by_index::<String>(0)?, row.try_get_by_index::<i64>(1)?)))
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(Error::from)
}

/// Makes `primary` the survivor of the union of both contacts' groups.
async fn unite_groups(txn: &DatabaseTransaction, tenant: &str, primary: &str, duplicate: &str) -> Result<(), Error> {
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
            tenant: Set(tenant.to_owned()),
            contact_id: Set(contact_id.clone()),
            generation: Set(generation + 1),
            group_id: Set(larger.id.clone()),
        });
        merge_group_member::Entity::insert_many(rows).exec(txn).await?;
    }
    let group = merge_group::ActiveModel {
        tenant: Set(tenant.to_owned()),
        group_id: Set(larger.id.clone()),
        generation: Set(larger.generation + 1),
        survivor_id: Set(primary.to_owned()),
        size: Set(larger.size + smaller.size),
    };
    merge_group::Entity::insert(group).exec(txn).await?;
    Ok(())
}

/// The survivor of each existing id among `ids` (an id never merged away is
/// its own survivor); unknown ids are absent. One query, whatever the chain.
pub(super) async fn resolve_in(
    db: &impl ConnectionTrait,
    tenant: &str,
    ids: &[String],
) -> Result<HashMap<String, String>, Error> {
    let unique: Vec<String> = ids.iter().cloned().collect::<HashSet<_>>().into_iter().collect();
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
    let mut values: Vec<Value> = vec![tenant.into()];
    values.extend(unique.into_iter().map(Value::from));
    let rows = db.query_all_raw(statement(db.get_database_backend(), &sql, values)).await?;
    let mut survivors = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get_by_index(0)?;
        let survivor: Option<String> = row.try_get_by_index(1)?;
        survivors.insert(id.clone(), survivor.unwrap_or(id));
    }
    Ok(survivors)
}
