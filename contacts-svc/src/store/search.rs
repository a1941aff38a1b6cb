//! Reading many contacts: the Smart List (keyset pages, substring search)
//! and duplicate search.

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value,
    sea_query::{Expr, ExprTrait, LikeExpr},
};

use super::{
    Store,
    contacts::{IS_LATEST, IS_NOT_ERASED, IS_NOT_MERGED, is_latest, is_not_erased, is_not_merged},
    entities::contact_revision,
    rows, statement,
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
            .filter(is_not_merged())
            .filter(is_not_erased());
        if let Some(query) = query {
            // A phone-like query matches as typed (a company named "555-0101
            // Ltd") or by its digits (the phone +14155550101).
            let mut matches = Condition::any().add(contains(&query.text));
            for digits in &query.digits {
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
        // Written out rather than built: both databases must start from the
        // keys (one index seek per kind, hence a UNION, not an OR that
        // SQLite can only answer by scanning the tenant) and only then read
        // the few revisions found. CROSS JOIN is how SQLite is told to keep
        // that order; PostgreSQL plans it as any join.
        let mut values: Vec<Value> = Vec::new();
        let mut by_kind = Vec::new();
        for (kind, keys) in keys_by_kind {
            let placeholders = vec!["?"; keys.len()].join(", ");
            by_kind.push(format!(
                r#"SELECT "contact_id", "revision" FROM "contact_match_key" WHERE "tenant" = ? AND "kind" = ? AND "key" IN ({placeholders})"#
            ));
            values.push(tenant.as_str().into());
            values.push(kind.as_str().into());
            values.extend(keys.into_iter().map(Value::from));
        }
        let sql = format!(
            r#"SELECT "contact_revision".* FROM ({}) matched CROSS JOIN "contact_revision"
               WHERE "contact_revision"."tenant" = ? AND "contact_revision"."contact_id" = matched."contact_id"
                 AND "contact_revision"."revision" = matched."revision" AND "contact_revision"."contact_id" <> ?
                 AND {IS_LATEST} AND {IS_NOT_MERGED} AND {IS_NOT_ERASED}
               ORDER BY "contact_revision"."create_time_us" DESC LIMIT ?"#,
            by_kind.join(" UNION ")
        );
        values.extend([tenant.as_str().into(), contact.id.as_str().into(), (limit as i64).into()]);
        let found = contact_revision::Entity::find()
            .from_raw_sql(statement(self.backend(), &sql, values))
            .all(&self.db)
            .await?;
        found.into_iter().map(rows::contact).collect()
    }
}
