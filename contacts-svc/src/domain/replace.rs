//! ReplaceProfilePicture's policy: the intermediate contact that carries the
//! new picture, and the revision merging it yields.
//!
//! The intermediate contact copies the fields a caller can create (names,
//! email, phone, company, tags, source) from the contact's latest revision,
//! and wears the new picture. So its revision 1, which stays in the history
//! (GetContact with `revision` 1 on its id), reads as "this person, with the
//! new picture" rather than as a nameless stranger, and it is a valid
//! contact by the rules every created contact follows. Merging it with
//! `profile_picture` taken then changes the picture and nothing else: every
//! other field it has equals the primary's, so no value wins over the
//! primary's, and nothing lands in the additional emails or phones.

use super::{Contact, ContactFields, ContactId, MergeField, merged_revision};

/// The fields a merge takes from the intermediate contact: its picture.
pub const REPLACE_TAKES: &[MergeField] = &[MergeField::ProfilePicture];

/// Revision 1 of the contact `id` that carries `image_id` into `current`.
pub fn picture_carrier(current: &Contact, id: ContactId, image_id: String, now_us: i64) -> Contact {
    let fields = &current.fields;
    Contact {
        id,
        revision: 1,
        fields: ContactFields {
            first_name: fields.first_name.clone(),
            last_name: fields.last_name.clone(),
            email: fields.email.clone(),
            phone: fields.phone.clone(),
            company_name: fields.company_name.clone(),
            tags: fields.tags.clone(),
            source: fields.source.clone(),
            additional_emails: Vec::new(),
            additional_phones: Vec::new(),
            image_id: Some(image_id),
        },
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
            let carrier = picture_carrier(&current, ContactId::from_trusted("carrier".into()), "new-image".into(), 30);
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
    fn the_carrier_is_a_fresh_contact_with_the_primarys_created_fields() {
        let current = contact("primary", Some("old-image"));
        let carrier = picture_carrier(&current, ContactId::from_trusted("carrier".into()), "new-image".into(), 30);
        assert_eq!((carrier.id.as_str(), carrier.revision, carrier.create_time_us), ("carrier", 1, 30));
        assert_eq!(carrier.fields.first_name, "Ann");
        assert_eq!(carrier.fields.image_id.as_deref(), Some("new-image"));
        assert!(carrier.fields.additional_emails.is_empty() && carrier.fields.additional_phones.is_empty());
        assert!(carrier.merged_contact_ids.is_empty());
    }
}
