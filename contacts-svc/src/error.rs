//! The one error type of contacts-svc, and the one place it becomes a `tonic::Status`.

use std::collections::HashMap;

use accommador_proto::{
    reasons,
    status::{ErrorInfo, Violations, error_info, field_violations},
    tenant::{TENANT_ID_HEADER, TenantIdError},
};
use accommador_server::guard::{current_request_id, logged_failure_message};
use tonic::{Code, Status};

use crate::domain::PictureTooLarge;

/// `ErrorInfo.domain` of every error this service decides.
pub const ERROR_DOMAIN: &str = "contacts.accommador";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    TenantId(#[from] TenantIdError),
    /// Request fields that are wrong, all of them at once.
    #[error("{0}")]
    InvalidFields(Violations),
    #[error("request_id {request_id:?} was already used for a different request")]
    RequestIdReused { request_id: String },
    #[error("contact {id} not found")]
    NotFound { id: String },
    /// Any id of a merge group EraseContact erased.
    #[error("contact {id} was erased at {}", rfc3339(*erase_time_us))]
    Erased { id: String, erase_time_us: i64 },
    #[error("contact {id} has no revision {revision}")]
    RevisionNotFound { id: String, revision: i64 },
    #[error("contact {id} was already merged into {survivor}")]
    AlreadyMerged { id: String, survivor: String },
    /// RemoveProfilePicture on a contact without a picture.
    #[error("contact {id} has no profile picture to remove")]
    NoPicture { id: String },
    /// UnmergeContacts on a pair that is not merged now.
    #[error("contact {duplicate} is not merged into {primary}{}", merged_into.as_ref().map(|other| format!(" (it is merged into {other})")).unwrap_or_default())]
    NotMergedInto { primary: String, duplicate: String, merged_into: Option<String> },
    /// WatchContactEvents when EVENTS_MAX_WATCHERS streams are open (or a
    /// quarter of them for the tenant).
    #[error(
        "{} already holds its limit of {limit} event streams (EVENTS_MAX_WATCHERS in all, a quarter of it per tenant); retry with backoff, or page with ListContactEvents",
        if *per_tenant { "this tenant" } else { "the server" }
    )]
    WatchersExhausted { limit: usize, per_tenant: bool },
    /// The NATS relay could not reach or publish to JetStream (logged, retried).
    #[error("NATS JetStream is unavailable: {0}")]
    EventsUnavailable(String),
    /// A stream ended because the server is shutting down.
    #[error("contacts-svc is shutting down; reconnect with the last cursor you received")]
    ShuttingDown,
    /// ListContactEvents with a cursor this service did not hand out.
    #[error(
        "`after` is not a cursor of this feed; pass an event's `cursor` or a `next_cursor` as given, or leave it empty to start from the oldest event kept"
    )]
    EventCursorInvalid,
    /// ListContactEvents with a cursor older than the retention.
    #[error(
        "the cursor is older than the event retention ({}): the events after it are gone; rebuild your state from ListContacts, then follow the feed from an empty cursor",
        humantime::format_duration(*retention)
    )]
    EventCursorExpired { retention: std::time::Duration },
    /// UnmergeContacts naming the intermediate contact of a ReplaceProfilePicture.
    #[error(
        "contact {carrier} only carried a replaced picture into {primary} and was never live, so it cannot be unmerged; to change the picture again, call ReplaceProfilePicture (or RemoveProfilePicture) on {primary}"
    )]
    PictureCarrier { primary: String, carrier: String },
    /// The picture is over MAX_PICTURE_BYTES; media-svc was not called.
    #[error("{0}")]
    PictureTooLarge(#[from] PictureTooLarge),
    /// media-svc refused the request; its status passes through.
    #[error("media-svc: {}", .0.message())]
    Media(Status),
    #[error("this tenant already has {limit} calls in progress (TENANT_MAX_IN_PROGRESS); retry with backoff")]
    TenantBusy { limit: usize },
    #[error("media-svc is unavailable: {0}")]
    MediaUnavailable(String),
    /// The call's deadline (or MEDIA_TIMEOUT) passed while media-svc worked.
    #[error("media-svc did not answer within {0:?} (what was left of the call's deadline, at most MEDIA_TIMEOUT)")]
    MediaDeadlineExceeded(std::time::Duration),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid_field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::InvalidFields(Violations::one(field, problem))
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let mut message = error.to_string();
        let mut metadata = HashMap::new();
        let mut violations = Violations::new();
        // Exhaustive on purpose: a new variant must decide its code and reason here.
        let (code, reason) = match error {
            Error::TenantId(_) => {
                violations.add(TENANT_ID_HEADER, message.clone());
                (Code::InvalidArgument, reasons::TENANT_ID_INVALID)
            }
            Error::InvalidFields(fields) => {
                violations = fields;
                (Code::InvalidArgument, reasons::CONTACT_INVALID)
            }
            Error::RequestIdReused { request_id } => {
                metadata.insert("request_id".into(), request_id);
                violations.add("request_id", message.clone());
                (Code::InvalidArgument, reasons::REQUEST_ID_REUSED)
            }
            Error::NotFound { id } => {
                metadata.insert("contact_id".into(), id);
                (Code::NotFound, reasons::CONTACT_NOT_FOUND)
            }
            Error::Erased { id, erase_time_us } => {
                metadata.insert("contact_id".into(), id);
                metadata.insert("erase_time".into(), rfc3339(erase_time_us));
                (Code::NotFound, reasons::CONTACT_ERASED)
            }
            Error::RevisionNotFound { id, revision } => {
                metadata.insert("contact_id".into(), id);
                metadata.insert("revision".into(), revision.to_string());
                (Code::NotFound, reasons::REVISION_NOT_FOUND)
            }
            Error::AlreadyMerged { id, survivor } => {
                metadata.insert("contact_id".into(), id);
                metadata.insert("survivor_id".into(), survivor);
                (Code::FailedPrecondition, reasons::CONTACT_ALREADY_MERGED)
            }
            Error::NoPicture { id } => {
                metadata.insert("contact_id".into(), id);
                (Code::FailedPrecondition, reasons::CONTACT_HAS_NO_PICTURE)
            }
            Error::NotMergedInto { primary, duplicate, merged_into } => {
                metadata.insert("primary_id".into(), primary);
                metadata.insert("duplicate_id".into(), duplicate);
                if let Some(other) = merged_into {
                    metadata.insert("merged_into".into(), other);
                }
                (Code::FailedPrecondition, reasons::CONTACT_NOT_MERGED_INTO)
            }
            Error::WatchersExhausted { limit, per_tenant } => {
                metadata.insert("limit".into(), limit.to_string());
                metadata.insert("scope".into(), if per_tenant { "tenant" } else { "server" }.into());
                (Code::ResourceExhausted, reasons::EVENT_WATCHERS_EXHAUSTED)
            }
            Error::ShuttingDown => (Code::Unavailable, reasons::SHUTTING_DOWN),
            // Only the relay meets it, and it never reaches a caller; mapped
            // like any dependency that is down.
            Error::EventsUnavailable(ref detail) => {
                tracing::error!(%detail, "NATS unavailable");
                message = logged_failure_message("the event relay is unavailable");
                (Code::Unavailable, reasons::EVENTS_UNAVAILABLE)
            }
            Error::EventCursorInvalid => {
                violations.add("after", message.clone());
                (Code::InvalidArgument, reasons::EVENT_CURSOR_INVALID)
            }
            Error::EventCursorExpired { retention } => {
                metadata.insert("retention_seconds".into(), retention.as_secs().to_string());
                (Code::OutOfRange, reasons::EVENT_CURSOR_EXPIRED)
            }
            Error::PictureCarrier { primary, carrier } => {
                metadata.insert("primary_id".into(), primary);
                metadata.insert("duplicate_id".into(), carrier);
                (Code::FailedPrecondition, reasons::CONTACT_IS_PICTURE_CARRIER)
            }
            Error::PictureTooLarge(PictureTooLarge { size, limit }) => {
                metadata.insert("size_bytes".into(), size.to_string());
                metadata.insert("limit_bytes".into(), limit.to_string());
                violations.add("profile_picture", message.clone());
                (Code::InvalidArgument, reasons::IMAGE_TOO_LARGE)
            }
            Error::TenantBusy { limit } => {
                metadata.insert("limit".into(), limit.to_string());
                (Code::ResourceExhausted, reasons::TENANT_BUSY)
            }
            Error::Media(status) => return media_status(status),
            Error::MediaUnavailable(ref detail) => {
                tracing::error!(%detail, "media-svc unavailable");
                message = logged_failure_message("media-svc is unavailable; retry with backoff");
                (Code::Unavailable, reasons::MEDIA_UNAVAILABLE)
            }
            Error::MediaDeadlineExceeded(waited) => {
                metadata.insert("waited_ms".into(), waited.as_millis().to_string());
                (Code::DeadlineExceeded, reasons::MEDIA_DEADLINE_EXCEEDED)
            }
            // Database and internal error text names tables, queries and
            // hosts: it is logged, and the caller gets a stable message.
            Error::Database(ref db) if is_unreachable(db) => {
                tracing::error!(error = %db, "database unreachable");
                message = logged_failure_message("the database is unavailable; retry with backoff");
                (Code::Unavailable, reasons::DATABASE_UNAVAILABLE)
            }
            Error::Database(ref db) => {
                tracing::error!(error = %db, "database error");
                message = logged_failure_message("the database failed");
                (Code::Internal, reasons::DATABASE_ERROR)
            }
            Error::Internal(ref detail) => {
                tracing::error!(%detail, "internal error");
                message = logged_failure_message("internal error");
                (Code::Internal, reasons::INTERNAL)
            }
        };
        if let Some(request_id) = current_request_id() {
            metadata.entry("request_id".into()).or_insert(request_id);
        }
        violations.into_status(code, message, ErrorInfo::new(reason, ERROR_DOMAIN, metadata))
    }
}

/// A time in microseconds since the epoch as RFC 3339, the way
/// `google.protobuf.Timestamp` prints (UTC, "Z").
fn rfc3339(micros: i64) -> String {
    let timestamp = prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    };
    timestamp.to_string()
}

/// Whether the database could not be reached (worth retrying), as opposed to
/// a statement that failed.
fn is_unreachable(error: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    let lost = |runtime: &RuntimeErr| {
        matches!(runtime, RuntimeErr::SqlxError(error)
            if matches!(**error, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed))
    };
    match error {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => lost(runtime),
        _ => false,
    }
}

/// A media-svc error as the caller of CreateContact should see it: same
/// code, reason and message, with media's `data` field renamed to the
/// request field the caller knows, `profile_picture`.
fn media_status(status: Status) -> Status {
    let info =
        error_info(&status).unwrap_or_else(|| ErrorInfo::new(reasons::MEDIA_ERROR, "media.accommador", HashMap::new()));
    let mut violations = Violations::new();
    for violation in field_violations(&status) {
        let field = if violation.field == "data" { "profile_picture".to_owned() } else { violation.field };
        violations.add(field, violation.description);
    }
    violations.into_status(status.code(), format!("profile_picture: {}", status.message()), info)
}
