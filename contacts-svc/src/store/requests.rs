//! Request records: what each request id produced (AIP-155), written in the
//! transaction of the write it names, so a retry finds either nothing (the
//! write did not happen) or exactly what it made.

use accommador_proto::tenant::TenantId;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseTransaction, EntityTrait};

use super::{Store, entities::request_record, is_unique_violation};
use crate::{domain::ContactId, error::Error};

/// What a request id produced. `operation` is stored as given: the use
/// cases own its vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub request_id: String,
    pub operation: String,
    pub fingerprint: String,
    pub contact_id: ContactId,
    pub revision: i64,
}

impl Store {
    pub async fn find_request(&self, tenant: &TenantId, request_id: &str) -> Result<Option<RequestRecord>, Error> {
        find_request_in(&self.db, tenant, request_id).await
    }

    /// What the request that took `request_id` first produced.
    pub(super) async fn request_winner(&self, tenant: &TenantId, request_id: &str) -> Result<RequestRecord, Error> {
        self.find_request(tenant, request_id)
            .await?
            .ok_or_else(|| Error::Internal("request id conflict but no request record".into()))
    }
}

pub(super) async fn find_request_in(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    request_id: &str,
) -> Result<Option<RequestRecord>, Error> {
    let row = request_record::Entity::find_by_id((tenant.to_string(), request_id.to_owned())).one(db).await?;
    Ok(row.map(|row| RequestRecord {
        request_id: row.request_id,
        operation: row.operation,
        fingerprint: row.fingerprint,
        contact_id: ContactId::from_trusted(row.contact_id),
        revision: row.revision,
    }))
}

/// Records what a request id produced; `false` when another request
/// recorded the same id first (on PostgreSQL this waits for that one to commit).
pub(super) async fn insert_request_record(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    record: &RequestRecord,
    now_us: i64,
) -> Result<bool, Error> {
    let row = request_record::ActiveModel {
        tenant: Set(tenant.to_string()),
        request_id: Set(record.request_id.clone()),
        operation: Set(record.operation.clone()),
        fingerprint: Set(record.fingerprint.clone()),
        contact_id: Set(record.contact_id.to_string()),
        revision: Set(record.revision),
        create_time_us: Set(now_us),
    };
    match request_record::Entity::insert(row).exec(txn).await {
        Ok(_) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error.into()),
    }
}
