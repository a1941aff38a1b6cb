//! What makes a revision row part of what readers see: the newest revision
//! of a contact that is neither merged away nor erased. Every read of
//! contacts and the Smart List's table (`listing`) share these conditions.

use sea_orm::sea_query::Expr;

/// `contact_revision.revision` is the newest revision of its contact.
pub(super) const IS_LATEST: &str = r#""contact_revision"."revision" = (SELECT MAX(r2."revision") FROM "contact_revision" r2 WHERE r2."tenant" = "contact_revision"."tenant" AND r2."contact_id" = "contact_revision"."contact_id")"#;

/// The contact is not merged away: it has no merge event, or its newest is an unmerge.
pub(super) const IS_NOT_MERGED: &str = r#"NOT EXISTS (SELECT 1 FROM "contact_merge_event" e WHERE e."tenant" = "contact_revision"."tenant" AND e."duplicate_id" = "contact_revision"."contact_id" AND e."kind" = 'merge' AND e."generation" = (SELECT MAX(e2."generation") FROM "contact_merge_event" e2 WHERE e2."tenant" = e."tenant" AND e2."duplicate_id" = e."duplicate_id"))"#;

/// The contact was not erased: EraseContact leaves its rows redacted and
/// a `contact_erasure` row, which every read of contacts must respect.
pub(super) const IS_NOT_ERASED: &str = r#"NOT EXISTS (SELECT 1 FROM "contact_erasure" x WHERE x."tenant" = "contact_revision"."tenant" AND x."contact_id" = "contact_revision"."contact_id")"#;

pub(super) fn is_not_erased() -> Expr {
    Expr::cust(IS_NOT_ERASED)
}

pub(super) fn is_latest() -> Expr {
    Expr::cust(IS_LATEST)
}

pub(super) fn is_not_merged() -> Expr {
    Expr::cust(IS_NOT_MERGED)
}
