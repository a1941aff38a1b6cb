//! media-svc against real S3 servers, as one test binary (each binary links
//! the whole crate; one link instead of two). Every test runs on each of
//! [`backends::all`]: the embedded S3 server always, Garage when
//! `TEST_GARAGE_ENDPOINT` names one (tests/run.sh starts it).
//!
//! - [`storage`]: uploads, dedupe, claims, signed URLs, privacy, expiry.
//! - [`janitor`]: pending images deleted, claimed ones kept, races.
//! - [`release`]: released images deleted at once, other owners' kept, races.
//! - [`previews`]: ThumbHash and dominant colour stored with the image.

mod backends;
mod helpers;
mod janitor;
mod previews;
mod release;
mod storage;
