//! The ReplaceProfilePicture transaction: the documented workaround (create
//! a contact wearing the picture, merge it into the old one taking the
//! picture) as ONE transaction, so no reader ever sees the intermediate
//! contact live and a crash leaves nothing or everything.
//!
//! 1. Lock the contact's row (PostgreSQL `FOR UPDATE`; SQLite's writer lock
//!    is held already), so concurrent merges, takedowns and erasures wait.
//! 2. Read its latest revision; none is NOT_FOUND (also for another tenant).
//! 3. Write the intermediate contact ("carrier"), revision 1, marked as a
//!    carrier (UnmergeContacts refuses it). It gets no claim of its own: it
//!    is never live, and the picture's one claim goes to the contact that
//!    wears it.
//! 4. The merge transaction's own steps ([`super::merges`]): the request id
//!    check (a retry that waited on the lock gets the first call's result),
//!    the merged-away check, the new revision, the merge record, the merge
//!    groups, the claim outbox entry for the contact, the request record.
//!
//! Any outcome but a merge rolls the whole transaction back, the
//! intermediate contact with it.

use accommador_proto::tenant::TenantId;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, EntityTrait, TransactionTrait};

use super::{
    Store,
    contacts::{anchor, insert_revisions, latest_in},
    entities::contact,
    merges::{Announce, MergeOutcome, MergeRequest, lock_contacts, merge_in},
    rolled_back,
};
use crate::{domain::Contact, error::Error};

impl Store {
    /// Gives `request.primary_id` a new picture in one transaction: writes
    /// `carrier` (revision 1 of `request.duplicate_id`, wearing the picture)
    /// and merges it in with
    /// `decide`, as [`Store::merge`] does. `request.claim_deadline_us` is the
    /// uploaded picture's claim deadline.
    pub async fn replace_picture(
        &self,
        tenant: &TenantId,
        request: MergeRequest<'_>,
        carrier: Contact,
        decide: impl FnOnce(&Contact, &Contact) -> Contact,
    ) -> Result<MergeOutcome, Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        let outcome = match replace_in(&txn, tenant, &request, carrier, decide).await {
            Ok(outcome) => outcome,
            Err(error) => return Err(rolled_back(txn, error).await),
        };
        self.finish_merge(txn, tenant, &request, outcome).await
    }
}

async fn replace_in(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    request: &MergeRequest<'_>,
    carrier: Contact,
    decide: impl FnOnce(&Contact, &Contact) -> Contact,
) -> Result<MergeOutcome, Error> {
    let primary = std::slice::from_ref(request.primary_id);
    lock_contacts(txn, tenant, primary).await?;
    if !latest_in(txn, tenant, primary).await?.contains_key(request.primary_id) {
        return Ok(MergeOutcome::NotFound(request.primary_id.clone()));
    }
    if carrier.id != *request.duplicate_id || carrier.revision != 1 {
        return Err(Error::Internal(format!(
            "a picture must be carried by revision 1 of {}, not revision {} of {}",
            request.duplicate_id, carrier.revision, carrier.id
        )));
    }
    let carrier_anchor = contact::ActiveModel { picture_carrier: Set(true), ..anchor(tenant, &carrier) };
    contact::Entity::insert(carrier_anchor).exec(txn).await?;
    insert_revisions(txn, tenant, std::slice::from_ref(&carrier)).await?;
    merge_in(txn, tenant, request, decide, Announce::PictureOnly).await
}
