//! Persistence with sea-orm, on SQLite (default) or PostgreSQL.
//!
//! Contact data is append-only (see [`entities`]). Writers are serialized
//! where it matters: on PostgreSQL a merge locks both `contact` rows
//! (`SELECT ... FOR UPDATE`); SQLite allows one writer anyway, so a
//! process-wide lock orders writers instead of failing them with BUSY.
//!
//! - [`requests`]: request records, the idempotency of writes (AIP-155);
//! - [`contacts`]: creating contacts, reading revisions, resolving ids;
//! - [`search`] and [`listing`]: the Smart List (keyset pages over the
//!   listing table, which every write keeps) and duplicate search;
//! - [`visibility`]: the conditions a revision row is seen under;
//! - [`merges`] and [`merge_groups`]: the merge transaction, and resolving
//!   any id to its survivor in one lookup;
//! - [`replace`]: ReplaceProfilePicture's transaction, a create and a
//!   merge in one;
//! - [`unmerges`] and [`merge_events`]: undoing a merge, from the merges
//!   recorded as events;
//! - [`takedown`]: RemoveProfilePicture's transaction, the moderation takedown;
//! - [`erasure`]: EraseContact's transaction, the one that redacts in place;
//! - [`events`]: the contact event log every write appends to;
//! - [`outbox`]: the claims and releases owed to media-svc, as a work queue;
//! - [`pictures`]: the pictures live contacts wear, for reconciliation;
//! - [`rows`]: rows to domain contacts and back.

mod contacts;
mod entities;
mod erased_traces;
mod erasure;
mod events;
mod listing;
mod merge_events;
mod merge_groups;
mod merges;
mod migration;
mod outbox;
mod pictures;
mod replace;
mod requests;
mod rows;
mod search;
mod takedown;
mod unmerges;
mod visibility;

use std::{collections::HashMap, time::Duration};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqlErr, Statement, Value,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::{Mutex, MutexGuard};

pub use contacts::CreateOutcome;
pub use erasure::{ERASED_IDS_PER_EVENT, EraseOutcome, EraseRequest, Erasure};
pub use events::{EventsAfter, RelayBacklog};
pub use listing::ListCursor;
pub use merges::{MergeOutcome, MergeRequest};
pub use outbox::{CLAIM, ClaimEntry, OutboxBacklog, RELEASE};
pub use pictures::LivePicture;
pub use requests::RequestRecord;
pub use search::LIST_SCAN_WINDOW;
pub use takedown::{REMOVE_PICTURE, TakedownOutcome, TakedownRequest};
pub use unmerges::{UnmergeOutcome, UnmergeRequest};

use crate::error::Error;

/// The database of contacts-svc, behind the queries the use cases need.
pub struct Store {
    /// A pool of connections (sea-orm over sqlx).
    db: DatabaseConnection,
    /// Held by every write transaction on SQLite; `None` on PostgreSQL.
    sqlite_writer: Option<Mutex<()>>,
}

impl Store {
    /// Connects, and migrates the schema to the current version.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(16)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let db = Database::connect(options).await?;
        let sqlite = db.get_database_backend() == DbBackend::Sqlite;
        if sqlite {
            // WAL lets readers run beside the writer; the timeout waits out
            // the rare lock instead of failing.
            db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL;")
                .await?;
        }
        migration::Migrator::up(&db, None).await?;
        Ok(Self { db, sqlite_writer: sqlite.then(|| Mutex::new(())) })
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn writer(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.sqlite_writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    /// The shared secret `name`: made from `fresh` by the first replica that
    /// asks, read by every other (an insert that loses the race is ignored).
    pub async fn server_key(&self, name: &str, fresh: Vec<u8>) -> Result<Vec<u8>, Error> {
        use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};
        let row = entities::server_key::ActiveModel { name: Set(name.to_owned()), secret: Set(fresh) };
        entities::server_key::Entity::insert(row)
            .on_conflict(OnConflict::column(entities::server_key::Column::Name).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await?;
        let stored = entities::server_key::Entity::find_by_id(name.to_owned()).one(&self.db).await?;
        stored.map(|row| row.secret).ok_or_else(|| Error::Internal(format!("server key {name} missing after insert")))
    }

    /// Checks the database answers: the readiness check (server.rs polls it
    /// and reports the service NOT_SERVING while it fails).
    pub async fn ping(&self) -> Result<(), Error> {
        Ok(self.db.ping().await?)
    }
}

/// Ids per `IN (...)` list: far under SQLite's 32,766 bound parameters and
/// PostgreSQL's 65,535, whatever the group's size (merge groups have no
/// size limit).
const IDS_PER_STATEMENT: usize = 500;

/// Latest revisions keyed by contact id.
pub type LatestRevisions = HashMap<crate::domain::ContactId, crate::domain::Contact>;

/// `error`, once `txn` is rolled back. A transaction only dropped is rolled
/// back when its connection is next used, and until then it keeps its row
/// locks (PostgreSQL) or the write lock (SQLite) from everyone else.
async fn rolled_back(txn: sea_orm::DatabaseTransaction, error: Error) -> Error {
    if let Err(rollback) = txn.rollback().await {
        tracing::warn!(error = %rollback, "rolling back a failed write failed too");
    }
    error
}

/// Whether an insert failed because the row is there already.
fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A statement written with `?` placeholders, numbered for PostgreSQL.
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => {
            let mut numbered = String::with_capacity(sql.len() + 8);
            for (index, part) in sql.split('?').enumerate() {
                if index > 0 {
                    numbered.push_str(&format!("${index}"));
                }
                numbered.push_str(part);
            }
            numbered
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered_in_order() {
        let statement = statement(DbBackend::Postgres, "a = ? AND b IN (?, ?)", vec![1.into(), 2.into(), 3.into()]);
        assert_eq!(statement.sql, "a = $1 AND b IN ($2, $3)");
    }

    #[test]
    fn sqlite_keeps_question_marks() {
        assert_eq!(statement(DbBackend::Sqlite, "a = ?", vec![1.into()]).sql, "a = ?");
    }
}
