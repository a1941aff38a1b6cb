//! Contacts as users know them: what a valid contact is, how two contacts
//! merge, and the signed picture a contact wears. No gRPC and no SQL here.

mod contact;
mod duplicates;
mod erasure;
mod events;
mod fields;
mod merge;
mod phone;
mod picture;
mod placeholder;
mod replace;
mod search;
mod text;
mod unmerge;

pub use contact::{Contact, ContactDraft, ContactFields, ContactId, LIMITS, Limits, MAX_LISTED_MERGED_IDS};
pub use duplicates::{MatchReason, match_reasons};
pub use erasure::ErasedValues;
pub use events::{ContactEvent, LoggedEvent};
pub use fields::{MatchKey, MatchKind};
pub use merge::{MergeField, merge, merged_revision};
pub use phone::{EXTENSION_SEPARATOR, PhoneNormalizer};
pub use picture::{Picture, PictureLimit, PictureTooLarge, Rendition};
pub use placeholder::{AvatarPlaceholder, PALETTE as PLACEHOLDER_PALETTE, avatar_placeholder};
pub use replace::{REPLACE_TAKES, picture_carrier, replaced_revision};
pub use search::{SearchQuery, fold, fold_case, phone_digits, search_text};
pub use text::clean as clean_text;
pub use unmerge::{ReplayedMerge, inferred_take, replayed_revision, restored_revision};
