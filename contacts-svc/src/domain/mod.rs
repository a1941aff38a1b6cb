//! Contacts as users know them: what a valid contact is, how two contacts
//! merge, and the signed picture a contact wears. No gRPC and no SQL here.

mod contact;
mod duplicates;
mod fields;
mod merge;
mod picture;

pub use contact::{Contact, ContactDraft, ContactFields, ContactId, Limits, MAX_LISTED_MERGED_IDS, PhoneNormalizer};
pub use duplicates::{MatchReason, match_reasons};
pub use merge::{MergeField, merge, merged_revision};
pub use picture::{Picture, PictureLimit, PictureTooLarge, Rendition};
