//! Contacts as users know them: what a valid contact is, and how two
//! contacts merge. No gRPC and no SQL here.

mod contact;
mod duplicates;
mod merge;

pub use contact::{Contact, ContactDraft, ContactFields, ContactId, Limits, MAX_LISTED_MERGED_IDS, PhoneNormalizer};
pub use duplicates::{MatchReason, match_reasons};
pub use merge::{MergeField, merge};
