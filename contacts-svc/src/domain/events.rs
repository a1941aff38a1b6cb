//! Contact events: what other services are told about changes to contacts.
//! They carry ids, revisions and image ids, never a person's values, so a
//! consumer reads the contact when it needs them and an erasure never has to
//! chase copies.

use serde::{Deserialize, Serialize};

/// One change, as announced. The `type` names are part of the contract
/// (stored, and in NATS subjects): they never change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContactEvent {
    /// A contact was created (revision 1).
    ContactCreated { contact_id: String, image_id: Option<String> },
    /// `duplicate_id` was merged into `primary_id`, which got `revision`.
    ContactMerged { primary_id: String, duplicate_id: String, revision: i64, fields_taken: Vec<String> },
    /// The contact's picture is now `image_id` (none: it has no picture), as
    /// of `revision`: from a merge, a replacement, a takedown or an unmerge.
    ProfilePictureChanged { contact_id: String, revision: i64, image_id: Option<String> },
    /// The merge of `duplicate_id` into `primary_id` was undone.
    ContactUnmerged { primary_id: String, duplicate_id: String, primary_revision: i64, duplicate_revision: i64 },
    /// These contacts (a whole merge group) were erased.
    ContactErased { contact_ids: Vec<String> },
}

impl ContactEvent {
    /// The stored and published name of the event's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ContactCreated { .. } => "contact_created",
            Self::ContactMerged { .. } => "contact_merged",
            Self::ProfilePictureChanged { .. } => "profile_picture_changed",
            Self::ContactUnmerged { .. } => "contact_unmerged",
            Self::ContactErased { .. } => "contact_erased",
        }
    }
}

/// An event as logged: its place in the tenant's sequence, its id (unique
/// across tenants, for deduplication downstream) and when it committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub sequence: i64,
    pub event_id: String,
    pub time_us: i64,
    pub event: ContactEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_with_their_type_names() {
        let events = [
            ContactEvent::ContactCreated { contact_id: "a".into(), image_id: Some("img".into()) },
            ContactEvent::ContactMerged {
                primary_id: "a".into(),
                duplicate_id: "b".into(),
                revision: 2,
                fields_taken: vec!["first_name".into()],
            },
            ContactEvent::ProfilePictureChanged { contact_id: "a".into(), revision: 3, image_id: None },
            ContactEvent::ContactUnmerged {
                primary_id: "a".into(),
                duplicate_id: "b".into(),
                primary_revision: 4,
                duplicate_revision: 2,
            },
            ContactEvent::ContactErased { contact_ids: vec!["a".into(), "b".into()] },
        ];
        for event in events {
            let json = serde_json::to_string(&event).unwrap();
            assert!(json.contains(&format!("\"type\":\"{}\"", event.type_name())), "{json}");
            assert_eq!(serde_json::from_str::<ContactEvent>(&json).unwrap(), event);
        }
    }
}
