//! The `ErrorInfo.reason` of every error either service returns: stable,
//! UPPER_SNAKE strings that programs branch on (AIP-193). A reason is part
//! of the contract: renaming one breaks callers as surely as renaming a
//! field. Both services' `error.rs`, the shared server layers and the
//! end-to-end tests name reasons through these constants, so each is
//! spelled in one place.

// Either service.

/// `x-tenant-id` is missing or not a valid tenant id.
pub const TENANT_ID_INVALID: &str = "TENANT_ID_INVALID";
/// The request's bytes are no valid message of its type (a string field
/// that is not UTF-8, a truncated or mangled encoding).
pub const MALFORMED_MESSAGE: &str = "MALFORMED_MESSAGE";
/// A failure inside the server that the caller cannot fix; the details are logged.
pub const INTERNAL: &str = "INTERNAL";
/// No `authorization: Bearer` metadata, or a token that is not valid.
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
/// A tenant API key called an RPC that only service credentials may call.
pub const SERVICE_CREDENTIAL_REQUIRED: &str = "SERVICE_CREDENTIAL_REQUIRED";
/// A tenant API key was used with an `x-tenant-id` of another tenant.
pub const TENANT_MISMATCH: &str = "TENANT_MISMATCH";
/// The call did not finish within the deadline its caller set.
pub const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";
/// The call did not finish within the server's own limit (REQUEST_TIMEOUT).
pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
/// The server already receives as many request bytes as it may hold at once.
pub const INFLIGHT_BYTES_EXHAUSTED: &str = "INFLIGHT_BYTES_EXHAUSTED";
/// The request body arrived slower than BODY_READ_TIMEOUT allows.
pub const BODY_READ_TIMEOUT: &str = "BODY_READ_TIMEOUT";
/// Too many health Watch streams on one connection or in all.
pub const HEALTH_WATCHES_EXHAUSTED: &str = "HEALTH_WATCHES_EXHAUSTED";
/// A request message declared longer than MAX_REQUEST_MESSAGE_BYTES, refused
/// from its length prefix before it is received; it can never succeed.
pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";

// contacts-svc.

/// A contact's fields are wrong (every violation listed in one BadRequest).
pub const CONTACT_INVALID: &str = "CONTACT_INVALID";
/// A `request_id` was already used for a different request.
pub const REQUEST_ID_REUSED: &str = "REQUEST_ID_REUSED";
/// No contact with this id in the tenant.
pub const CONTACT_NOT_FOUND: &str = "CONTACT_NOT_FOUND";
/// The contact (any id of its merge group) was erased by EraseContact.
pub const CONTACT_ERASED: &str = "CONTACT_ERASED";
/// UnmergeContacts named the intermediate contact of a ReplaceProfilePicture.
pub const CONTACT_IS_PICTURE_CARRIER: &str = "CONTACT_IS_PICTURE_CARRIER";
/// ListContactEvents: a cursor this service did not hand out.
pub const EVENT_CURSOR_INVALID: &str = "EVENT_CURSOR_INVALID";
/// ListContactEvents: the cursor is older than the event retention.
pub const EVENT_CURSOR_EXPIRED: &str = "EVENT_CURSOR_EXPIRED";
/// WatchContactEvents: the server (or the tenant) holds as many streams as it may.
pub const EVENT_WATCHERS_EXHAUSTED: &str = "EVENT_WATCHERS_EXHAUSTED";
/// A stream ended because the server is shutting down; reconnect (to another replica).
pub const SHUTTING_DOWN: &str = "SHUTTING_DOWN";
/// NATS JetStream (the event relay's) could not be reached.
pub const EVENTS_UNAVAILABLE: &str = "EVENTS_UNAVAILABLE";
/// The contact exists but has no such revision.
pub const REVISION_NOT_FOUND: &str = "REVISION_NOT_FOUND";
/// The contact was merged into another one, which now answers for it.
pub const CONTACT_ALREADY_MERGED: &str = "CONTACT_ALREADY_MERGED";
/// RemoveProfilePicture on a contact whose latest revision wears no picture.
pub const CONTACT_HAS_NO_PICTURE: &str = "CONTACT_HAS_NO_PICTURE";
/// UnmergeContacts: the duplicate is not merged into the primary now.
pub const CONTACT_NOT_MERGED_INTO: &str = "CONTACT_NOT_MERGED_INTO";
/// The tenant already has TENANT_MAX_IN_PROGRESS calls in progress.
pub const TENANT_BUSY: &str = "TENANT_BUSY";
/// media-svc could not be reached.
pub const MEDIA_UNAVAILABLE: &str = "MEDIA_UNAVAILABLE";
/// media-svc did not answer within the call's deadline or MEDIA_TIMEOUT.
pub const MEDIA_DEADLINE_EXCEEDED: &str = "MEDIA_DEADLINE_EXCEEDED";
/// media-svc refused a call without saying why (no ErrorInfo of its own).
pub const MEDIA_ERROR: &str = "MEDIA_ERROR";
/// The database could not be reached; retry with backoff.
pub const DATABASE_UNAVAILABLE: &str = "DATABASE_UNAVAILABLE";
/// A database statement failed; the details are logged.
pub const DATABASE_ERROR: &str = "DATABASE_ERROR";

// media-svc. The `IMAGE_*` reasons of refused images come from the pipeline
// (`Rejection::reason`), which has no protobuf dependency; a media-svc test
// checks that each of them is listed here.

/// Not JPEG or PNG, or a JPEG/PNG coded in a way media-svc does not decode.
pub const IMAGE_FORMAT_UNSUPPORTED: &str = "IMAGE_FORMAT_UNSUPPORTED";
/// The picture is larger than the byte limit (contacts-svc's MAX_PICTURE_BYTES,
/// media-svc's MEDIA_MAX_IMAGE_BYTES).
pub const IMAGE_TOO_LARGE: &str = "IMAGE_TOO_LARGE";
/// A side is too short or too long, or the area is too large.
pub const IMAGE_DIMENSIONS_OUT_OF_RANGE: &str = "IMAGE_DIMENSIONS_OUT_OF_RANGE";
/// Valid, but decoding it would cost more memory or work than one image may.
pub const IMAGE_TOO_COMPLEX: &str = "IMAGE_TOO_COMPLEX";
/// The image does not decode completely: truncated, bad checksum, bad data.
pub const IMAGE_CORRUPT: &str = "IMAGE_CORRUPT";
/// Request fields of a media-svc call are wrong (every violation listed).
pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
/// No image with this id in the tenant.
pub const IMAGE_NOT_FOUND: &str = "IMAGE_NOT_FOUND";
/// Every image worker is busy and the queue is full; retry with backoff.
pub const OVERLOADED: &str = "OVERLOADED";
/// A janitor is deleting this image right now; retry in a few seconds.
pub const CLEANUP_IN_PROGRESS: &str = "CLEANUP_IN_PROGRESS";
/// Object storage could not be reached; retry with backoff.
pub const STORAGE_UNAVAILABLE: &str = "STORAGE_UNAVAILABLE";
/// Object storage refused or failed an operation; the details are logged.
pub const STORAGE_FAILED: &str = "STORAGE_FAILED";

/// The reasons of refused images, for checking that the pipeline's
/// `Rejection::reason` strings are all part of the contract.
pub const IMAGE_REJECTIONS: &[&str] =
    &[IMAGE_FORMAT_UNSUPPORTED, IMAGE_TOO_LARGE, IMAGE_DIMENSIONS_OUT_OF_RANGE, IMAGE_TOO_COMPLEX, IMAGE_CORRUPT];
