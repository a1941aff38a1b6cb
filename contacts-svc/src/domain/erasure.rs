//! What an erasure takes out of revisions that are not the erased person's
//! own: a contact the person was merged into and later unmerged from keeps
//! the revisions written in between, and those carry the person's values
//! (a name that won, an email kept as additional, their picture). Those
//! revisions stay, as the other contact's history, without the person.

use std::collections::HashSet;

use super::{Contact, ContactFields, fold_case};

/// Every value the erased group's revisions held, and every image they wore.
#[derive(Debug, Default)]
pub struct ErasedValues {
    /// Case-folded: a merge treats emails differing in case as one, so the
    /// other contact may hold the person's email in its own spelling.
    values: HashSet<String>,
    image_ids: HashSet<String>,
}

impl ErasedValues {
    pub fn of<'a>(revisions: impl IntoIterator<Item = &'a Contact>) -> Self {
        let mut erased = Self::default();
        for revision in revisions {
            let fields = &revision.fields;
            let singles = [&fields.first_name, &fields.last_name, &fields.email, &fields.phone, &fields.company_name];
            let lists = [&fields.tags, &fields.additional_emails, &fields.additional_phones];
            for value in singles.into_iter().chain(lists.into_iter().flatten()) {
                if !value.is_empty() {
                    erased.values.insert(fold_case(value));
                }
            }
            erased.image_ids.extend(fields.image_id.clone());
        }
        erased
    }

    pub fn is_image(&self, image_id: &str) -> bool {
        self.image_ids.contains(image_id)
    }

    fn holds(&self, value: &str) -> bool {
        !value.is_empty() && self.values.contains(&fold_case(value))
    }

    /// `fields` without any of the erased values. A value the other contact
    /// shares with the person (the same company, a common tag) goes too:
    /// in a revision written while the person was merged in, nothing tells
    /// whose it was. `source` is a channel ("web_form"), not the person's.
    pub fn scrub(&self, fields: &ContactFields) -> ContactFields {
        let single = |value: &String| if self.holds(value) { String::new() } else { value.clone() };
        let list = |values: &Vec<String>| values.iter().filter(|value| !self.holds(value)).cloned().collect();
        ContactFields {
            first_name: single(&fields.first_name),
            last_name: single(&fields.last_name),
            email: single(&fields.email),
            phone: single(&fields.phone),
            company_name: single(&fields.company_name),
            tags: list(&fields.tags),
            source: fields.source.clone(),
            additional_emails: list(&fields.additional_emails),
            additional_phones: list(&fields.additional_phones),
            image_id: fields.image_id.clone().filter(|image| !self.is_image(image)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContactId;

    fn revision(fields: ContactFields) -> Contact {
        Contact {
            id: ContactId::generate(),
            revision: 1,
            fields,
            create_time_us: 1,
            revision_create_time_us: 1,
            merged_contact_ids: vec![],
        }
    }

    #[test]
    fn the_persons_values_leave_and_the_others_stay() {
        let person = revision(ContactFields {
            first_name: "Zeb".into(),
            email: "Zeb@Example.com".into(),
            phone: "+14155550187".into(),
            tags: vec!["gdpr".into()],
            image_id: Some("img-zeb".into()),
            ..Default::default()
        });
        let erased = ErasedValues::of([&person]);
        let borrowed = ContactFields {
            first_name: "Zeb".into(),
            last_name: "Other".into(),
            email: "other@example.com".into(),
            tags: vec!["GDPR".into(), "vip".into()],
            source: "web_form".into(),
            additional_emails: vec!["zeb@example.com".into(), "o2@example.com".into()],
            additional_phones: vec!["+14155550187".into()],
            image_id: Some("img-zeb".into()),
            ..Default::default()
        };
        let expected = ContactFields {
            last_name: "Other".into(),
            email: "other@example.com".into(),
            tags: vec!["vip".into()],
            source: "web_form".into(),
            additional_emails: vec!["o2@example.com".into()],
            ..Default::default()
        };
        assert_eq!(erased.scrub(&borrowed), expected);
    }

    #[test]
    fn empty_values_are_never_the_persons() {
        let erased = ErasedValues::of([&revision(ContactFields { first_name: "Zeb".into(), ..Default::default() })]);
        let fields = ContactFields { source: "import".into(), ..Default::default() };
        assert_eq!(erased.scrub(&fields), fields);
    }
}
