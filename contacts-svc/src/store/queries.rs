//! The queries and write transactions of contacts-svc.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    TransactionTrait,
    sea_query::{Expr, ExprTrait, LikeExpr},
};

use super::{
    LatestRevisions, Store,
    entities::{claim_outbox, contact, contact_revision, request_record},
    rows,
};
use crate::{domain::Contact, error::Error};

/// What a request id produced (AIP-155).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub request_id: String,
    pub operation: String,
    pub fingerprint: String,
    pub contact_id: String,
    pub revision: i64,
}

/// A claim owed to media-svc: an outbox row as stored.
pub use super::entities::claim_outbox::Model as ClaimEntry;

pub enum CreateOutcome {
    Created,
    /// Another request with the same id won; here is what it produced.
    RequestIdTaken(RequestRecord),
}

/// Where a page of the Smart List starts: after this contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub create_time_us: i64,
    pub contact_id: String,
}

/// `contact_revision.revision` is the newest revision of its contact.
pub(super) fn is_latest() -> Expr {
    Expr::cust(
        r#""contact_revision"."revision" = (SELECT MAX(r2."revision") FROM "contact_revision" r2 WHERE r2."tenant" = "contact_revision"."tenant" AND r2."contact_id" = "contact_revision"."contact_id")"#,
    )
}

/// The contact was not merged away.
pub(super) fn is_not_merged() -> Expr {
    Expr::cust(
        r#"NOT EXISTS (SELECT 1 FROM "contact_merge" m WHERE m."tenant" = "contact_revision"."tenant" AND m."duplicate_id" = "contact_revision"."contact_id")"#,
    )
}

pub(super) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn request_row(tenant: &str, record: &RequestRecord, now_us: i64) -> request_record::ActiveModel {
    request_record::ActiveModel {
        tenant: Set(tenant.to_owned()),
        request_id: Set(record.request_id.clone()),
        operation: Set(record.operation.clone()),
        fingerprint: Set(record.fingerprint.clone()),
        contact_id: Set(record.contact_id.clone()),
        revision: Set(record.revision),
        create_time_us: Set(now_us),
    }
}

pub(super) fn claim_row(
    tenant: &str,
    image_id: &str,
    owner: &str,
    now_us: i64,
    deadline_us: i64,
) -> claim_outbox::ActiveModel {
    claim_outbox::ActiveModel {
        id: NotSet,
        tenant: Set(tenant.to_owned()),
        image_id: Set(image_id.to_owned()),
        owner: Set(owner.to_owned()),
        create_time_us: Set(now_us),
        claim_deadline_us: Set(deadline_us),
        next_attempt_us: Set(now_us),
        attempts: Set(0),
        last_error: Set(String::new()),
    }
}

impl Store {
    pub async fn find_request(&self, tenant: &str, request_id: &str) -> Result<Option<RequestRecord>, Error> {
        find_request_in(&self.db, tenant, request_id).await
    }

    /// What the request that took `request_id` first produced.
    pub(super) async fn request_winner(&self, tenant: &str, request_id: &str) -> Result<RequestRecord, Error> {
        self.find_request(tenant, request_id)
            .await?
            .ok_or_else(|| Error::Internal("request id conflict but no request record".into()))
    }

    /// Writes a new contact (revision 1) with its request record and the
    /// claim its picture needs, all in one transaction.
    pub async fn create(
        &self,
        tenant: &str,
        contact: &Contact,
        request: Option<RequestRecord>,
        claim_deadline_us: Option<i64>,
    ) -> Result<CreateOutcome, Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        if let Some(record) = &request
            && !insert_request_record(&txn, tenant, record, contact.create_time_us).await?
        {
            txn.rollback().await?;
            return Ok(CreateOutcome::RequestIdTaken(self.request_winner(tenant, &record.request_id).await?));
        }
        let anchor = contact::ActiveModel {
            tenant: Set(tenant.to_owned()),
            id: Set(contact.id.to_string()),
            create_time_us: Set(contact.create_time_us),
        };
        contact::Entity::insert(anchor).exec(&txn).await?;
        contact_revision::Entity::insert(rows::revision_row(tenant, contact)).exec(&txn).await?;
        if let (Some(image_id), Some(deadline)) = (&contact.fields.image_id, claim_deadline_us) {
            let claim = claim_row(tenant, image_id, contact.id.as_str(), contact.create_time_us, deadline);
            claim_outbox::Entity::insert(claim).exec(&txn).await?;
        }
        txn.commit().await?;
        Ok(CreateOutcome::Created)
    }

    /// Exactly `revision` of `id`, without following merges.
    pub async fn revision(&self, tenant: &str, id: &str, revision: i64) -> Result<Option<Contact>, Error> {
        let row =
            contact_revision::Entity::find_by_id((tenant.to_owned(), id.to_owned(), revision)).one(&self.db).await?;
        row.map(rows::contact).transpose()
    }

    /// The newest revision of each of `ids` that exists.
    pub async fn latest(&self, tenant: &str, ids: &[String]) -> Result<LatestRevisions, Error> {
        latest_in(&self.db, tenant, ids).await
    }

    /// The survivor of each existing id among `ids` (an id that was never
    /// merged away is its own survivor). Unknown ids are absent.
    pub async fn resolve(&self, tenant: &str, ids: &[String]) -> Result<HashMap<String, String>, Error> {
        super::merges::resolve_in(&self.db, tenant, ids).await
    }

    /// Writes already-validated contacts (revision 1, no picture claims, no
    /// request ids) in one transaction, in batches: a bulk import, used to
    /// load a tenant from another system and by the list-scale benchmark.
    pub async fn import(&self, tenant: &str, contacts: &[Contact]) -> Result<(), Error> {
        // Each batch stays under SQLite's 32,766 bound parameters per statement.
        const BATCH: usize = 1_000;
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        for batch in contacts.chunks(BATCH) {
            let anchors = batch.iter().map(|contact| contact::ActiveModel {
                tenant: Set(tenant.to_owned()),
                id: Set(contact.id.to_string()),
                create_time_us: Set(contact.create_time_us),
            });
            contact::Entity::insert_many(anchors).exec(&txn).await?;
            contact_revision::Entity::insert_many(batch.iter().map(|contact| rows::revision_row(tenant, contact)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// One page of the Smart List: latest revisions of contacts not merged
    /// away, newest first, after `cursor`, matching `query` (lowercase).
    pub async fn list(
        &self,
        tenant: &str,
        query: Option<&str>,
        cursor: Option<&ListCursor>,
        limit: u64,
    ) -> Result<Vec<Contact>, Error> {
        use contact_revision::Column as C;
        let mut select =
            contact_revision::Entity::find().filter(C::Tenant.eq(tenant)).filter(is_latest()).filter(is_not_merged());
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            let escaped = query.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            select = select.filter(Expr::col(C::SearchText).like(LikeExpr::new(format!("%{escaped}%")).escape('\\')));
        }
        if let Some(cursor) = cursor {
            // A row-value comparison, not `t < ? OR (t = ? AND id < ?)`: both
            // PostgreSQL and SQLite seek the list index to the cursor with
            // it, where the OR form makes them read every newer row first.
            select = select.filter(
                Expr::tuple([Expr::col(C::CreateTimeUs), Expr::col(C::ContactId)])
                    .lt(Expr::tuple([cursor.create_time_us.into(), cursor.contact_id.clone().into()])),
            );
        }
        let rows = select.order_by_desc(C::CreateTimeUs).order_by_desc(C::ContactId).limit(limit).all(&self.db).await?;
        rows.into_iter().map(rows::contact).collect()
    }

    /// Contacts (latest revisions, not merged away, not `contact` itself)
    /// sharing an email, a phone or the full name with `contact`.
    pub async fn duplicates_of(&self, tenant: &str, contact: &Contact, limit: u64) -> Result<Vec<Contact>, Error> {
        use contact_revision::Column as C;
        let fields = &contact.fields;
        let emails: Vec<String> = [&fields.email]
            .into_iter()
            .chain(&fields.additional_emails)
            .filter(|e| !e.is_empty())
            .map(|e| e.to_lowercase())
            .collect();
        let phones: Vec<String> =
            [&fields.phone].into_iter().chain(&fields.additional_phones).filter(|p| !p.is_empty()).cloned().collect();
        let mut matches = Condition::any();
        if !emails.is_empty() {
            matches = matches.add(C::EmailKey.is_in(emails));
        }
        if !phones.is_empty() {
            matches = matches.add(C::Phone.is_in(phones));
        }
        if !fields.first_name.is_empty() && !fields.last_name.is_empty() {
            let key = format!("{} {}", fields.first_name.to_lowercase(), fields.last_name.to_lowercase());
            matches = matches.add(C::FullNameKey.eq(key));
        }
        if matches.is_empty() {
            return Ok(Vec::new());
        }
        let rows = contact_revision::Entity::find()
            .filter(C::Tenant.eq(tenant))
            .filter(C::ContactId.ne(contact.id.as_str()))
            .filter(matches)
            .filter(is_latest())
            .filter(is_not_merged())
            .order_by_desc(C::CreateTimeUs)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(rows::contact).collect()
    }
}

pub(super) async fn find_request_in(
    db: &impl sea_orm::ConnectionTrait,
    tenant: &str,
    request_id: &str,
) -> Result<Option<RequestRecord>, Error> {
    let row = request_record::Entity::find_by_id((tenant.to_owned(), request_id.to_owned())).one(db).await?;
    Ok(row.map(|row| RequestRecord {
        request_id: row.request_id,
        operation: row.operation,
        fingerprint: row.fingerprint,
        contact_id: row.contact_id,
        revision: row.revision,
    }))
}

/// Records what a request id produced; `false` when another request
/// recorded the same id first (on PostgreSQL this waits for that one to commit).
pub(super) async fn insert_request_record(
    txn: &DatabaseTransaction,
    tenant: &str,
    record: &RequestRecord,
    now_us: i64,
) -> Result<bool, Error> {
    match request_record::Entity::insert(request_row(tenant, record, now_us)).exec(txn).await {
        Ok(_) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

pub(super) async fn latest_in(
    db: &impl sea_orm::ConnectionTrait,
    tenant: &str,
    ids: &[String],
) -> Result<LatestRevisions, Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let unique: Vec<String> = ids.iter().cloned().collect::<HashSet<_>>().into_iter().collect();
    let rows = contact_revision::Entity::find()
        .filter(contact_revision::Column::Tenant.eq(tenant))
        .filter(contact_revision::Column::ContactId.is_in(unique))
        .filter(is_latest())
        .all(db)
        .await?;
    rows.into_iter().map(|row| rows::contact(row).map(|contact| (contact.id.to_string(), contact))).collect()
}
