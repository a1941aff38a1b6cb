//! The RemoveProfilePicture transaction, the moderation takedown, in ONE
//! transaction: the contact's next revision without the picture, the
//! release of the image for the contact (queued in the outbox, delivered by
//! its worker), the audit row, and the request record. A crash leaves all
//! of it or none.
//!
//! The contact's row is locked first, as a merge locks it, so a takedown
//! and a merge of the same contact run one after the other.

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use super::{
    IDS_PER_STATEMENT, RequestRecord, Store,
    contacts::{insert_revisions, latest_in},
    entities::{claim_outbox, contact_moderation, contact_revision},
    events::append_events,
    merge_groups::{group_members, resolve_in},
    merges::lock_contacts,
    outbox::release_row,
    requests::{find_request_in, insert_request_record},
    rolled_back,
};
use crate::{
    domain::{Contact, ContactEvent, ContactId},
    error::Error,
};

/// `contact_moderation.action` of a picture takedown.
pub const REMOVE_PICTURE: &str = "remove_picture";

pub struct TakedownRequest<'a> {
    pub id: &'a ContactId,
    /// Why, as the caller gave it (checked by the caller).
    pub reason: &'a str,
    /// Who: the caller's credential name.
    pub actor: &'a str,
    /// The request record to write, its revision filled in here.
    pub request: Option<RequestRecord>,
    pub now_us: i64,
}

pub enum TakedownOutcome {
    /// The contact's new revision, without the picture.
    Removed(Box<Contact>),
    RequestIdTaken(RequestRecord),
    NotFound,
    AlreadyMerged {
        survivor: ContactId,
    },
    /// The contact's latest revision wears no picture.
    NoPicture,
}

impl Store {
    /// Takes `request.id`'s picture down, in one transaction.
    pub async fn remove_picture(
        &self,
        tenant: &TenantId,
        request: TakedownRequest<'_>,
    ) -> Result<TakedownOutcome, Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        let outcome = match remove_in(&txn, tenant, &request).await {
            Ok(outcome) => outcome,
            Err(error) => return Err(rolled_back(txn, error).await),
        };
        let TakedownOutcome::Removed(contact) = &outcome else {
            txn.rollback().await?;
            return Ok(outcome);
        };
        if let Some(record) = &request.request {
            let record = RequestRecord { revision: contact.revision, ..record.clone() };
            if !insert_request_record(&txn, tenant, &record, request.now_us).await? {
                txn.rollback().await?;
                return Ok(TakedownOutcome::RequestIdTaken(self.request_winner(tenant, &record.request_id).await?));
            }
        }
        txn.commit().await?;
        Ok(outcome)
    }
}

async fn remove_in(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    request: &TakedownRequest<'_>,
) -> Result<TakedownOutcome, Error> {
    let ids = std::slice::from_ref(request.id);
    let anchors = lock_contacts(txn, tenant, ids).await?;
    // A retry that waited on the lock gets the first call's result.
    if let Some(record) = &request.request
        && let Some(done) = find_request_in(txn, tenant, &record.request_id).await?
    {
        return Ok(TakedownOutcome::RequestIdTaken(done));
    }
    if anchors.is_empty() {
        return Ok(TakedownOutcome::NotFound);
    }
    if let Some(survivor) = resolve_in(txn, tenant, ids).await?.remove(request.id)
        && survivor != *request.id
    {
        return Ok(TakedownOutcome::AlreadyMerged { survivor });
    }
    let Some(current) = latest_in(txn, tenant, ids).await?.remove(request.id) else {
        return Err(Error::Internal("contact without revisions".into()));
    };
    let Some(image_id) = current.fields.image_id.clone() else {
        return Ok(TakedownOutcome::NoPicture);
    };
    let mut removed = current.clone();
    removed.revision = current.revision + 1;
    removed.revision_create_time_us = request.now_us;
    removed.fields.image_id = None;
    insert_revisions(txn, tenant, std::slice::from_ref(&removed)).await?;
    claim_outbox::Entity::insert(release_row(tenant, &image_id, request.id, request.now_us)).exec(txn).await?;
    // The contacts merged into this one that wore the picture before it
    // came here hold claims of their own: taken down from the group, it
    // goes from them too (an unmerge brings them back without it).
    for holder in merged_holders(txn, tenant, request.id, &image_id).await? {
        claim_outbox::Entity::insert(release_row(tenant, &image_id, &holder, request.now_us)).exec(txn).await?;
    }
    let audit = contact_moderation::ActiveModel {
        tenant: Set(tenant.to_string()),
        contact_id: Set(request.id.to_string()),
        revision: Set(removed.revision),
        action: Set(REMOVE_PICTURE.to_owned()),
        image_id: Set(image_id),
        reason: Set(request.reason.to_owned()),
        actor: Set(request.actor.to_owned()),
        time_us: Set(request.now_us),
    };
    contact_moderation::Entity::insert(audit).exec(txn).await?;
    let changed = ContactEvent::ProfilePictureChanged {
        contact_id: request.id.to_string(),
        revision: removed.revision,
        image_id: None,
    };
    append_events(txn, tenant, &[changed], request.now_us).await?;
    Ok(TakedownOutcome::Removed(Box::new(removed)))
}

/// The other members of `id`'s merge group (contacts merged into it) whose
/// revisions wore `image_id`.
async fn merged_holders(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    id: &ContactId,
    image_id: &str,
) -> Result<Vec<ContactId>, Error> {
    let members: Vec<ContactId> = group_members(txn, tenant, id).await?.into_iter().filter(|m| m != id).collect();
    let mut holders = Vec::new();
    for chunk in members.chunks(IDS_PER_STATEMENT) {
        let found: Vec<String> = contact_revision::Entity::find()
            .select_only()
            .column(contact_revision::Column::ContactId)
            .distinct()
            .filter(contact_revision::Column::Tenant.eq(tenant.as_str()))
            .filter(contact_revision::Column::ContactId.is_in(chunk.iter().map(ToString::to_string)))
            .filter(contact_revision::Column::ImageId.eq(image_id))
            .into_tuple()
            .all(txn)
            .await?;
        holders.extend(found.into_iter().map(ContactId::from_trusted));
    }
    Ok(holders)
}
