//! Undoing a merge: the primary's fields are what its remaining merges give
//! when replayed in order from its fields before its first merge, and the
//! duplicate comes back with its last fields.

use super::{Contact, ContactFields, MergeField, merge, merged_revision};

/// One merge into the primary that still stands, as it was made: the
/// duplicate's revision at the time and the fields taken from it.
#[derive(Debug, Clone)]
pub struct ReplayedMerge {
    pub duplicate: Contact,
    pub take_from_duplicate: Vec<MergeField>,
}

/// The primary's next revision after an unmerge at `now_us`: `base` (its
/// revision before its first merge) with `merges` applied in order, written
/// as the revision after `latest`. The undone merge is simply not among
/// `merges`; nor are merges undone before, whose effect disappears too.
pub fn replayed_revision(base: &Contact, merges: &[ReplayedMerge], latest: &Contact, now_us: i64) -> Contact {
    let replayed = merges.iter().fold(base.clone(), |primary, step| {
        merged_revision(&primary, &step.duplicate, &step.take_from_duplicate, now_us)
    });
    Contact {
        id: latest.id.clone(),
        revision: latest.revision + 1,
        fields: replayed.fields,
        create_time_us: latest.create_time_us,
        revision_create_time_us: now_us,
        merged_contact_ids: replayed.merged_contact_ids,
    }
}

/// The duplicate live again: its last revision (the one merged, since a
/// merged-away contact gets no other) as its next one, picture included.
pub fn restored_revision(last: &Contact, now_us: i64) -> Contact {
    Contact { revision: last.revision + 1, revision_create_time_us: now_us, ..last.clone() }
}

/// The `take_from_duplicate` of a merge recorded before the names were
/// stored, read back from what it wrote: `before` and `after` are the
/// primary's revisions around the merge. A name changes the result only
/// where both contacts had different values and the duplicate's won, so
/// these names replay to exactly the fields the merge wrote. A name that
/// changed nothing then (equal values, or the duplicate's empty) cannot be
/// told apart: replayed onto other fields (an earlier merge undone), that
/// field keeps the primary's value where the caller's name would have
/// taken the duplicate's.
pub fn inferred_take(before: &Contact, duplicate: &Contact, after: &Contact) -> Vec<MergeField> {
    let default = merge(before, duplicate, &[]);
    MergeField::ALL
        .into_iter()
        .filter(|field| {
            let taken = merge(before, duplicate, &[*field]);
            value(&taken, *field) != value(&default, *field) && value(&after.fields, *field) == value(&taken, *field)
        })
        .collect()
}

fn value(fields: &ContactFields, field: MergeField) -> Option<&str> {
    match field {
        MergeField::FirstName => Some(&fields.first_name),
        MergeField::LastName => Some(&fields.last_name),
        MergeField::Email => Some(&fields.email),
        MergeField::Phone => Some(&fields.phone),
        MergeField::CompanyName => Some(&fields.company_name),
        MergeField::Source => Some(&fields.source),
        MergeField::ProfilePicture => fields.image_id.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContactId;

    fn contact(first: &str, email: &str, tags: &[&str], image: Option<&str>) -> Contact {
        Contact {
            id: ContactId::generate(),
            revision: 1,
            fields: ContactFields {
                first_name: first.into(),
                email: email.into(),
                tags: tags.iter().map(|tag| (*tag).into()).collect(),
                image_id: image.map(Into::into),
                ..Default::default()
            },
            create_time_us: 5,
            revision_create_time_us: 5,
            merged_contact_ids: vec![],
        }
    }

    #[test]
    fn replaying_without_the_undone_merge_keeps_the_later_ones() {
        let a = contact("Ada", "", &["a"], None);
        let b = contact("Bea", "b@example.com", &["b"], Some("img-b"));
        let c = contact("Cid", "c@example.com", &["c"], None);
        let take_b = vec![MergeField::FirstName];
        let after_b = merged_revision(&a, &b, &take_b, 10);
        let after_c = merged_revision(&after_b, &c, &[], 20);
        assert_eq!(after_c.fields.first_name, "Bea");
        let only_c = ReplayedMerge { duplicate: c.clone(), take_from_duplicate: vec![] };
        let replayed = replayed_revision(&a, &[only_c], &after_c, 30);
        assert_eq!((replayed.id.clone(), replayed.revision, replayed.revision_create_time_us), (a.id.clone(), 4, 30));
        assert_eq!(replayed.fields.first_name, "Ada", "B's name is gone with B");
        assert_eq!(replayed.fields.email, "c@example.com", "C fills the email B filled before");
        assert_eq!(replayed.fields.tags, ["a", "c"]);
        assert_eq!(replayed.fields.image_id, None, "B's picture leaves with B");
        assert_eq!(replayed.merged_contact_ids, [c.id.to_string()]);
        assert!(replayed.fields.additional_emails.is_empty(), "{:?}", replayed.fields.additional_emails);
    }

    #[test]
    fn replaying_nothing_gives_the_fields_before_the_first_merge() {
        let a = contact("Ada", "a@example.com", &["a"], Some("img-a"));
        let b = contact("Bea", "b@example.com", &["b"], None);
        let merged = merged_revision(&a, &b, &[MergeField::Email], 10);
        let replayed = replayed_revision(&a, &[], &merged, 30);
        assert_eq!(replayed.fields, a.fields);
        assert!(replayed.merged_contact_ids.is_empty());
    }

    #[test]
    fn the_restored_duplicate_keeps_its_fields_picture_and_merged_ids() {
        let mut b = contact("Bea", "b@example.com", &["b"], Some("img-b"));
        b.revision = 3;
        b.merged_contact_ids = vec!["x".into()];
        let restored = restored_revision(&b, 99);
        assert_eq!((restored.revision, restored.revision_create_time_us), (4, 99));
        assert_eq!((restored.fields.clone(), restored.merged_contact_ids.clone()), (b.fields, b.merged_contact_ids));
        assert_eq!(restored.create_time_us, 5);
    }

    #[test]
    fn the_names_of_an_old_merge_are_read_back_from_what_it_wrote() {
        let a = contact("Ada", "a@example.com", &[], Some("img-a"));
        let b = contact("Bea", "b@example.com", &[], Some("img-b"));
        for take in [vec![], vec![MergeField::FirstName, MergeField::ProfilePicture], vec![MergeField::Email]] {
            let after = merged_revision(&a, &b, &take, 10);
            assert_eq!(inferred_take(&a, &b, &after), take);
        }
        let same_name = contact("Ada", "", &[], None);
        let after = merged_revision(&a, &same_name, &[MergeField::FirstName], 10);
        assert!(inferred_take(&a, &same_name, &after).is_empty(), "a name that changed nothing is not needed");
    }

    #[test]
    fn every_field_has_its_name() {
        let names: Vec<&str> = MergeField::ALL.iter().map(|field| field.name()).collect();
        assert_eq!(names, MergeField::NAMES);
        assert!(MergeField::ALL.iter().all(|field| MergeField::parse(field.name()) == Ok(*field)));
    }
}
