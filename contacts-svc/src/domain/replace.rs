//! ReplaceProfilePicture's policy: the intermediate contact that carries the
//! new picture, and the revision merging it yields.
//!
//! The intermediate contact ("carrier") wears the new picture and nothing
//! else. Merging it with `profile_picture` taken changes the primary's
//! picture and nothing else: a carrier with no other values gives none to
//! the primary, adds no tags and nothing to the additional emails or phones.
//! That also holds when UnmergeContacts later replays the merge onto other
//! fields (an earlier merge undone): a carrier that copied the primary's
//! fields would put the undone merge's values back.

use super::{Contact, ContactFields, ContactId, MergeField, merged_revision};

/// The fields a merge takes from the intermediate contact: its picture.
pub const REPLACE_TAKES: &[MergeField] = &[MergeField::ProfilePicture];

/// Revision 1 of the contact `id` that carries `image_id` into a contact.
pub fn picture_carrier(id: ContactId, image_id: String, now_us: i64) -> Contact {
    Contact {
        id,
        revision: 1,
        fields: ContactFields { image_id: Some(image_id), ..ContactFields::default() },
        create_time_us: now_us,
        revision_create_time_us: now_us,
        merged_contact_ids: Vec::new(),
    }
}

/// `current`'s next revision once `carrier` is merged into it.
pub fn replaced_revision(current: &Contact, carrier: &Contact, now_us: i64) -> Contact {
    merged_revision(current, carrier, REPLACE_TAKES, now_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str, image_id: Option<&str>) -> Contact {
        Contact {
            id: ContactId::from_trusted(id.to_owned()),
            revision: 3,
            fields: ContactFields {
                first_name: "Ann".into(),
                last_name: "Smith".into(),
                email: "ann@example.com".into(),
                phone: "+14155550101".into(),
                company_name: "Acme".into(),
                tags: vec!["VIP".into()],
                source: "web_form".into(),
                additional_emails: vec!["a.smith@example.com".into()],
                additional_phones: vec!["+14155550102".into()],
                image_id: image_id.map(str::to_owned),
            },
            create_time_us: 10,
            revision_create_time_us: 20,
            merged_contact_ids: vec!["older".into()],
        }
    }

    #[test]
    fn replacing_changes_the_picture_and_nothing_else() {
        for old_picture in [None, Some("old-image")] {
            let current = contact("primary", old_picture);
            let carrier = picture_carrier(ContactId::from_trusted("carrier".into()), "new-image".into(), 30);
            let replaced = replaced_revision(&current, &carrier, 30);
            let expected = ContactFields { image_id: Some("new-image".into()), ..current.fields.clone() };
            assert_eq!(replaced.fields, expected, "with old picture {old_picture:?}");
            assert_eq!((replaced.id.as_str(), replaced.revision), ("primary", 4));
            assert_eq!(replaced.create_time_us, 10);
            assert_eq!(replaced.revision_create_time_us, 30);
            assert_eq!(replaced.merged_contact_ids, vec!["older".to_owned(), "carrier".to_owned()]);
        }
    }

    #[test]
    fn the_carrier_wears_the_picture_and_nothing_else() {
        let carrier = picture_carrier(ContactId::from_trusted("carrier".into()), "new-image".into(), 30);
        assert_eq!((carrier.id.as_str(), carrier.revision, carrier.create_time_us), ("carrier", 1, 30));
        let expected = ContactFields { image_id: Some("new-image".into()), ..ContactFields::default() };
        assert_eq!(carrier.fields, expected);
        assert!(carrier.merged_contact_ids.is_empty());
    }

    #[test]
    fn a_replayed_replacement_brings_back_no_field_but_the_picture() {
        // Undoing an earlier merge replays the replacement onto the fields
        // before that merge: only the picture may come out different.
        let mut before_undone_merge = contact("primary", None);
        before_undone_merge.fields.company_name.clear();
        before_undone_merge.fields.tags.clear();
        before_undone_merge.fields.additional_emails.clear();
        let carrier = picture_carrier(ContactId::from_trusted("carrier".into()), "new-image".into(), 30);
        let replayed = replaced_revision(&before_undone_merge, &carrier, 40);
        let expected = ContactFields { image_id: Some("new-image".into()), ..before_undone_merge.fields.clone() };
        assert_eq!(replayed.fields, expected);
    }
}
