//! Tables. Contact data is append-only: rows of `contact`, `contact_revision`,
//! `contact_merge` and the merge groups are inserted and never updated or
//! deleted, with one exception: erasure (`store::erasure`) redacts a
//! person's values in place, audited by a `contact_erasure` row. Times are microseconds since the epoch (BIGINT), identical on
//! both databases.

/// One row per contact id, written at creation: the anchor merges lock.
pub mod contact {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub create_time_us: i64,
        /// The intermediate contact of a ReplaceProfilePicture: never live,
        /// so never unmerged (see `store::unmerges`). Since m0008.
        #[sea_orm(default_value = false)]
        pub picture_carrier: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every revision of every contact.
pub mod contact_revision {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_revision")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub contact_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
        pub first_name: String,
        pub last_name: String,
        pub email: String,
        /// The case-folded email. Duplicate search reads `contact_match_key`
        /// since m0005; kept filled for older readers.
        pub email_key: String,
        pub phone: String,
        pub company_name: String,
        /// JSON array of strings.
        #[sea_orm(column_type = "Text")]
        pub tags: String,
        pub source: String,
        /// JSON array of strings.
        #[sea_orm(column_type = "Text")]
        pub additional_emails: String,
        /// JSON array of strings.
        #[sea_orm(column_type = "Text")]
        pub additional_phones: String,
        pub image_id: Option<String>,
        /// When revision 1 was written (copied into every revision).
        pub create_time_us: i64,
        pub revision_create_time_us: i64,
        /// JSON array of contact ids.
        #[sea_orm(column_type = "Text")]
        pub merged_contact_ids: String,
        /// What ListContacts' query is matched against (`domain::search_text`):
        /// derived from the fields, so a migration that changes the folding
        /// rewrites it (the one kind of update these rows ever see).
        #[sea_orm(column_type = "Text")]
        pub search_text: String,
        /// The folded "first last" when both are set. Duplicate search reads
        /// `contact_match_key` since m0005; kept filled for older readers.
        pub full_name_key: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Merges made before m0006: one per duplicate (its primary key made a
/// second merge of the same duplicate impossible). m0006 copied every row
/// into [`contact_merge_event`], which is what the service reads and writes
/// since; this table is kept as it was, history.
pub mod contact_merge {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_merge")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub duplicate_id: String,
        pub primary_id: String,
        /// The primary's revision the merge wrote.
        pub primary_revision: i64,
        pub merge_time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Merges and unmerges, append-only: a duplicate's events are numbered by
/// `generation`, and the newest says whether it is merged away now (`merge`)
/// or live again (`unmerge`), so a contact can be merged, unmerged and
/// merged again. A merge records what UnmergeContacts needs to replay it
/// without the one undone: the duplicate's revision and the fields taken.
pub mod contact_merge_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_merge_event")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub duplicate_id: String,
        /// 1 for the duplicate's first merge, then one more per event.
        #[sea_orm(primary_key, auto_increment = false)]
        pub generation: i64,
        /// `merge` or `unmerge`.
        pub kind: String,
        pub primary_id: String,
        /// The primary's revision the event wrote.
        pub primary_revision: i64,
        /// A merge: the duplicate's revision that was merged (its last one,
        /// since a merged-away contact gets no new revision). An unmerge:
        /// the duplicate's revision it restored.
        pub duplicate_revision: i64,
        /// A merge: JSON array of the `take_from_duplicate` names. NULL for
        /// merges recorded before m0006 (replayed with the fields inferred
        /// from the revisions they wrote, see `domain::unmerge`) and for
        /// unmerges.
        #[sea_orm(column_type = "Text", nullable)]
        pub take_from_duplicate: Option<String>,
        pub time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// AIP-155 request ids: what a request id produced, to replay it.
pub mod request_record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "request_record")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        /// `create`, `merge`, `unmerge` (book::idempotency::Operation).
        pub operation: String,
        /// SHA-256 of the request without its request id.
        pub fingerprint: String,
        pub contact_id: String,
        pub revision: i64,
        pub create_time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Claims and releases owed to media-svc, written in the same transaction as the contact
/// that needs them and deleted once media-svc acknowledged them. Not
/// contact data: a work queue, so its scheduling columns are updated.
pub mod claim_outbox {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "claim_outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub tenant: String,
        pub image_id: String,
        pub owner: String,
        pub create_time_us: i64,
        /// When media-svc would delete the unclaimed image.
        pub claim_deadline_us: i64,
        /// When a worker may take the entry next: its retry time after a
        /// failure, or the end of the lease of the worker delivering it now,
        /// so a second replica never delivers it at the same time and a
        /// worker that dies only delays it by one lease. Defaults (here and
        /// below) keep the schema of a new database the same as that of one
        /// the third migration added these columns to.
        #[sea_orm(default_value = 0)]
        pub next_attempt_us: i64,
        /// Delivery attempts so far: the exponent of the backoff.
        #[sea_orm(default_value = 0)]
        pub attempts: i32,
        /// Why the last attempt failed, for operators (no contact data in it).
        #[sea_orm(column_type = "Text", default_value = "")]
        pub last_error: String,
        /// `claim` or `release` (`store::outbox::CLAIM`, `RELEASE`); since m0007.
        #[sea_orm(default_value = "claim")]
        pub action: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Claims media-svc refused for good (the image is gone, or the request is
/// one it can never accept): moved out of the outbox so they stop taking
/// turns, and kept with their last error for an operator to look at.
pub mod claim_dead_letter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "claim_dead_letter")]
    pub struct Model {
        /// The outbox entry's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub tenant: String,
        pub image_id: String,
        pub owner: String,
        pub create_time_us: i64,
        pub dead_time_us: i64,
        pub attempts: i32,
        #[sea_orm(column_type = "Text")]
        pub last_error: String,
        /// `claim` or `release`, as in the outbox; since m0007.
        #[sea_orm(default_value = "claim")]
        pub action: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Merge groups, for resolving any id to its survivor with one lookup
/// however long the chain of merges behind it (see `store::merges`).
/// Append-only: a contact's current group is its row with the highest
/// `generation`. A contact that never took part in a merge has no row and
/// is its own group.
pub mod merge_group_member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "merge_group_member")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub contact_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub generation: i64,
        /// The group: the id of one of its members, fixed for the group's life.
        pub group_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A merge group's survivor and size over time; the current one is the row
/// with the highest `generation`.
pub mod merge_group {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "merge_group")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub generation: i64,
        /// The one contact of the group not merged away.
        pub survivor_id: String,
        /// Members, the survivor included: decides which side of a merge is
        /// re-pointed (the smaller), which keeps the rows written O(n log n).
        pub size: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Secrets every replica must share, made once by whichever starts first:
/// the key that signs page tokens. Inserted once, never updated.
pub mod server_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "server_key")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub secret: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The values a revision is found by in duplicate search, one row per value
/// (every email and phone, additional ones included, and the full name),
/// written with the revision and never changed: matching is symmetric and
/// index-backed however many values a merge gathered on one contact.
pub mod contact_match_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_match_key")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        /// `email`, `phone` or `name` (`domain::MatchKind`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        /// The folded value (`ContactFields::match_keys`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub contact_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Moderation done to contacts, append-only: who took what down, when and
/// why. UnmergeContacts reads it, so a replay never brings back a picture
/// taken down (see `store::unmerges`).
pub mod contact_moderation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_moderation")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub contact_id: String,
        /// The contact's revision the action wrote.
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
        /// `remove_picture` (`store::takedown::REMOVE_PICTURE`).
        pub action: String,
        /// The image taken down.
        pub image_id: String,
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        /// The caller, as the auth layer knows it: a credential's name.
        pub actor: String,
        pub time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Erasures (EraseContact), append-only: one row per erased contact id, so
/// every id of the group still resolves, to this marker. What an erasure
/// keeps: the ids, when, who and why. `erasure_id` ties the rows one call
/// wrote together.
pub mod contact_erasure {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_erasure")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub contact_id: String,
        pub erasure_id: String,
        /// The id the call named.
        pub requested_id: String,
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        /// The caller, as the auth layer knows it: a credential's name.
        pub actor: String,
        pub time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The contact event log (ListContactEvents), append-only and written in the
/// transaction of the change it announces: one row per event, numbered per
/// tenant without gaps in commit order (see `store::events`). Only the
/// retention pruning deletes rows, oldest first.
pub mod contact_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_event")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence: i64,
        /// A UUIDv7, unique across tenants: what downstream deduplicates by.
        pub event_id: String,
        /// `domain::ContactEvent::type_name`.
        pub event_type: String,
        /// The event as JSON: ids, revisions and image ids, never values.
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Each tenant's last event number. Updated by every write that logs events,
/// in its transaction: its row lock is what orders a tenant's events by commit.
pub mod contact_event_counter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_event_counter")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        pub last_sequence: i64,
        /// The oldest sequence still kept: retention prunes the ones before.
        pub retained_from: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How far the NATS relay has published each tenant's events: the last
/// sequence JetStream acknowledged. Only moves forward.
pub mod event_relay_position {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "event_relay_position")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant: String,
        pub last_sequence: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
