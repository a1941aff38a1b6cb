//! Search that finds what staff type: the match-key table for symmetric,
//! index-backed duplicate search, and every revision's search text and keys
//! rebuilt with the folding of `domain::search`.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Schema,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use sea_orm_migration::prelude::*;

use crate::{
    domain,
    store::{
        entities::{contact_match_key, contact_revision},
        rows,
    },
};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_folded_search_keys"
    }
}

/// Indexes duplicate search read before `contact_match_key` took over.
const SUPERSEDED_INDEXES: &[&str] = &["contact_revision_email", "contact_revision_phone", "contact_revision_full_name"];

/// Revisions rebuilt per round trip.
const BATCH: u64 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases (sea-orm only wraps PostgreSQL's by
    /// default): a process that dies halfway leaves the schema as it was,
    /// and SQLite writes the rebuilt rows in one commit instead of one per
    /// row (100,000 revisions: 74 s row by row).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager
            .create_table(schema.create_table_from_entity(contact_match_key::Entity).if_not_exists().to_owned())
            .await?;
        for name in SUPERSEDED_INDEXES {
            manager
                .drop_index(Index::drop().name(*name).table(contact_revision::Entity).if_exists().to_owned())
                .await?;
        }
        rebuild_search_keys(manager.get_connection()).await
    }
}

/// Recomputes the derived search columns (`search_text`, `email_key`,
/// `full_name_key`) of every revision and writes its missing match keys.
/// These columns are the only ones a migration ever updates: they are
/// functions of the contact's fields, and a migration that changes the
/// folding calls this again. Safe to rerun: each write sets the same value
/// or skips a key already there.
pub(super) async fn rebuild_search_keys(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    use contact_revision::Column as C;
    let mut after: Option<(String, String, i64)> = None;
    loop {
        let mut page = contact_revision::Entity::find();
        if let Some((tenant, id, revision)) = &after {
            page =
                page.filter(
                    Expr::tuple([Expr::col(C::Tenant), Expr::col(C::ContactId), Expr::col(C::Revision)])
                        .gt(Expr::tuple([tenant.clone().into(), id.clone().into(), (*revision).into()])),
                );
        }
        let batch = page
            .order_by_asc(C::Tenant)
            .order_by_asc(C::ContactId)
            .order_by_asc(C::Revision)
            .limit(BATCH)
            .all(db)
            .await?;
        let Some(last) = batch.last() else { return Ok(()) };
        after = Some((last.tenant.clone(), last.contact_id.clone(), last.revision));
        let mut keys = Vec::new();
        for row in batch {
            let tenant = accommador_proto::tenant::TenantId::parse(&row.tenant)
                .map_err(|problem| DbErr::Custom(format!("tenant {:?} in contact_revision: {problem}", row.tenant)))?;
            let stored = (row.search_text.clone(), row.email_key.clone(), row.full_name_key.clone());
            let contact = rows::contact(row).map_err(|error| DbErr::Custom(error.to_string()))?;
            let fields = &contact.fields;
            let derived = (
                domain::search_text(fields),
                domain::fold_case(&fields.email),
                fields.full_name_key().unwrap_or_default(),
            );
            if derived != stored {
                contact_revision::Entity::update_many()
                    .col_expr(C::SearchText, derived.0.into())
                    .col_expr(C::EmailKey, derived.1.into())
                    .col_expr(C::FullNameKey, derived.2.into())
                    .filter(C::Tenant.eq(tenant.as_str()))
                    .filter(C::ContactId.eq(contact.id.as_str()))
                    .filter(C::Revision.eq(contact.revision))
                    .exec(db)
                    .await?;
            }
            keys.extend(rows::match_key_rows(&tenant, &contact));
        }
        // Five columns a row: 5,000 rows stay under SQLite's 32,766 bound parameters.
        for chunk in keys.chunks(5_000) {
            contact_match_key::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        contact_match_key::Column::Tenant,
                        contact_match_key::Column::Kind,
                        contact_match_key::Column::Key,
                        contact_match_key::Column::ContactId,
                        contact_match_key::Column::Revision,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
    }
}
