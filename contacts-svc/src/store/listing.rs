//! `contact_listing`, the Smart List's table: one row per contact the list
//! shows, holding where it sorts, its newest revision and its search text.
//! It is derived data: [`refresh`] recomputes the rows of some contacts
//! from `contact_revision`, the merge events and the erasures, and every
//! write that changes one of those calls it inside its own transaction, so
//! the list is never behind the contacts and a crash leaves both or neither.
//!
//! Reading a page is [`page`]: newest first from a cursor, optionally
//! filtered by substring patterns, in one of two plans (see `Store::list`).

use accommador_proto::tenant::TenantId;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Value};

use super::{
    IDS_PER_STATEMENT,
    entities::contact_revision,
    rows, statement,
    visibility::{IS_LATEST, IS_NOT_ERASED, IS_NOT_MERGED},
};
use crate::{domain::Contact, error::Error};

/// Where a page of the Smart List starts: after this contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub create_time_us: i64,
    pub contact_id: String,
}

/// Recomputes the listing rows of `ids`: a contact is listed, with its
/// newest revision, exactly when it exists, is not merged away and is not
/// erased. Call it after the write, in the write's transaction.
pub(super) async fn refresh<'a>(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<(), Error> {
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let backend = txn.get_database_backend();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let with_ids = |mut values: Vec<Value>| {
            values.extend(chunk.iter().map(|id| Value::from(*id)));
            values
        };
        txn.execute_raw(statement(
            backend,
            &format!("DELETE FROM contact_listing WHERE tenant = ? AND contact_id IN ({placeholders})"),
            with_ids(vec![tenant.as_str().into()]),
        ))
        .await?;
        // ON CONFLICT: the writes that refresh one contact already hold its
        // lock, but an upsert keeps a race between two of them from failing
        // either (the later one's row wins, as the later write does).
        txn.execute_raw(statement(
            backend,
            &format!(
                r#"INSERT INTO contact_listing (tenant, contact_id, create_time_us, revision, search_text)
                   SELECT "tenant", "contact_id", "create_time_us", "revision", "search_text" FROM "contact_revision"
                   WHERE "contact_revision"."tenant" = ? AND "contact_revision"."contact_id" IN ({placeholders})
                     AND {IS_LATEST} AND {IS_NOT_MERGED} AND {IS_NOT_ERASED}
                   ON CONFLICT (tenant, contact_id) DO UPDATE SET create_time_us = excluded.create_time_us,
                     revision = excluded.revision, search_text = excluded.search_text"#
            ),
            with_ids(vec![tenant.as_str().into()]),
        ))
        .await?;
    }
    Ok(())
}

/// How a page finds the contacts matching a query.
pub(super) enum Filter<'a> {
    /// Every listed contact.
    None,
    /// Walk the list newest first, testing each row against the LIKE
    /// patterns, and stop after `window` rows (`None`: at the page's end).
    Scan { patterns: &'a [String], window: Option<u64> },
    /// Ask the search index for the rows matching (on SQLite the FTS5
    /// expression, on PostgreSQL the patterns through the trigram index),
    /// test them against the patterns, and sort what is found.
    Indexed { patterns: &'a [String], fts_expression: &'a str },
}

/// Up to `limit` contacts of the list after `cursor`, newest first, that
/// pass `filter`.
pub(super) async fn page(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    cursor: Option<&ListCursor>,
    filter: Filter<'_>,
    limit: u64,
    plans: Option<&mut Vec<String>>,
) -> Result<Vec<Contact>, Error> {
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = Vec::new();
    let newest_first = "ORDER BY l.create_time_us DESC, l.contact_id DESC";
    let revision_of_row = r#"r."tenant" = l.tenant AND r."contact_id" = l.contact_id AND r."revision" = l.revision"#;
    let sql = match filter {
        Filter::None => {
            values.push(tenant.as_str().into());
            let cursor_condition = after(cursor, &mut values, "l.");
            format!(
                r#"SELECT r.* FROM contact_listing l CROSS JOIN "contact_revision" r
                   WHERE l.tenant = ?{cursor_condition} AND {revision_of_row} {newest_first} LIMIT ?"#
            )
        }
        Filter::Scan { patterns, window } => {
            values.push(tenant.as_str().into());
            let cursor_condition = after(cursor, &mut values, "");
            let window_limit = match window {
                Some(window) => {
                    values.push((window as i64).into());
                    "LIMIT ?"
                }
                None => "",
            };
            let matches = any_like(&mut values, patterns, "l.");
            // CROSS JOIN makes SQLite keep this order: the window first, the
            // revision rows only for the rows that match.
            format!(
                r#"SELECT r.* FROM (SELECT id, tenant, contact_id, create_time_us, revision, search_text
                     FROM contact_listing WHERE tenant = ?{cursor_condition}
                     ORDER BY create_time_us DESC, contact_id DESC {window_limit}) l
                   CROSS JOIN "contact_revision" r
                   WHERE ({matches}) AND {revision_of_row} {newest_first} LIMIT ?"#
            )
        }
        Filter::Indexed { patterns, fts_expression } => match backend {
            DbBackend::Postgres => {
                // MATERIALIZED: the trigram index finds every match first;
                // the planner would otherwise walk the list index newest
                // first hoping to meet 50 matches early, which a query rare
                // enough to get here does not.
                values.push(tenant.as_str().into());
                let cursor_condition = after(cursor, &mut values, "");
                let matches = any_like(&mut values, patterns, "");
                format!(
                    r#"WITH m AS MATERIALIZED (SELECT id FROM contact_listing
                         WHERE tenant = ?{cursor_condition} AND ({matches}))
                       SELECT r.* FROM m JOIN contact_listing l ON l.id = m.id
                       JOIN "contact_revision" r ON {revision_of_row} {newest_first} LIMIT ?"#
                )
            }
            _ => {
                values.push(fts_expression.into());
                values.push(tenant.as_str().into());
                let cursor_condition = after(cursor, &mut values, "l.");
                let matches = any_like(&mut values, patterns, "l.");
                // The FTS5 match is a superset (its case folding is its
                // own): the patterns decide.
                format!(
                    r#"SELECT r.* FROM (SELECT rowid AS id FROM contact_listing_fts WHERE contact_listing_fts MATCH ?) m
                       CROSS JOIN contact_listing l CROSS JOIN "contact_revision" r
                       WHERE l.id = m.id AND l.tenant = ?{cursor_condition} AND ({matches}) AND {revision_of_row}
                       {newest_first} LIMIT ?"#
                )
            }
        },
    };
    values.push((limit as i64).into());
    if let Some(plans) = plans {
        plans.push(explain(db, &sql, values.clone()).await?);
    }
    let found = contact_revision::Entity::find().from_raw_sql(statement(backend, &sql, values)).all(db).await?;
    found.into_iter().map(rows::contact).collect()
}

/// Where the list stands `window` rows after `cursor`: the cursor a scan of
/// that window ends at, or `None` when the list ends first.
pub(super) async fn cursor_after(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    cursor: Option<&ListCursor>,
    window: u64,
    plans: Option<&mut Vec<String>>,
) -> Result<Option<ListCursor>, Error> {
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = vec![tenant.as_str().into()];
    let cursor_condition = after(cursor, &mut values, "");
    values.push((window as i64 - 1).into());
    let sql = format!(
        "SELECT create_time_us, contact_id FROM contact_listing WHERE tenant = ?{cursor_condition}
         ORDER BY create_time_us DESC, contact_id DESC LIMIT 1 OFFSET ?"
    );
    if let Some(plans) = plans {
        plans.push(explain(db, &sql, values.clone()).await?);
    }
    let row = db.query_one_raw(statement(backend, &sql, values)).await?;
    Ok(match row {
        Some(row) => {
            Some(ListCursor { create_time_us: row.try_get_by_index(0)?, contact_id: row.try_get_by_index(1)? })
        }
        None => None,
    })
}

/// The plan of `sql` as the database runs it, with its statement first.
async fn explain(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Result<String, Error> {
    let backend = db.get_database_backend();
    let (prefix, detail_column) = match backend {
        DbBackend::Postgres => ("EXPLAIN (ANALYZE, BUFFERS) ", 0),
        _ => ("EXPLAIN QUERY PLAN ", 3),
    };
    let rows = db.query_all_raw(statement(backend, &format!("{prefix}{sql}"), values)).await?;
    let mut plan = format!("{}\n", sql.split_whitespace().collect::<Vec<_>>().join(" "));
    for row in rows {
        plan.push_str(&row.try_get_by_index::<String>(detail_column)?);
        plan.push('\n');
    }
    Ok(plan)
}

/// ` AND (create_time_us, contact_id) < (?, ?)` with the cursor bound, or
/// nothing without one. A row-value comparison, not `t < ? OR (t = ? AND
/// id < ?)`: both databases seek the index to the cursor with it, where the
/// OR form makes them read every newer row first.
fn after(cursor: Option<&ListCursor>, values: &mut Vec<Value>, alias: &str) -> String {
    match cursor {
        Some(cursor) => {
            values.extend([cursor.create_time_us.into(), cursor.contact_id.clone().into()]);
            format!(" AND ({alias}create_time_us, {alias}contact_id) < (?, ?)")
        }
        None => String::new(),
    }
}

/// `search_text LIKE p1 OR ...`, each pattern bound.
fn any_like(values: &mut Vec<Value>, patterns: &[String], alias: &str) -> String {
    values.extend(patterns.iter().map(|pattern| Value::from(pattern.clone())));
    vec![format!(r"{alias}search_text LIKE ? ESCAPE '\'"); patterns.len()].join(" OR ")
}
