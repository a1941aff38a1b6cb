//! Reading many contacts: the Smart List (keyset pages, substring search)
//! and duplicate search.

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr, Query},
};

use super::{
    Store,
    contacts::{is_latest, is_not_merged},
    entities::{contact_match_key, contact_revision},
    rows,
};
use crate::{
    domain::{Contact, MatchKind, SearchQuery},
    error::Error,
};

/// `search_text` contains `needle` (folded already), wildcards taken literally.
fn contains(needle: &str) -> Expr {
    let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    Expr::col(contact_revision::Column::SearchText).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// Where a page of the Smart List starts: after this contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub create_time_us: i64,
    pub contact_id: String,
}

impl Store {
    /// One page of the Smart List: latest revisions of contacts not merged
    /// away, newest first, after `cursor`, matching `query`.
    ///
    /// The match is a substring of `search_text`: on PostgreSQL the trigram
    /// index serves it (queries of three characters or more); SQLite reads
    /// the list index newest first until the page is full.
    pub async fn list(
        &self,
        tenant: &TenantId,
        query: Option<&SearchQuery>,
        cursor: Option<&ListCursor>,
        limit: u64,
    ) -> Result<Vec<Contact>, Error> {
        use contact_revision::Column as C;
        let mut select = contact_revision::Entity::find()
            .filter(C::Tenant.eq(tenant.as_str()))
            .filter(is_latest())
            .filter(is_not_merged());
        if let Some(query) = query {
            // A phone-like query matches as typed (a company named "555-0101
            // Ltd") or by its digits (the phone +14155550101).
            let mut matches = Condition::any().add(contains(&query.text));
            if let Some(digits) = &query.digits {
                matches = matches.add(contains(digits));
            }
            select = select.filter(matches);
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
    /// sharing an email, a phone or the full name with `contact`, found
    /// through `contact_match_key` (every value of every revision, so an
    /// email a merge made additional is found as well as a main one).
    pub async fn duplicates_of(&self, tenant: &TenantId, contact: &Contact, limit: u64) -> Result<Vec<Contact>, Error> {
        use contact_match_key::Column as K;
        use contact_revision::Column as C;
        let mut keys_by_kind: Vec<(MatchKind, Vec<String>)> = Vec::new();
        for key in contact.fields.match_keys() {
            match keys_by_kind.iter_mut().find(|(kind, _)| *kind == key.kind) {
                Some((_, keys)) => keys.push(key.key),
                None => keys_by_kind.push((key.kind, vec![key.key])),
            }
        }
        if keys_by_kind.is_empty() {
            return Ok(Vec::new());
        }
        let mut shares_a_key = Condition::any();
        for (kind, keys) in keys_by_kind {
            shares_a_key = shares_a_key.add(Condition::all().add(K::Kind.eq(kind.as_str())).add(K::Key.is_in(keys)));
        }
        let matching_revisions = Query::select()
            .columns([K::ContactId, K::Revision])
            .from(contact_match_key::Entity)
            .and_where(K::Tenant.eq(tenant.as_str()))
            .cond_where(shares_a_key)
            .to_owned();
        let rows = contact_revision::Entity::find()
            .filter(C::Tenant.eq(tenant.as_str()))
            .filter(C::ContactId.ne(contact.id.as_str()))
            .filter(Expr::tuple([Expr::col(C::ContactId), Expr::col(C::Revision)]).in_subquery(matching_revisions))
            .filter(is_latest())
            .filter(is_not_merged())
            .order_by_desc(C::CreateTimeUs)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(rows::contact).collect()
    }
}
