//! The unmerge transaction. With both contacts locked (PostgreSQL `FOR
//! UPDATE`, in id order, like a merge; SQLite's one writer), in one
//! transaction, so a crash leaves nothing or all of it:
//!
//! 1. a retried request gets what its first copy made;
//! 2. the duplicate's newest merge event must be a merge into the primary,
//!    the primary must not be merged away itself, and the duplicate must
//!    not be the intermediate contact of a ReplaceProfilePicture (unmerging
//!    it would make a copy of the contact wearing the picture live);
//! 3. the primary's next revision replays, from its revision before its
//!    first merge, every merge into it that still stands but the undone one,
//!    each with the duplicate's revision and fields it recorded;
//! 4. the duplicate's next revision is its last one again;
//! 5. an `unmerge` event, the merge group split (the duplicate's subtree
//!    resolves to it again), the claims of the pictures each now wears,
//!    and the request record.
//!
//! The replay reads the base revision and the merged duplicates' revisions
//! only: today every other revision of a primary after its first merge was
//! written by a merge or an unmerge (one that restored it repeats its last
//! fields). A picture takedown (RemoveProfilePicture) is the one other
//! write: a replayed picture the primary had taken down stays down (see
//! [`taken_down`]), or undoing an earlier merge would undo the takedown.

use std::collections::{HashMap, HashSet};

use accommador_proto::tenant::TenantId;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait};

use super::{
    RequestRecord, Store,
    contacts::{insert_revisions, latest_in},
    entities::{claim_outbox, contact_revision},
    events::append_events,
    merge_events::standing_merges_into,
    merge_events::{MERGE, MergeEvent, NewEvent, UNMERGE, insert_event, latest_event, merges_into, stored_take},
    merge_groups::{resolve_in, split_group},
    merges::lock_contacts,
    outbox::{claim_row, release_row},
    requests::{find_request_in, insert_request_record},
    rolled_back, rows,
};
use crate::{
    domain::{self, Contact, ContactEvent, ContactId, ReplayedMerge},
    error::Error,
};

pub struct UnmergeRequest<'a> {
    pub primary_id: &'a ContactId,
    pub duplicate_id: &'a ContactId,
    pub request: Option<RequestRecord>,
    pub now_us: i64,
}

pub enum UnmergeOutcome {
    /// The primary's and the duplicate's new revisions.
    Unmerged {
        primary: Box<Contact>,
        duplicate: Box<Contact>,
    },
    RequestIdTaken(RequestRecord),
    NotFound(ContactId),
    /// The duplicate is not merged into the primary now: never was, was
    /// unmerged already, or is merged elsewhere (`merged_into`).
    NotMergedInto {
        merged_into: Option<ContactId>,
    },
    /// The primary was merged away since; `survivor` answers for it.
    PrimaryMerged {
        survivor: ContactId,
    },
    /// The duplicate is the intermediate contact of a ReplaceProfilePicture:
    /// it was never live, so there is nothing to bring back. `carried_into`
    /// is the contact it carried the picture into.
    PictureCarrier {
        carried_into: ContactId,
    },
}

impl Store {
    /// Undoes the merge of `duplicate_id` into `primary_id` in one transaction.
    pub async fn unmerge(&self, tenant: &TenantId, request: UnmergeRequest<'_>) -> Result<UnmergeOutcome, Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        let outcome = match unmerge_in(&txn, tenant, &request).await {
            Ok(outcome) => outcome,
            Err(error) => return Err(rolled_back(txn, error).await),
        };
        let UnmergeOutcome::Unmerged { primary, .. } = &outcome else {
            txn.rollback().await?;
            return Ok(outcome);
        };
        if let Some(record) = &request.request {
            let record = RequestRecord { revision: primary.revision, ..record.clone() };
            if !insert_request_record(&txn, tenant, &record, request.now_us).await? {
                txn.rollback().await?;
                return Ok(UnmergeOutcome::RequestIdTaken(self.request_winner(tenant, &record.request_id).await?));
            }
        }
        txn.commit().await?;
        Ok(outcome)
    }

    /// What the unmerge that wrote `revision` of `primary` made: both
    /// revisions, to answer a retried request.
    pub async fn unmerge_result(
        &self,
        tenant: &TenantId,
        primary: &ContactId,
        revision: i64,
    ) -> Result<Option<(Contact, Contact)>, Error> {
        let event = super::entities::contact_merge_event::Entity::find()
            .filter(super::entities::contact_merge_event::Column::Tenant.eq(tenant.as_str()))
            .filter(super::entities::contact_merge_event::Column::PrimaryId.eq(primary.as_str()))
            .filter(super::entities::contact_merge_event::Column::PrimaryRevision.eq(revision))
            .filter(super::entities::contact_merge_event::Column::Kind.eq(UNMERGE))
            .one(&self.db)
            .await?;
        let Some(event) = event else { return Ok(None) };
        let duplicate = ContactId::from_trusted(event.duplicate_id);
        let primary = self.revision(tenant, primary, revision).await?;
        let duplicate = self.revision(tenant, &duplicate, event.duplicate_revision).await?;
        Ok(primary.zip(duplicate))
    }
}

async fn unmerge_in(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    request: &UnmergeRequest<'_>,
) -> Result<UnmergeOutcome, Error> {
    let (primary_id, duplicate_id) = (request.primary_id, request.duplicate_id);
    let ids = [primary_id.clone(), duplicate_id.clone()];
    let anchors = lock_contacts(txn, tenant, &ids).await?;
    // As in a merge: a retry that waited on the locks gets the first copy's result.
    if let Some(record) = &request.request
        && let Some(done) = find_request_in(txn, tenant, &record.request_id).await?
    {
        return Ok(UnmergeOutcome::RequestIdTaken(done));
    }
    for id in &ids {
        if !anchors.iter().any(|anchor| anchor.id == id.as_str()) {
            return Ok(UnmergeOutcome::NotFound(id.clone()));
        }
    }
    let newest = latest_event(txn, tenant, duplicate_id).await?;
    if anchors.iter().any(|anchor| anchor.id == duplicate_id.as_str() && anchor.picture_carrier) {
        let carried_into = newest.map_or_else(|| primary_id.clone(), |event| ContactId::from_trusted(event.primary_id));
        return Ok(UnmergeOutcome::PictureCarrier { carried_into });
    }
    let merge = match newest {
        Some(event) if event.kind == MERGE && event.primary_id == primary_id.as_str() => event,
        Some(event) if event.kind == MERGE => {
            return Ok(UnmergeOutcome::NotMergedInto { merged_into: Some(ContactId::from_trusted(event.primary_id)) });
        }
        _ => return Ok(UnmergeOutcome::NotMergedInto { merged_into: None }),
    };
    let survivors = resolve_in(txn, tenant, std::slice::from_ref(primary_id)).await?;
    if let Some(survivor) = survivors.get(primary_id).filter(|survivor| *survivor != primary_id) {
        return Ok(UnmergeOutcome::PrimaryMerged { survivor: survivor.clone() });
    }

    let latest = latest_in(txn, tenant, &ids).await?;
    let (Some(primary_latest), Some(duplicate_last)) = (latest.get(primary_id), latest.get(duplicate_id)) else {
        return Err(Error::Internal("contact without revisions".into()));
    };
    let (mut primary, base_image) = replay_without(txn, tenant, primary_latest, &merge, request.now_us).await?;
    if let Some(image_id) = &primary.fields.image_id
        && taken_down(txn, tenant, primary_id, image_id, 0).await?
    {
        primary.fields.image_id = None;
    }
    let mut duplicate = domain::restored_revision(duplicate_last, request.now_us);
    // A picture the primary wore from the duplicate and a moderator took
    // down there stays down on the duplicate too: it was that picture.
    if let Some(image_id) = duplicate.fields.image_id.clone()
        && taken_down(txn, tenant, primary_id, &image_id, merge.time_us).await?
    {
        duplicate.fields.image_id = None;
        claim_outbox::Entity::insert(release_row(tenant, &image_id, duplicate_id, request.now_us)).exec(txn).await?;
    }
    insert_revisions(txn, tenant, &[primary.clone(), duplicate.clone()]).await?;
    let event = NewEvent {
        kind: UNMERGE,
        primary_id,
        primary_revision: primary.revision,
        duplicate_id,
        duplicate_revision: duplicate.revision,
        take_from_duplicate: None,
        time_us: request.now_us,
    };
    insert_event(txn, tenant, Some(&merge), event).await?;
    let subtree = subtree_of(txn, tenant, duplicate_id).await?;
    split_group(txn, tenant, primary_id, duplicate_id, &subtree).await?;
    // media-svc holds the claim made when the duplicate got its picture
    // (a merge does not release it); claiming again is a no-op there and
    // repairs the claim if it was lost. An image media-svc no longer has
    // ends in the dead-letter table and the reconciliation's report.
    if let Some(image_id) = &duplicate.fields.image_id {
        let claim = claim_row(tenant, image_id, duplicate_id, request.now_us, i64::MAX);
        claim_outbox::Entity::insert(claim).exec(txn).await?;
    }
    // The replay can give the primary a picture it did not wear before (one
    // a later merge brought but did not take while the undone merge's
    // picture won): claimed for the primary, as a merge would.
    if let Some(image_id) = &primary.fields.image_id
        && primary_latest.fields.image_id.as_ref() != Some(image_id)
    {
        let claim = claim_row(tenant, image_id, primary_id, request.now_us, i64::MAX);
        claim_outbox::Entity::insert(claim).exec(txn).await?;
    }
    // The picture the primary wore until now and no longer does came with a
    // merge, whose duplicate holds a claim of its own: the primary's claim
    // goes, or nobody wearing it would keep it stored. Not its own picture
    // from before its first merge: undoing another merge can bring that
    // back, and then the primary's claim is the only one.
    if let Some(worn) = &primary_latest.fields.image_id
        && primary.fields.image_id.as_ref() != Some(worn)
        && base_image.as_ref() != Some(worn)
    {
        claim_outbox::Entity::insert(release_row(tenant, worn, primary_id, request.now_us)).exec(txn).await?;
    }
    let mut events = vec![ContactEvent::ContactUnmerged {
        primary_id: primary_id.to_string(),
        duplicate_id: duplicate_id.to_string(),
        primary_revision: primary.revision,
        duplicate_revision: duplicate.revision,
    }];
    if primary.fields.image_id != primary_latest.fields.image_id {
        events.push(ContactEvent::ProfilePictureChanged {
            contact_id: primary_id.to_string(),
            revision: primary.revision,
            image_id: primary.fields.image_id.clone(),
        });
    }
    append_events(txn, tenant, &events, request.now_us).await?;
    Ok(UnmergeOutcome::Unmerged { primary: Box::new(primary), duplicate: Box::new(duplicate) })
}

/// The primary's next revision: its merges that still stand, but `undone`,
/// replayed from its revision before its first merge; and the picture of
/// that revision.
async fn replay_without(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    latest: &Contact,
    undone: &MergeEvent,
    now_us: i64,
) -> Result<(Contact, Option<String>), Error> {
    let every_merge = merges_into(txn, tenant, &latest.id).await?;
    let first = every_merge.first().map_or(undone.primary_revision, |merge| merge.primary_revision);
    let standing: Vec<MergeEvent> = standing_merges_into(txn, tenant, &[latest.id.to_string()])
        .await?
        .into_iter()
        .filter(|merge| merge.duplicate_id != undone.duplicate_id)
        .collect();
    let history = revisions_from(txn, tenant, &latest.id, first - 1).await?;
    let base = history.get(&(first - 1)).ok_or_else(|| Error::Internal("primary revision missing".into()))?;
    let mut replayed = Vec::with_capacity(standing.len());
    for merge in &standing {
        let duplicate_id = ContactId::from_trusted(merge.duplicate_id.clone());
        let key = (tenant.to_string(), merge.duplicate_id.clone(), merge.duplicate_revision);
        let duplicate = contact_revision::Entity::find_by_id(key)
            .one(txn)
            .await?
            .map(rows::contact)
            .transpose()?
            .ok_or_else(|| Error::Internal(format!("merged revision of {duplicate_id} missing")))?;
        let take_from_duplicate = match stored_take(merge)? {
            Some(take) => take,
            None => {
                let (before, after) =
                    (history.get(&(merge.primary_revision - 1)), history.get(&merge.primary_revision));
                let (Some(before), Some(after)) = (before, after) else {
                    return Err(Error::Internal("revisions around a merge missing".into()));
                };
                domain::inferred_take(before, &duplicate, after)
            }
        };
        replayed.push(ReplayedMerge { duplicate, take_from_duplicate });
    }
    Ok((domain::replayed_revision(base, &replayed, latest, now_us), base.fields.image_id.clone()))
}

/// Whether `image_id` was taken down from `id` at `since_us` or later. A
/// duplicate's own takedown needs no check: it wrote the revision without
/// the picture that its merge recorded and that restoring it repeats.
async fn taken_down(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    id: &ContactId,
    image_id: &str,
    since_us: i64,
) -> Result<bool, Error> {
    use super::entities::contact_moderation::{Column, Entity};
    let found = Entity::find()
        .filter(Column::Tenant.eq(tenant.as_str()))
        .filter(Column::ContactId.eq(id.as_str()))
        .filter(Column::ImageId.eq(image_id))
        .filter(Column::Action.eq(super::takedown::REMOVE_PICTURE))
        .filter(Column::TimeUs.gte(since_us))
        .one(txn)
        .await?;
    Ok(found.is_some())
}

/// `id`'s revisions from `from` on, by revision number.
async fn revisions_from(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    id: &ContactId,
    from: i64,
) -> Result<HashMap<i64, Contact>, Error> {
    let rows = contact_revision::Entity::find()
        .filter(contact_revision::Column::Tenant.eq(tenant.as_str()))
        .filter(contact_revision::Column::ContactId.eq(id.as_str()))
        .filter(contact_revision::Column::Revision.gte(from))
        .all(txn)
        .await?;
    rows.into_iter().map(|row| rows::contact(row).map(|contact| (contact.revision, contact))).collect()
}

/// `duplicate` and every contact whose standing merges lead to it: one
/// query per level of the tree.
async fn subtree_of(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    duplicate: &ContactId,
) -> Result<HashSet<String>, Error> {
    let mut subtree = HashSet::from([duplicate.to_string()]);
    let mut frontier = vec![duplicate.to_string()];
    while !frontier.is_empty() {
        let merges = standing_merges_into(txn, tenant, &frontier).await?;
        frontier = merges.into_iter().map(|merge| merge.duplicate_id).filter(|id| subtree.insert(id.clone())).collect();
    }
    Ok(subtree)
}
