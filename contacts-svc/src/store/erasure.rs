//! The EraseContact transaction: a person's values leave every table, in
//! ONE transaction, so a crash leaves the person whole or erased.
//!
//! Why redaction in place rather than crypto-shredding: the values are
//! searched in the clear (the Smart List's substring index, the duplicate
//! match keys), so an encrypted copy would still need plaintext indexes that
//! erasure has to clear anyway; and shredding adds a key lookup to every read
//! of every contact for the sake of the rare erasure. So this is the one
//! place that changes contact data: [`redact`], audited by the
//! `contact_erasure` rows written beside it.
//!
//! 1. Lock every contact of the merge group (PostgreSQL `FOR UPDATE`, in id
//!    order, like a merge; SQLite's one writer), then read the group again:
//!    a merge that committed before the locks were taken may have added a
//!    member, which is locked in turn. Once every member is locked no merge,
//!    unmerge, replacement or takedown of the group can commit.
//! 2. A retry that waited on the locks gets the first call's result; an id
//!    erased already answers with that erasure (erasing is idempotent).
//! 3. Read which image each member ever wore, from every revision.
//! 4. Write one `contact_erasure` row per member (the ids, when, who, why).
//! 5. Redact: every revision's values emptied, the duplicate match keys
//!    deleted (an index of the values, not a record), request fingerprints
//!    (a hash of the request, values included) and takedown reasons emptied.
//! 6. Take the person's values out of other contacts' history: revisions
//!    written while a member was merged into them, before an unmerge
//!    (`store::erased_traces`).
//! 7. Queue a release of each image for each member that wore it, delivered
//!    by the outbox like a takedown's: media-svc deletes an image no other
//!    contact holds. A carrier never held a claim; media-svc answers its
//!    release NOT_FOUND, which counts as done.
//!
//! What is left is ids, times, generations and revision numbers (so every id
//! still resolves, to the erasure), the image ids (content hashes of images
//! that are deleted), and the erasure's actor and reason.

use std::collections::{BTreeSet, HashMap};

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait, sea_query::Expr,
};

use super::{
    IDS_PER_STATEMENT, RequestRecord, Store,
    contacts::erased_among,
    entities::{
        claim_outbox, contact_erasure, contact_match_key, contact_moderation, contact_revision, request_record,
    },
    erased_traces::scrub_borrowed,
    events::append_events,
    listing,
    merge_groups::group_members,
    merges::lock_anchors,
    outbox::release_row,
    requests::{find_request_in, insert_request_record},
    rolled_back,
};
use crate::{
    domain::{ContactEvent, ContactId},
    error::Error,
};

/// How many times the group may grow under the erasure before it gives up:
/// each round needs a merge into the group to commit between two reads.
const MAX_LOCK_ROUNDS: usize = 10;

/// Ids one `erased` event carries; a larger group is announced in several.
/// 1,000 ids are about 40 KB in an event, far under NATS's 1 MiB message
/// limit, and a full page of such events stays under the gRPC message limit.
pub const ERASED_IDS_PER_EVENT: usize = 1_000;

pub struct EraseRequest<'a> {
    pub id: &'a ContactId,
    /// Why, as the caller gave it (checked by the caller).
    pub reason: &'a str,
    /// Who: the caller's credential name.
    pub actor: &'a str,
    /// The request record to write.
    pub request: Option<RequestRecord>,
    pub now_us: i64,
}

/// One erasure, as its rows tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Every id erased, sorted.
    pub contact_ids: Vec<ContactId>,
    pub time_us: i64,
}

pub enum EraseOutcome {
    Erased {
        erasure: Erasure,
        releases: usize,
    },
    /// The id was erased before, by this request or another.
    AlreadyErased(Erasure),
    RequestIdTaken(RequestRecord),
    NotFound,
}

impl Store {
    /// Erases `request.id`'s whole merge group, in one transaction.
    pub async fn erase(&self, tenant: &TenantId, request: EraseRequest<'_>) -> Result<EraseOutcome, Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        let outcome = match erase_in(&txn, tenant, &request).await {
            Ok(outcome) => outcome,
            Err(error) => return Err(rolled_back(txn, error).await),
        };
        // A repeat is a success like the first call, so its request id is
        // recorded too: reused later for another request, it is refused.
        if !matches!(outcome, EraseOutcome::Erased { .. } | EraseOutcome::AlreadyErased(_)) {
            txn.rollback().await?;
            return Ok(outcome);
        }
        if let Some(record) = &request.request
            && !insert_request_record(&txn, tenant, record, request.now_us).await?
        {
            txn.rollback().await?;
            return Ok(EraseOutcome::RequestIdTaken(self.request_winner(tenant, &record.request_id).await?));
        }
        txn.commit().await?;
        Ok(outcome)
    }

    /// The erasure `id` was part of, if it was erased.
    pub async fn erasure_of(&self, tenant: &TenantId, id: &ContactId) -> Result<Option<Erasure>, Error> {
        erasure_in(&self.db, tenant, id).await
    }

    /// Which of `ids` were erased, and when.
    pub async fn erasures(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<HashMap<String, i64>, Error> {
        erased_among(&self.db, tenant, ids).await
    }
}

async fn erase_in(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    request: &EraseRequest<'_>,
) -> Result<EraseOutcome, Error> {
    let members = match lock_group(txn, tenant, request.id).await? {
        Some(members) => members,
        None => return Ok(EraseOutcome::NotFound),
    };
    if let Some(record) = &request.request
        && let Some(done) = find_request_in(txn, tenant, &record.request_id).await?
    {
        return Ok(EraseOutcome::RequestIdTaken(done));
    }
    if let Some(erasure) = erasure_in(txn, tenant, request.id).await? {
        return Ok(EraseOutcome::AlreadyErased(erasure));
    }
    let worn = pictures_worn(txn, tenant, &members).await?;
    let erasure_id = uuid::Uuid::now_v7().to_string();
    for chunk in members.chunks(IDS_PER_STATEMENT) {
        let rows = chunk.iter().map(|id| contact_erasure::ActiveModel {
            tenant: Set(tenant.to_string()),
            contact_id: Set(id.to_string()),
            erasure_id: Set(erasure_id.clone()),
            requested_id: Set(request.id.to_string()),
            reason: Set(request.reason.to_owned()),
            actor: Set(request.actor.to_owned()),
            time_us: Set(request.now_us),
        });
        contact_erasure::Entity::insert_many(rows).exec(txn).await?;
    }
    listing::refresh(txn, tenant, members.iter().map(ContactId::as_str)).await?;
    // Before the redaction, which empties the values it looks for.
    let borrowed_releases = scrub_borrowed(txn, tenant, &members, request.now_us).await?;
    redact(txn, tenant, &members).await?;
    for (owner, image_id) in &worn {
        let owner = ContactId::from_trusted(owner.clone());
        claim_outbox::Entity::insert(release_row(tenant, image_id, &owner, request.now_us)).exec(txn).await?;
    }
    // A merge group has no size limit, but an event must fit a NATS message
    // (1 MiB by default) and a page of events a gRPC response.
    let erased: Vec<_> = members
        .chunks(ERASED_IDS_PER_EVENT)
        .map(|chunk| ContactEvent::ContactErased { contact_ids: chunk.iter().map(ToString::to_string).collect() })
        .collect();
    append_events(txn, tenant, &erased, request.now_us).await?;
    let erasure = Erasure { contact_ids: members, time_us: request.now_us };
    Ok(EraseOutcome::Erased { erasure, releases: worn.len() + borrowed_releases })
}

/// Locks every member of `id`'s merge group, and returns them sorted; `None`
/// when `id` is not a contact of the tenant.
async fn lock_group(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    id: &ContactId,
) -> Result<Option<Vec<ContactId>>, Error> {
    let mut locked = BTreeSet::new();
    for _ in 0..MAX_LOCK_ROUNDS {
        let members: BTreeSet<ContactId> = group_members(txn, tenant, id).await?.into_iter().collect();
        let unlocked: Vec<ContactId> = members.difference(&locked).cloned().collect();
        if unlocked.is_empty() {
            return Ok(Some(members.into_iter().collect()));
        }
        for chunk in unlocked.chunks(IDS_PER_STATEMENT) {
            let anchors = lock_anchors(txn, tenant, chunk).await?;
            if anchors.len() != chunk.len() {
                // Only the named id can be missing: a group's members exist.
                return Ok(None);
            }
        }
        locked.extend(unlocked);
    }
    Err(Error::Internal(format!("the merge group of {id} kept changing while it was being erased")))
}

/// Each (contact, image) pair the members' revisions ever had.
async fn pictures_worn(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    members: &[ContactId],
) -> Result<BTreeSet<(String, String)>, Error> {
    use contact_revision::Column;
    let mut worn = BTreeSet::new();
    for chunk in members.chunks(IDS_PER_STATEMENT) {
        let pairs: Vec<(String, String)> = contact_revision::Entity::find()
            .select_only()
            .column(Column::ContactId)
            .column(Column::ImageId)
            .distinct()
            .filter(Column::Tenant.eq(tenant.as_str()))
            .filter(Column::ContactId.is_in(chunk.iter().map(ToString::to_string)))
            .filter(Column::ImageId.is_not_null())
            .into_tuple()
            .all(txn)
            .await?;
        worn.extend(pairs);
    }
    Ok(worn)
}

/// Empties every value the members' rows hold, in place: THE exception to
/// append-only contact data, and only ever run with the erasure's audit rows.
async fn redact(txn: &DatabaseTransaction, tenant: &TenantId, members: &[ContactId]) -> Result<(), Error> {
    let empty_list = || Expr::value("[]");
    for chunk in members.chunks(IDS_PER_STATEMENT) {
        let ids = || chunk.iter().map(ToString::to_string);
        use contact_revision::Column as R;
        contact_revision::Entity::update_many()
            .col_expr(R::FirstName, Expr::value(""))
            .col_expr(R::LastName, Expr::value(""))
            .col_expr(R::Email, Expr::value(""))
            .col_expr(R::EmailKey, Expr::value(""))
            .col_expr(R::Phone, Expr::value(""))
            .col_expr(R::CompanyName, Expr::value(""))
            .col_expr(R::Tags, empty_list())
            .col_expr(R::Source, Expr::value(""))
            .col_expr(R::AdditionalEmails, empty_list())
            .col_expr(R::AdditionalPhones, empty_list())
            .col_expr(R::ImageId, Expr::value(Option::<String>::None))
            .col_expr(R::SearchText, Expr::value(""))
            .col_expr(R::FullNameKey, Expr::value(""))
            .filter(R::Tenant.eq(tenant.as_str()))
            .filter(R::ContactId.is_in(ids()))
            .exec(txn)
            .await?;
        contact_match_key::Entity::delete_many()
            .filter(contact_match_key::Column::Tenant.eq(tenant.as_str()))
            .filter(contact_match_key::Column::ContactId.is_in(ids()))
            .exec(txn)
            .await?;
        // A retried request then answers with the erasure, never the values.
        request_record::Entity::update_many()
            .col_expr(request_record::Column::Fingerprint, Expr::value(""))
            .filter(request_record::Column::Tenant.eq(tenant.as_str()))
            .filter(request_record::Column::ContactId.is_in(ids()))
            .exec(txn)
            .await?;
        contact_moderation::Entity::update_many()
            .col_expr(contact_moderation::Column::Reason, Expr::value(""))
            .filter(contact_moderation::Column::Tenant.eq(tenant.as_str()))
            .filter(contact_moderation::Column::ContactId.is_in(ids()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

async fn erasure_in(db: &impl ConnectionTrait, tenant: &TenantId, id: &ContactId) -> Result<Option<Erasure>, Error> {
    let Some(row) = contact_erasure::Entity::find_by_id((tenant.to_string(), id.to_string())).one(db).await? else {
        return Ok(None);
    };
    let mut contact_ids: Vec<ContactId> = contact_erasure::Entity::find()
        .select_only()
        .column(contact_erasure::Column::ContactId)
        .filter(contact_erasure::Column::Tenant.eq(tenant.as_str()))
        .filter(contact_erasure::Column::ErasureId.eq(&row.erasure_id))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .map(ContactId::from_trusted)
        .collect();
    contact_ids.sort();
    Ok(Some(Erasure { contact_ids, time_us: row.time_us }))
}
