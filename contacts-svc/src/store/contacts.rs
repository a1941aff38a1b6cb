//! Contacts: writing a new one, reading revisions, and resolving ids to
//! their survivors.

use std::collections::{HashMap, HashSet};

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use super::{
    LatestRevisions, RequestRecord, Store,
    entities::{claim_outbox, contact, contact_erasure, contact_match_key, contact_revision},
    events, listing, merge_groups, outbox, requests, rows,
    visibility::{is_latest, is_not_erased},
};
use crate::{
    domain::{Contact, ContactEvent, ContactId},
    error::Error,
};

pub enum CreateOutcome {
    Created,
    /// Another request with the same id won; here is what it produced.
    RequestIdTaken(RequestRecord),
}

/// Revisions written by one statement: with 20 columns a row, 1,000 rows
/// stay under SQLite's 32,766 bound parameters per statement.
const IMPORT_BATCH: usize = 1_000;

pub(super) fn anchor(tenant: &TenantId, contact: &Contact) -> contact::ActiveModel {
    contact::ActiveModel {
        tenant: Set(tenant.to_string()),
        id: Set(contact.id.to_string()),
        create_time_us: Set(contact.create_time_us),
        picture_carrier: Set(false),
    }
}

impl Store {
    /// Writes a new contact (revision 1) with its request record and the
    /// claim its picture needs, all in one transaction.
    pub async fn create(
        &self,
        tenant: &TenantId,
        contact: &Contact,
        request: Option<RequestRecord>,
        claim_deadline_us: Option<i64>,
    ) -> Result<CreateOutcome, Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        if let Some(record) = &request
            && !requests::insert_request_record(&txn, tenant, record, contact.create_time_us).await?
        {
            txn.rollback().await?;
            return Ok(CreateOutcome::RequestIdTaken(self.request_winner(tenant, &record.request_id).await?));
        }
        let written: Result<(), Error> = async {
            contact::Entity::insert(anchor(tenant, contact)).exec(&txn).await?;
            insert_revisions(&txn, tenant, std::slice::from_ref(contact)).await?;
            let created = ContactEvent::ContactCreated {
                contact_id: contact.id.to_string(),
                image_id: contact.fields.image_id.clone(),
            };
            events::append_events(&txn, tenant, &[created], contact.create_time_us).await?;
            if let (Some(image_id), Some(deadline)) = (&contact.fields.image_id, claim_deadline_us) {
                let claim = outbox::claim_row(tenant, image_id, &contact.id, contact.create_time_us, deadline);
                claim_outbox::Entity::insert(claim).exec(&txn).await?;
            }
            Ok(())
        }
        .await;
        if let Err(error) = written {
            return Err(super::rolled_back(txn, error).await);
        }
        txn.commit().await?;
        Ok(CreateOutcome::Created)
    }

    /// Exactly `revision` of `id`, without following merges; none once erased.
    pub async fn revision(&self, tenant: &TenantId, id: &ContactId, revision: i64) -> Result<Option<Contact>, Error> {
        let key = (tenant.to_string(), id.to_string(), revision);
        let row = contact_revision::Entity::find_by_id(key).filter(is_not_erased()).one(&self.db).await?;
        row.map(rows::contact).transpose()
    }

    /// The newest revision of each of `ids` that exists and was not erased.
    pub async fn latest(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<LatestRevisions, Error> {
        latest_in(&self.db, tenant, ids).await
    }

    /// The survivor of each existing id among `ids` (an id that was never
    /// merged away is its own survivor). Unknown ids are absent.
    pub async fn resolve(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<HashMap<ContactId, ContactId>, Error> {
        merge_groups::resolve_in(&self.db, tenant, ids).await
    }

    /// Writes already-validated contacts (revision 1, no picture claims, no
    /// request ids) in one transaction, in batches: a bulk import, used to
    /// load a tenant from another system and by the list-scale benchmark.
    pub async fn import(&self, tenant: &TenantId, contacts: &[Contact]) -> Result<(), Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        for batch in contacts.chunks(IMPORT_BATCH) {
            contact::Entity::insert_many(batch.iter().map(|contact| anchor(tenant, contact))).exec(&txn).await?;
            insert_revisions(&txn, tenant, batch).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// Writes revisions with the duplicate-search keys each one is found by,
/// and lists the newest.
/// At most [`IMPORT_BATCH`] revisions: one statement each for rows and keys.
pub(super) async fn insert_revisions(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    revisions: &[Contact],
) -> Result<(), Error> {
    contact_revision::Entity::insert_many(revisions.iter().map(|contact| rows::revision_row(tenant, contact)))
        .exec(txn)
        .await?;
    let keys: Vec<_> = revisions.iter().flat_map(|contact| rows::match_key_rows(tenant, contact)).collect();
    // Five columns a row: 5,000 rows stay under SQLite's 32,766 bound parameters.
    for batch in keys.chunks(5_000) {
        contact_match_key::Entity::insert_many(batch.to_vec()).exec(txn).await?;
    }
    listing::refresh(txn, tenant, revisions.iter().map(|contact| contact.id.as_str())).await?;
    Ok(())
}

/// The newest revision of each of `ids` that exists and was not erased:
/// an erased contact is absent to every use case, which tells the caller
/// why (`Store::erasures`).
pub(super) async fn latest_in(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    ids: &[ContactId],
) -> Result<LatestRevisions, Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let unique: Vec<String> = ids.iter().map(ToString::to_string).collect::<HashSet<_>>().into_iter().collect();
    let rows = contact_revision::Entity::find()
        .filter(contact_revision::Column::Tenant.eq(tenant.as_str()))
        .filter(contact_revision::Column::ContactId.is_in(unique))
        .filter(is_latest())
        .filter(is_not_erased())
        .all(db)
        .await?;
    rows.into_iter().map(|row| rows::contact(row).map(|contact| (contact.id.clone(), contact))).collect()
}

/// Which of `ids` were erased, with the time of their erasure.
pub(super) async fn erased_among(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    ids: &[ContactId],
) -> Result<HashMap<String, i64>, Error> {
    let mut erased = HashMap::new();
    for chunk in ids.chunks(super::IDS_PER_STATEMENT) {
        let rows: Vec<(String, i64)> = contact_erasure::Entity::find()
            .select_only()
            .column(contact_erasure::Column::ContactId)
            .column(contact_erasure::Column::TimeUs)
            .filter(contact_erasure::Column::Tenant.eq(tenant.as_str()))
            .filter(contact_erasure::Column::ContactId.is_in(chunk.iter().map(ToString::to_string)))
            .into_tuple()
            .all(db)
            .await?;
        erased.extend(rows);
    }
    Ok(erased)
}
