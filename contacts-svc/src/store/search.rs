//! Reading many contacts: the Smart List (keyset pages, substring search)
//! and duplicate search.

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr},
};

use super::{
    Store,
    contacts::{is_latest, is_not_merged},
    entities::contact_revision,
    rows,
};
use crate::{domain::Contact, error::Error};

/// Where a page of the Smart List starts: after this contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub create_time_us: i64,
    pub contact_id: String,
}

impl Store {
    /// One page of the Smart List: latest revisions of contacts not merged
    /// away, newest first, after `cursor`, matching `query` (lowercase).
    pub async fn list(
        &self,
        tenant: &TenantId,
        query: Option<&str>,
        cursor: Option<&ListCursor>,
        limit: u64,
    ) -> Result<Vec<Contact>, Error> {
        use contact_revision::Column as C;
        let mut select = contact_revision::Entity::find()
            .filter(C::Tenant.eq(tenant.as_str()))
            .filter(is_latest())
            .filter(is_not_merged());
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
    pub async fn duplicates_of(&self, tenant: &TenantId, contact: &Contact, limit: u64) -> Result<Vec<Contact>, Error> {
        use contact_revision::Column as C;
        let fields = &contact.fields;
        let (emails, phones) = (fields.email_keys(), fields.phones());
        let mut matches = Condition::any();
        if !emails.is_empty() {
            matches = matches.add(C::EmailKey.is_in(emails));
        }
        if !phones.is_empty() {
            matches = matches.add(C::Phone.is_in(phones));
        }
        if let Some(key) = fields.full_name_key() {
            matches = matches.add(C::FullNameKey.eq(key));
        }
        if matches.is_empty() {
            return Ok(Vec::new());
        }
        let rows = contact_revision::Entity::find()
            .filter(C::Tenant.eq(tenant.as_str()))
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
