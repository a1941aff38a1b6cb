//! The merge transaction: lock both contacts, check neither was merged
//! away, write the revision the domain decided, record the merge, unite the
//! merge groups (see [`super::merge_groups`]), and queue the claim of a
//! picture that moves to the primary.

use accommador_proto::tenant::TenantId;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use super::{
    RequestRecord, Store,
    contacts::{erased_among, insert_revisions, latest_in},
    entities::{claim_outbox, contact},
    events::append_events,
    merge_events::{MERGE, NewEvent, insert_event, latest_event},
    merge_groups::{resolve_in, unite_groups},
    outbox::claim_row,
    requests::{find_request_in, insert_request_record},
    rolled_back,
};
use crate::{
    domain::{Contact, ContactEvent, ContactId, MergeField},
    error::Error,
};

pub struct MergeRequest<'a> {
    pub primary_id: &'a ContactId,
    pub duplicate_id: &'a ContactId,
    /// Recorded with the merge, so that undoing an earlier merge can replay this one.
    pub take_from_duplicate: &'a [MergeField],
    pub request: Option<RequestRecord>,
    /// When the merge happens: the time of the merge record and of the
    /// request record.
    pub now_us: i64,
    /// Claim deadline for a picture that moves to the primary.
    pub claim_deadline_us: i64,
}

pub enum MergeOutcome {
    Merged(Box<Contact>),
    /// A request with the same id was done (or won a race); here is what it produced.
    RequestIdTaken(RequestRecord),
    NotFound(ContactId),
    AlreadyMerged {
        id: ContactId,
        survivor: ContactId,
    },
}

impl Store {
    /// Merges in one transaction: locks both contacts, checks neither was
    /// merged away, writes the primary's next revision exactly as `decide`
    /// returns it from the latest revisions of (primary, duplicate), records
    /// the merge, unites the merge groups, and writes the claim of a
    /// picture that moves and the request id.
    pub async fn merge(
        &self,
        tenant: &TenantId,
        request: MergeRequest<'_>,
        decide: impl FnOnce(&Contact, &Contact) -> Contact,
    ) -> Result<MergeOutcome, Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        let outcome = match merge_in(&txn, tenant, &request, decide, Announce::Merge).await {
            Ok(outcome) => outcome,
            Err(error) => return Err(rolled_back(txn, error).await),
        };
        self.finish_merge(txn, tenant, &request, outcome).await
    }

    /// Ends a merge transaction: commits a merge with its request record,
    /// rolls back anything else (and a merge whose request id another
    /// request took meanwhile).
    pub(super) async fn finish_merge(
        &self,
        txn: DatabaseTransaction,
        tenant: &TenantId,
        request: &MergeRequest<'_>,
        outcome: MergeOutcome,
    ) -> Result<MergeOutcome, Error> {
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

/// Locks the `contact` rows of `ids` that exist, and returns those not
/// erased: a write treats an erased contact as absent.
///
/// Row locks on PostgreSQL (a no-op on SQLite, whose writers are serialized):
/// concurrent merges touching any of them wait here, in id order.
pub(super) async fn lock_contacts(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    ids: &[ContactId],
) -> Result<Vec<contact::Model>, Error> {
    let mut anchors = lock_anchors(txn, tenant, ids).await?;
    // Read after the locks, in its own statement: an erasure that held them
    // has committed, and this statement sees it (READ COMMITTED).
    let erased = erased_among(txn, tenant, ids).await?;
    anchors.retain(|anchor| !erased.contains_key(anchor.id.as_str()));
    Ok(anchors)
}

/// Locks the `contact` rows of `ids` that exist, erased or not, in id order.
pub(super) async fn lock_anchors(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    ids: &[ContactId],
) -> Result<Vec<contact::Model>, Error> {
    Ok(contact::Entity::find()
        .filter(contact::Column::Tenant.eq(tenant.as_str()))
        .filter(contact::Column::Id.is_in(ids.iter().map(ToString::to_string)))
        .order_by_asc(contact::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await?)
}

/// What a merge announces in the event log besides a picture change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Announce {
    /// The merge itself (MergeContacts).
    Merge,
    /// Only the picture change (ReplaceProfilePicture: the contact that
    /// carried the picture was never live, nobody has heard of it).
    PictureOnly,
}

pub(super) async fn merge_in(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    request: &MergeRequest<'_>,
    decide: impl FnOnce(&Contact, &Contact) -> Contact,
    announce: Announce,
) -> Result<MergeOutcome, Error> {
    let ids = [request.primary_id.clone(), request.duplicate_id.clone()];
    let anchors = lock_contacts(txn, tenant, &ids).await?;
    // A retry of a merge still running when it arrived waited on the locks
    // above until that merge committed: it must get that merge's result,
    // not "already merged".
    if let Some(record) = &request.request
        && let Some(done) = find_request_in(txn, tenant, &record.request_id).await?
    {
        return Ok(MergeOutcome::RequestIdTaken(done));
    }
    for id in &ids {
        if !anchors.iter().any(|anchor| anchor.id == id.as_str()) {
            return Ok(MergeOutcome::NotFound(id.clone()));
        }
    }
    let survivors = resolve_in(txn, tenant, &ids).await?;
    for id in &ids {
        if survivors.get(id) != Some(id) {
            let survivor = survivors.get(id).cloned().unwrap_or_else(|| ContactId::from_trusted(String::new()));
            return Ok(MergeOutcome::AlreadyMerged { id: id.clone(), survivor });
        }
    }
    let latest = latest_in(txn, tenant, &ids).await?;
    let (Some(primary), Some(duplicate)) = (latest.get(request.primary_id), latest.get(request.duplicate_id)) else {
        return Err(Error::Internal("contact without revisions".into()));
    };
    let merged = decide(primary, duplicate);
    if merged.id != primary.id || merged.revision != primary.revision + 1 {
        return Err(Error::Internal(format!(
            "a merge must write revision {} of {}, not revision {} of {}",
            primary.revision + 1,
            primary.id,
            merged.revision,
            merged.id
        )));
    }
    insert_revisions(txn, tenant, std::slice::from_ref(&merged)).await?;
    let previous = latest_event(txn, tenant, &duplicate.id).await?;
    let event = NewEvent {
        kind: MERGE,
        primary_id: &primary.id,
        primary_revision: merged.revision,
        duplicate_id: &duplicate.id,
        duplicate_revision: duplicate.revision,
        take_from_duplicate: Some(request.take_from_duplicate),
        time_us: request.now_us,
    };
    insert_event(txn, tenant, previous.as_ref(), event).await?;
    unite_groups(txn, tenant, &primary.id, &duplicate.id).await?;
    let mut events = Vec::new();
    if announce == Announce::Merge {
        events.push(ContactEvent::ContactMerged {
            primary_id: primary.id.to_string(),
            duplicate_id: duplicate.id.to_string(),
            revision: merged.revision,
            fields_taken: request.take_from_duplicate.iter().map(|field| field.name().to_owned()).collect(),
        });
    }
    // A replacement always announces its revision, even with the same picture.
    if announce == Announce::PictureOnly || merged.fields.image_id != primary.fields.image_id {
        events.push(ContactEvent::ProfilePictureChanged {
            contact_id: primary.id.to_string(),
            revision: merged.revision,
            image_id: merged.fields.image_id.clone(),
        });
    }
    append_events(txn, tenant, &events, request.now_us).await?;
    if let Some(image_id) = &merged.fields.image_id
        && primary.fields.image_id.as_ref() != Some(image_id)
    {
        let claim = claim_row(tenant, image_id, &primary.id, request.now_us, request.claim_deadline_us);
        claim_outbox::Entity::insert(claim).exec(txn).await?;
    }
    Ok(MergeOutcome::Merged(Box::new(merged)))
}
