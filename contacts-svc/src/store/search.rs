//! Reading many contacts: the Smart List (keyset pages, substring search)
//! and duplicate search.

use accommador_proto::tenant::TenantId;
use sea_orm::{EntityTrait, Value};

use super::{
    Store,
    entities::contact_revision,
    listing::{self, Filter, ListCursor},
    rows, statement,
    visibility::{IS_LATEST, IS_NOT_ERASED, IS_NOT_MERGED},
};
use crate::{
    domain::{Contact, MatchKind, SearchQuery},
    error::Error,
};

/// `search_text` contains `needle` (folded already): a LIKE pattern with
/// the wildcards of `needle` taken literally.
fn contains(needle: &str) -> String {
    let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The FTS5 expression matching any of `needles` as a substring: each one a
/// quoted phrase, which the trigram tokenizer matches anywhere in the text.
fn fts_any(needles: &[&str]) -> String {
    needles.iter().map(|needle| format!("\"{}\"", needle.replace('"', "\"\""))).collect::<Vec<_>>().join(" OR ")
}

/// Rows a query reads along the list before it asks the search index.
/// A common query ("ann") fills its page within it and never touches the
/// index, whose matches it would have to sort; a rare one ("u4242x") leaves
/// it after this many cheap rows for an index that finds its few matches.
pub const LIST_SCAN_WINDOW: u64 = 1_000;

/// The search indexes (trigrams) cannot answer shorter needles.
const MIN_INDEXED_CHARS: usize = 3;

impl Store {
    /// One page of the Smart List: contacts listed (newest revisions, not
    /// merged away, not erased), newest first, after `cursor`, matching
    /// `query` as a substring of their search text.
    ///
    /// A query walks the list for [`LIST_SCAN_WINDOW`] rows first; if that does
    /// not fill the page, the search index (PostgreSQL's pg_trgm, SQLite's
    /// FTS5 trigram) finds the rest after the window. Needles under three
    /// characters have no index to use: they walk until the page is full.
    pub async fn list(
        &self,
        tenant: &TenantId,
        query: Option<&SearchQuery>,
        cursor: Option<&ListCursor>,
        limit: u64,
    ) -> Result<Vec<Contact>, Error> {
        self.list_explained(tenant, query, cursor, limit, None).await
    }

    /// The plans of the statements [`Store::list`] runs for this page, in
    /// order (PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)`; SQLite: `EXPLAIN
    /// QUERY PLAN`): what an operator reads when a list is slow, and what
    /// `bench/scale.sh` reports.
    pub async fn explain_list(
        &self,
        tenant: &TenantId,
        query: Option<&SearchQuery>,
        cursor: Option<&ListCursor>,
        limit: u64,
    ) -> Result<Vec<String>, Error> {
        let mut plans = Vec::new();
        self.list_explained(tenant, query, cursor, limit, Some(&mut plans)).await?;
        Ok(plans)
    }

    async fn list_explained(
        &self,
        tenant: &TenantId,
        query: Option<&SearchQuery>,
        cursor: Option<&ListCursor>,
        limit: u64,
        mut plans: Option<&mut Vec<String>>,
    ) -> Result<Vec<Contact>, Error> {
        let Some(query) = query else {
            return listing::page(&self.db, tenant, cursor, Filter::None, limit, plans).await;
        };
        // A phone-like query matches as typed (a company named "555-0101
        // Ltd") or by its digits (the phone +14155550101).
        let needles: Vec<&str> =
            std::iter::once(query.text.as_str()).chain(query.digits.iter().map(String::as_str)).collect();
        let patterns: Vec<String> = needles.iter().map(|needle| contains(needle)).collect();
        let indexable = needles.iter().all(|needle| needle.chars().count() >= MIN_INDEXED_CHARS);
        if !indexable {
            return listing::page(
                &self.db,
                tenant,
                cursor,
                Filter::Scan { patterns: &patterns, window: None },
                limit,
                plans,
            )
            .await;
        }
        let window = Filter::Scan { patterns: &patterns, window: Some(LIST_SCAN_WINDOW) };
        let mut found = listing::page(&self.db, tenant, cursor, window, limit, plans.as_deref_mut()).await?;
        if found.len() as u64 >= limit {
            return Ok(found);
        }
        let Some(window_end) =
            listing::cursor_after(&self.db, tenant, cursor, LIST_SCAN_WINDOW, plans.as_deref_mut()).await?
        else {
            return Ok(found);
        };
        let fts_expression = fts_any(&needles);
        let indexed = Filter::Indexed { patterns: &patterns, fts_expression: &fts_expression };
        let rest = limit - found.len() as u64;
        found.extend(listing::page(&self.db, tenant, Some(&window_end), indexed, rest, plans).await?);
        Ok(found)
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
