//! The contact event log: every write appends its events in its own
//! transaction, so an event exists exactly when its change committed.
//!
//! Numbering: each tenant's events are numbered 1, 2, 3, ... in commit
//! order, without gaps. A write takes its numbers by bumping the tenant's
//! row in `contact_event_counter` (an upsert), and that row stays locked
//! until the write commits or rolls back (PostgreSQL; SQLite has one writer
//! anyway). So a later number always commits later, and a reader that saw
//! event n never finds an n-1 appear afterwards: "everything after my
//! cursor" is exact, which is what lets a consumer resume from the last
//! event it handled. The price is that a tenant's writes commit one at a
//! time from the counter bump on, which is a few statements at the end of
//! each transaction.

use accommador_proto::tenant::TenantId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, Value,
};

use super::{
    Store,
    entities::{contact_event, contact_event_counter},
    statement,
};
use crate::{
    domain::{ContactEvent, LoggedEvent},
    error::Error,
};

/// Appends `events` to the tenant's log, numbered after its last event.
pub(super) async fn append_events(
    txn: &DatabaseTransaction,
    tenant: &TenantId,
    events: &[ContactEvent],
    now_us: i64,
) -> Result<(), Error> {
    if events.is_empty() {
        return Ok(());
    }
    let count = events.len() as i64;
    let sql = "INSERT INTO contact_event_counter (tenant, last_sequence, retained_from) VALUES (?, ?, 1) \
               ON CONFLICT (tenant) DO UPDATE SET last_sequence = contact_event_counter.last_sequence + ? \
               RETURNING last_sequence";
    let values: Vec<Value> = vec![tenant.as_str().into(), count.into(), count.into()];
    let row = txn
        .query_one_raw(statement(txn.get_database_backend(), sql, values))
        .await?
        .ok_or_else(|| Error::Internal("the event counter returned no row".into()))?;
    let last: i64 = row.try_get_by_index(0)?;
    let rows = events.iter().enumerate().map(|(index, event)| contact_event::ActiveModel {
        tenant: Set(tenant.to_string()),
        sequence: Set(last - count + 1 + index as i64),
        event_id: Set(uuid::Uuid::now_v7().to_string()),
        event_type: Set(event.type_name().to_owned()),
        payload: Set(serde_json::to_string(event).expect("events serialize")),
        time_us: Set(now_us),
    });
    contact_event::Entity::insert_many(rows).exec(txn).await?;
    Ok(())
}

/// Where a reader stands in a tenant's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsAfter {
    /// Up to `limit` events after the cursor, oldest first.
    Events,
    /// The cursor points before the oldest event retention kept: events
    /// after it are gone, and reading on would skip them silently.
    Expired { retained_from: i64 },
    /// The cursor is past the tenant's last event: not one of its cursors.
    Unknown,
}

impl Store {
    /// Up to `limit` events of the tenant numbered after `after` (`None`:
    /// from the oldest kept), oldest first.
    pub async fn events_after(
        &self,
        tenant: &TenantId,
        after: Option<i64>,
        limit: u64,
    ) -> Result<(EventsAfter, Vec<LoggedEvent>), Error> {
        let from = after.unwrap_or(0);
        let rows = contact_event::Entity::find()
            .filter(contact_event::Column::Tenant.eq(tenant.as_str()))
            .filter(contact_event::Column::Sequence.gt(from))
            .order_by_asc(contact_event::Column::Sequence)
            .limit(limit)
            .all(&self.db)
            .await?;
        // The retention mark is read after the events: pruning moves it in
        // the transaction that deletes, so events deleted before our read
        // show in the mark now, and the answer is never a silent gap.
        let counter = contact_event_counter::Entity::find_by_id(tenant.to_string()).one(&self.db).await?;
        if let Some(after) = after {
            let (last, retained_from) = counter.as_ref().map_or((0, 1), |c| (c.last_sequence, c.retained_from));
            // Past the end: no cursor this feed handed out names it.
            if after > last {
                return Ok((EventsAfter::Unknown, Vec::new()));
            }
            if after < retained_from - 1 {
                return Ok((EventsAfter::Expired { retained_from }, Vec::new()));
            }
        }
        let events = rows
            .into_iter()
            .map(|row| {
                let event = serde_json::from_str(&row.payload)
                    .map_err(|error| Error::Internal(format!("corrupt event {}: {error}", row.sequence)))?;
                Ok(LoggedEvent { sequence: row.sequence, event_id: row.event_id, time_us: row.time_us, event })
            })
            .collect::<Result<_, Error>>()?;
        Ok((EventsAfter::Events, events))
    }

    /// Deletes events older than `before_us`, at most `limit` per tenant per
    /// call, and moves each tenant's retention mark past them.
    pub async fn prune_events(&self, before_us: i64, limit: u64) -> Result<u64, Error> {
        let _writer = self.writer().await;
        let tenants: Vec<String> = contact_event_counter::Entity::find()
            .select_only()
            .column(contact_event_counter::Column::Tenant)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut pruned = 0;
        for tenant in tenants {
            let last_old: Option<i64> = contact_event::Entity::find()
                .select_only()
                .column(contact_event::Column::Sequence)
                .filter(contact_event::Column::Tenant.eq(&tenant))
                .filter(contact_event::Column::TimeUs.lt(before_us))
                .order_by_asc(contact_event::Column::Sequence)
                .offset(limit.saturating_sub(1))
                .limit(1)
                .into_tuple()
                .one(&self.db)
                .await?;
            let through = match last_old {
                Some(sequence) => sequence,
                None => {
                    // Fewer than `limit` old events: all of them.
                    let newest_old: Option<Option<i64>> = contact_event::Entity::find()
                        .select_only()
                        .column_as(contact_event::Column::Sequence.max(), "max")
                        .filter(contact_event::Column::Tenant.eq(&tenant))
                        .filter(contact_event::Column::TimeUs.lt(before_us))
                        .into_tuple()
                        .one(&self.db)
                        .await?;
                    match newest_old.flatten() {
                        Some(sequence) => sequence,
                        None => continue,
                    }
                }
            };
            // The mark and the deletion commit together: a reader never
            // finds events missing behind a mark that still admits them.
            let txn = self.db.begin().await?;
            contact_event_counter::Entity::update_many()
                .col_expr(contact_event_counter::Column::RetainedFrom, sea_orm::sea_query::Expr::value(through + 1))
                .filter(contact_event_counter::Column::Tenant.eq(&tenant))
                .filter(contact_event_counter::Column::RetainedFrom.lte(through))
                .exec(&txn)
                .await?;
            let deleted = contact_event::Entity::delete_many()
                .filter(contact_event::Column::Tenant.eq(&tenant))
                .filter(contact_event::Column::Sequence.lte(through))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            pruned += deleted.rows_affected;
        }
        Ok(pruned)
    }
}

/// A tenant whose events are not all published to NATS yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayBacklog {
    pub tenant: String,
    /// The last sequence published (0: none).
    pub published: i64,
    /// The tenant's last sequence.
    pub last: i64,
}

impl Store {
    /// Up to `limit` tenants with events the relay has not published, in tenant order.
    pub async fn relay_backlog(&self, limit: u64) -> Result<Vec<RelayBacklog>, Error> {
        let sql = "SELECT c.tenant, COALESCE(p.last_sequence, 0), c.last_sequence FROM contact_event_counter c \
                   LEFT JOIN event_relay_position p ON p.tenant = c.tenant \
                   WHERE c.last_sequence > COALESCE(p.last_sequence, 0) ORDER BY c.tenant LIMIT ?";
        let rows = self.db.query_all_raw(statement(self.backend(), sql, vec![(limit as i64).into()])).await?;
        rows.iter()
            .map(|row| {
                Ok(RelayBacklog {
                    tenant: row.try_get_by_index(0)?,
                    published: row.try_get_by_index(1)?,
                    last: row.try_get_by_index(2)?,
                })
            })
            .collect::<Result<_, sea_orm::DbErr>>()
            .map_err(Error::from)
    }

    /// Records that the tenant's events through `sequence` are published;
    /// never moves a position back (another replica may be ahead).
    pub async fn relay_published(&self, tenant: &TenantId, sequence: i64) -> Result<(), Error> {
        let _writer = self.writer().await;
        let sql = "INSERT INTO event_relay_position (tenant, last_sequence) VALUES (?, ?) \
                   ON CONFLICT (tenant) DO UPDATE SET last_sequence = excluded.last_sequence \
                   WHERE event_relay_position.last_sequence < excluded.last_sequence";
        let values = vec![tenant.as_str().into(), sequence.into()];
        self.db.execute_raw(statement(self.backend(), sql, values)).await?;
        Ok(())
    }
}
