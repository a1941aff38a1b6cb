//! The claim outbox as a work queue: every entry has its own schedule, so a
//! claim that keeps failing waits on its own backoff while the entries
//! behind it are delivered.
//!
//! Taking an entry *leases* it: one statement moves its `next_attempt_us` to
//! the end of the lease and returns it. Another worker (a second replica)
//! sees it as not due until then, and a worker that dies mid-delivery only
//! delays the entry by one lease. On PostgreSQL `FOR UPDATE SKIP LOCKED`
//! lets two replicas lease at the same moment without waiting on each
//! other or taking the same rows; SQLite has one writer at a time anyway.
//!
//! Releases share the queue (an `action` column, m0007) rather than a
//! sibling table: what must be ordered is a claim and a later release of
//! the same image for the same owner, and one table answers that with one
//! index lookup. An entry is never leased while an earlier entry of the
//! same (tenant, image, owner) is still queued, leased or waiting on its
//! backoff: a release delivered before the claim it follows would leave the
//! image claimed for good. Entries of other images and owners do not wait.

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, TransactionTrait,
    sea_query::Expr,
};

use super::{
    Store,
    entities::{claim_dead_letter, claim_outbox},
    statement,
};
use crate::{domain::ContactId, error::Error};

/// A claim owed to media-svc: an outbox row as stored.
pub use super::entities::claim_outbox::Model as ClaimEntry;

/// How much is waiting, across every tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub entries: u64,
    /// When the oldest waiting entry was written.
    pub oldest_create_time_us: Option<i64>,
}

/// `action` of an entry that claims the image for its owner.
pub const CLAIM: &str = "claim";
/// `action` of an entry that gives the owner's claim up.
pub const RELEASE: &str = "release";

/// Longest `last_error` kept: an error message, not a log.
const MAX_ERROR_LEN: usize = 500;

fn shorten(error: &str) -> String {
    error.chars().take(MAX_ERROR_LEN).collect()
}

/// The claim of `image_id` for `owner`, due at once; media-svc deletes the
/// image after `deadline_us` unless the claim got there.
pub(super) fn claim_row(
    tenant: &TenantId,
    image_id: &str,
    owner: &ContactId,
    now_us: i64,
    deadline_us: i64,
) -> claim_outbox::ActiveModel {
    claim_outbox::ActiveModel {
        id: NotSet,
        tenant: Set(tenant.to_string()),
        image_id: Set(image_id.to_owned()),
        owner: Set(owner.to_string()),
        create_time_us: Set(now_us),
        claim_deadline_us: Set(deadline_us),
        next_attempt_us: Set(now_us),
        attempts: Set(0),
        last_error: Set(String::new()),
        action: Set(CLAIM.to_owned()),
    }
}

/// The release of `image_id` by `owner`, due at once. No deadline: media-svc
/// keeps a claimed image until it is released, however late.
pub(super) fn release_row(
    tenant: &TenantId,
    image_id: &str,
    owner: &ContactId,
    now_us: i64,
) -> claim_outbox::ActiveModel {
    claim_outbox::ActiveModel {
        action: Set(RELEASE.to_owned()),
        ..claim_row(tenant, image_id, owner, now_us, i64::MAX)
    }
}

impl Store {
    /// Leases up to `limit` entries due at `now_us` until `lease_until_us`,
    /// counting an attempt for each; the most overdue first.
    pub async fn lease_claims(&self, now_us: i64, lease_until_us: i64, limit: u64) -> Result<Vec<ClaimEntry>, Error> {
        let backend = self.backend();
        let skip_locked = if backend == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        // The outer `next_attempt_us <= ?` re-checks rows another replica
        // leased between our subquery and our update (PostgreSQL re-reads
        // the row it waited for).
        let sql = format!(
            "UPDATE claim_outbox SET next_attempt_us = ?, attempts = attempts + 1 \
             WHERE next_attempt_us <= ? AND id IN (SELECT id FROM claim_outbox o WHERE o.next_attempt_us <= ? \
             AND NOT EXISTS (SELECT 1 FROM claim_outbox e WHERE e.tenant = o.tenant AND e.image_id = o.image_id \
             AND e.owner = o.owner AND e.id < o.id) \
             ORDER BY o.next_attempt_us, o.id LIMIT ? {skip_locked}) \
             RETURNING id, tenant, image_id, owner, create_time_us, claim_deadline_us, next_attempt_us, attempts, \
             last_error, action"
        );
        let values = vec![lease_until_us.into(), now_us.into(), now_us.into(), (limit as i64).into()];
        let _writer = self.writer().await;
        let rows = self.db.query_all_raw(statement(backend, &sql, values)).await?;
        let mut entries =
            rows.iter().map(|row| ClaimEntry::from_query_result(row, "")).collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|entry| (entry.create_time_us, entry.id));
        Ok(entries)
    }

    /// Queues the release of `image_id` by `owner` on its own: for a
    /// release no contact write comes with (the reconciliation's).
    pub async fn queue_release(
        &self,
        tenant: &TenantId,
        image_id: &str,
        owner: &ContactId,
        now_us: i64,
    ) -> Result<(), Error> {
        let _writer = self.writer().await;
        claim_outbox::Entity::insert(release_row(tenant, image_id, owner, now_us)).exec(&self.db).await?;
        Ok(())
    }

    /// Forgets a claim media-svc acknowledged.
    pub async fn claim_delivered(&self, id: i64) -> Result<(), Error> {
        let _writer = self.writer().await;
        claim_outbox::Entity::delete_by_id(id).exec(&self.db).await?;
        Ok(())
    }

    /// Schedules the next attempt of a claim that failed for now.
    pub async fn claim_retry_at(&self, id: i64, next_attempt_us: i64, error: &str) -> Result<(), Error> {
        let _writer = self.writer().await;
        claim_outbox::Entity::update_many()
            .col_expr(claim_outbox::Column::NextAttemptUs, Expr::value(next_attempt_us))
            .col_expr(claim_outbox::Column::LastError, Expr::value(shorten(error)))
            .filter(claim_outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Moves a claim media-svc refused for good to the dead letters, in one
    /// transaction (a replay after a crash finds the letter already there).
    pub async fn claim_dead(&self, entry: &ClaimEntry, now_us: i64, error: &str) -> Result<(), Error> {
        let _writer = self.writer().await;
        let txn = self.db.begin().await?;
        let letter = claim_dead_letter::ActiveModel {
            id: Set(entry.id),
            tenant: Set(entry.tenant.clone()),
            image_id: Set(entry.image_id.clone()),
            owner: Set(entry.owner.clone()),
            create_time_us: Set(entry.create_time_us),
            dead_time_us: Set(now_us),
            attempts: Set(entry.attempts),
            last_error: Set(shorten(error)),
            action: Set(entry.action.clone()),
        };
        claim_dead_letter::Entity::insert(letter)
            .on_conflict_do_nothing_on([claim_dead_letter::Column::Id])
            .exec_without_returning(&txn)
            .await?;
        claim_outbox::Entity::delete_by_id(entry.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The whole backlog, not a page of it.
    pub async fn claim_backlog(&self) -> Result<OutboxBacklog, Error> {
        let sql = "SELECT COUNT(*), MIN(create_time_us) FROM claim_outbox";
        let row = self.db.query_one_raw(statement(self.backend(), sql, vec![])).await?;
        let Some(row) = row else { return Ok(OutboxBacklog::default()) };
        let entries: i64 = row.try_get_by_index(0)?;
        let oldest_create_time_us: Option<i64> = row.try_get_by_index(1)?;
        Ok(OutboxBacklog { entries: entries.max(0) as u64, oldest_create_time_us })
    }
}
