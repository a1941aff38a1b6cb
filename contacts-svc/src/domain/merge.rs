//! The merge policy: which value each field of the survivor takes.

use super::{Contact, ContactFields, LIMITS, MAX_LISTED_MERGED_IDS, search::fold_case};

/// Most additional emails, and most additional phones, a merged revision
/// keeps: the primary's first, then the duplicate's. Without a bound a chain
/// of merges would grow one contact (and the match keys written with each
/// of its revisions) without end; what does not fit stays in the
/// duplicate's own revisions.
pub const MAX_ADDITIONAL_VALUES: usize = 100;
use accommador_proto::status::quote;

/// Fields a caller may ask to take from the duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeField {
    FirstName,
    LastName,
    Email,
    Phone,
    CompanyName,
    Source,
    ProfilePicture,
}

impl MergeField {
    pub const NAMES: &'static [&'static str] =
        &["first_name", "last_name", "email", "phone", "company_name", "source", "profile_picture"];

    /// Every field, in the order of [`Self::NAMES`].
    pub const ALL: [Self; 7] = [
        Self::FirstName,
        Self::LastName,
        Self::Email,
        Self::Phone,
        Self::CompanyName,
        Self::Source,
        Self::ProfilePicture,
    ];

    /// The name callers send (and merge records store).
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|field| *field == self).expect("every field is in ALL")]
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "first_name" => Self::FirstName,
            "last_name" => Self::LastName,
            "email" => Self::Email,
            "phone" => Self::Phone,
            "company_name" => Self::CompanyName,
            "source" => Self::Source,
            "profile_picture" => Self::ProfilePicture,
            other => {
                return Err(format!(
                    "{} is not a mergeable field; use one of {}",
                    quote(other),
                    Self::NAMES.join(", ")
                ));
            }
        })
    }
}

/// The survivor's fields after merging `duplicate` into `primary`.
///
/// Each field keeps the primary's value unless it is empty there, then takes
/// the duplicate's; a field in `take_from_duplicate` takes the duplicate's
/// value when the duplicate has one (naming a field never erases it). Tags
/// are united; emails and phones that do not win are kept as additional.
pub fn merge(primary: &Contact, duplicate: &Contact, take_from_duplicate: &[MergeField]) -> ContactFields {
    let (p, d) = (&primary.fields, &duplicate.fields);
    let pick = |field: MergeField, primary: &String, duplicate: &String| -> String {
        let prefer_duplicate = take_from_duplicate.contains(&field);
        match (primary.is_empty(), duplicate.is_empty()) {
            (_, false) if prefer_duplicate => duplicate.clone(),
            (true, _) => duplicate.clone(),
            _ => primary.clone(),
        }
    };
    let email = pick(MergeField::Email, &p.email, &d.email);
    let phone = pick(MergeField::Phone, &p.phone, &d.phone);
    let image_id = match (&p.image_id, &d.image_id) {
        (_, Some(duplicate)) if take_from_duplicate.contains(&MergeField::ProfilePicture) => Some(duplicate.clone()),
        (None, duplicate) => duplicate.clone(),
        (primary, _) => primary.clone(),
    };

    // Tags and emails are case-insensitive: "VIP" and "vip" are one tag.
    let same_folded = |a: &str, b: &str| fold_case(a) == fold_case(b);
    // At most the 50 tags a create allows: the primary's, then the duplicate's.
    let mut tags = distinct_except(p.tags.iter().chain(&d.tags), "", same_folded);
    tags.truncate(LIMITS.tags);

    let all_emails = [&p.email].into_iter().chain(&p.additional_emails).chain([&d.email]).chain(&d.additional_emails);
    let mut additional_emails = distinct_except(all_emails, &email, same_folded);
    additional_emails.truncate(MAX_ADDITIONAL_VALUES);
    let all_phones = [&p.phone].into_iter().chain(&p.additional_phones).chain([&d.phone]).chain(&d.additional_phones);
    let mut additional_phones = distinct_except(all_phones, &phone, |a, b| a == b);
    additional_phones.truncate(MAX_ADDITIONAL_VALUES);

    ContactFields {
        first_name: pick(MergeField::FirstName, &p.first_name, &d.first_name),
        last_name: pick(MergeField::LastName, &p.last_name, &d.last_name),
        email,
        phone,
        company_name: pick(MergeField::CompanyName, &p.company_name, &d.company_name),
        tags,
        source: pick(MergeField::Source, &p.source, &d.source),
        additional_emails,
        additional_phones,
        image_id,
    }
}

/// The primary's next revision after merging `duplicate` into it at
/// `now_us`: the whole revision, which the store writes as given.
pub fn merged_revision(
    primary: &Contact,
    duplicate: &Contact,
    take_from_duplicate: &[MergeField],
    now_us: i64,
) -> Contact {
    Contact {
        id: primary.id.clone(),
        revision: primary.revision + 1,
        fields: merge(primary, duplicate, take_from_duplicate),
        create_time_us: primary.create_time_us,
        revision_create_time_us: now_us,
        merged_contact_ids: listed_merged_ids(primary, duplicate),
    }
}

/// The merged ids a revision lists: the newest [`MAX_LISTED_MERGED_IDS`] of
/// the primary's, the duplicate's and the duplicate itself. Bounded so that
/// a contact merged thousands of times still fits in a response and each
/// revision stays small; the store keeps every merge once.
fn listed_merged_ids(primary: &Contact, duplicate: &Contact) -> Vec<String> {
    let mut ids = primary.merged_contact_ids.clone();
    ids.extend(duplicate.merged_contact_ids.iter().cloned());
    ids.push(duplicate.id.to_string());
    let excess = ids.len().saturating_sub(MAX_LISTED_MERGED_IDS);
    ids.drain(..excess);
    ids
}

/// Every non-empty value except `excluded` (the winner), without
/// duplicates, in order.
fn distinct_except<'a>(
    values: impl Iterator<Item = &'a String>,
    excluded: &str,
    same: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for value in values {
        if !value.is_empty() && !same(value, excluded) && !kept.iter().any(|k| same(k, value)) {
            kept.push(value.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContactId;

    fn contact(fields: ContactFields) -> Contact {
        Contact {
            id: ContactId::generate(),
            revision: 1,
            fields,
            create_time_us: 0,
            revision_create_time_us: 0,
            merged_contact_ids: vec![],
        }
    }

    fn old() -> Contact {
        contact(ContactFields {
            first_name: "Ada".into(),
            email: "ada@old.example".into(),
            phone: "+14155552671".into(),
            tags: vec!["vip".into()],
            ..Default::default()
        })
    }

    fn new_with_picture() -> Contact {
        contact(ContactFields {
            first_name: "Ada L.".into(),
            last_name: "Lovelace".into(),
            email: "ADA@new.example".into(),
            tags: vec!["vip".into(), "engineer".into()],
            image_id: Some("img".into()),
            ..Default::default()
        })
    }

    #[test]
    fn primary_wins_and_empty_fields_are_filled_from_the_duplicate() {
        let merged = merge(&old(), &new_with_picture(), &[]);
        assert_eq!(merged.first_name, "Ada");
        assert_eq!(merged.last_name, "Lovelace", "empty on the primary");
        assert_eq!(merged.image_id.as_deref(), Some("img"), "the old contact had no picture");
        assert_eq!(merged.tags, ["vip", "engineer"]);
        let mut shouting = new_with_picture();
        shouting.fields.tags = vec!["VIP".into(), "Engineer".into()];
        assert_eq!(merge(&old(), &shouting, &[]).tags, ["vip", "Engineer"], "tags unite ignoring case");
        assert_eq!(merged.additional_emails, ["ADA@new.example"], "the losing email is kept");
        assert_eq!(merged.phone, "+14155552671");
    }

    #[test]
    fn a_merge_keeps_at_most_50_tags_and_100_additional_values_primary_first() {
        let many = |prefix: &str, n: usize| (0..n).map(|i| format!("{prefix}{i}")).collect::<Vec<String>>();
        let mut primary = old();
        primary.fields.tags = many("p", 50);
        primary.fields.additional_emails = many("p@x.example", 100);
        let mut duplicate = new_with_picture();
        duplicate.fields.tags = many("d", 50);
        duplicate.fields.additional_emails = many("d@x.example", 100);
        let merged = merge(&primary, &duplicate, &[]);
        assert_eq!(merged.tags, primary.fields.tags, "the primary's 50 tags");
        assert_eq!(merged.additional_emails.len(), MAX_ADDITIONAL_VALUES);
        assert_eq!(merged.additional_emails[0], "p@x.example0", "the primary's first");
        let mut few = old();
        few.fields.tags = many("p", 45);
        assert_eq!(merge(&few, &duplicate, &[]).tags.len(), 50, "then the duplicate's, up to 50");
    }

    #[test]
    fn named_fields_come_from_the_duplicate_including_the_picture() {
        let mut primary = old();
        primary.fields.image_id = Some("old-picture".into());
        let take = [MergeField::ProfilePicture, MergeField::Email, MergeField::Phone];
        let merged = merge(&primary, &new_with_picture(), &take);
        assert_eq!(merged.image_id.as_deref(), Some("img"));
        assert_eq!(merged.email, "ADA@new.example");
        assert_eq!(merged.additional_emails, ["ada@old.example"]);
        assert_eq!(merged.phone, "+14155552671", "naming a field never erases it");
    }

    #[test]
    fn the_merged_revision_follows_the_primary_and_lists_the_newest_merged_ids() {
        let mut primary = old();
        primary.revision = 3;
        primary.create_time_us = 10;
        primary.merged_contact_ids = (0..MAX_LISTED_MERGED_IDS).map(|i| format!("p{i}")).collect();
        let mut duplicate = new_with_picture();
        duplicate.merged_contact_ids = vec!["d0".into()];
        let merged = merged_revision(&primary, &duplicate, &[], 99);
        assert_eq!((merged.id.clone(), merged.revision, merged.create_time_us), (primary.id.clone(), 4, 10));
        assert_eq!(merged.revision_create_time_us, 99);
        assert_eq!(merged.merged_contact_ids.len(), MAX_LISTED_MERGED_IDS, "bounded");
        let newest = &merged.merged_contact_ids[MAX_LISTED_MERGED_IDS - 2..];
        assert_eq!(newest, ["d0".to_owned(), duplicate.id.to_string()], "the newest are kept, the duplicate last");
        assert_eq!(merged.merged_contact_ids[0], "p2", "the oldest are dropped");
        assert_eq!(merged.fields, merge(&primary, &duplicate, &[]));
    }

    #[test]
    fn unknown_field_names_are_refused_with_the_list() {
        let error = MergeField::parse("birthday").unwrap_err();
        assert!(error.contains("profile_picture"), "{error}");
    }
}
