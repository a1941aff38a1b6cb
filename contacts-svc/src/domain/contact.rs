//! A contact's fields, checked and normalized ("parse, don't validate").

use accommador_proto::status::{Violations, quote};
use std::str::FromStr;

/// A contact id: a UUIDv7 string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(String);

impl ContactId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match uuid::Uuid::parse_str(raw) {
            Ok(uuid) if uuid.get_version_num() == 7 && uuid.hyphenated().to_string() == raw => Ok(Self(raw.to_owned())),
            _ => Err(format!("{} is not a contact id (a lowercase hyphenated UUIDv7)", quote(raw))),
        }
    }

    /// For ids read back from our own database.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ContactId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Length limits, in characters.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub name: usize,
    pub email: usize,
    pub phone: usize,
    pub company_name: usize,
    pub source: usize,
    pub tags: usize,
    pub tag: usize,
}

/// Most merged-away ids one revision lists (the newest); every merge stays
/// recorded once in the store. Bounded so that a contact merged thousands of
/// times still fits in a response.
pub const MAX_LISTED_MERGED_IDS: usize = 100;

pub const LIMITS: Limits =
    Limits { name: 100, email: 254, phone: 32, company_name: 200, source: 64, tags: 50, tag: 64 };

/// The user-editable fields of a contact, normalized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFields {
    pub first_name: String,
    pub last_name: String,
    /// As given (trimmed); matched lowercased.
    pub email: String,
    /// E.164, or empty.
    pub phone: String,
    pub company_name: String,
    /// Deduplicated, in first-seen order.
    pub tags: Vec<String>,
    pub source: String,
    pub additional_emails: Vec<String>,
    pub additional_phones: Vec<String>,
    /// The picture's image id in media-svc.
    pub image_id: Option<String>,
}

/// One revision of a contact as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: ContactId,
    pub revision: i64,
    pub fields: ContactFields,
    /// Microseconds since the epoch.
    pub create_time_us: i64,
    pub revision_create_time_us: i64,
    pub merged_contact_ids: Vec<String>,
}

/// Normalizes phone numbers to E.164 with a default region for national numbers.
#[derive(Debug, Clone, Copy)]
pub struct PhoneNormalizer {
    pub default_region: phonenumber::country::Id,
}

impl PhoneNormalizer {
    pub fn parse_region(code: &str) -> Result<phonenumber::country::Id, String> {
        phonenumber::country::Id::from_str(&code.to_uppercase())
            .map_err(|_| format!("{} is not a two-letter region code such as US or DE", quote(code)))
    }

    pub fn normalize(&self, raw: &str) -> Result<String, String> {
        let number = phonenumber::parse(Some(self.default_region), raw)
            .map_err(|error| format!("{} is not a phone number: {error}", quote(raw)))?;
        if !phonenumber::is_valid(&number) {
            return Err(format!("{} is not a valid phone number", quote(raw)));
        }
        Ok(number.format().mode(phonenumber::Mode::E164).to_string())
    }
}

/// The contact fields of a create request, as the caller sent them.
#[derive(Debug, Clone, Default)]
pub struct ContactDraft {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub company_name: String,
    pub tags: Vec<String>,
    pub source: String,
}

impl ContactDraft {
    /// Checks and normalizes every field; returns all violations at once.
    pub fn parse(self, phones: &PhoneNormalizer) -> Result<ContactFields, Violations> {
        let mut violations = Violations::new();
        let mut text = |field: &str, value: String, limit: usize| {
            let value = value.trim().to_owned();
            let length = value.chars().count();
            if length > limit {
                violations
                    .add(format!("contact.{field}"), format!("{field} is {length} characters; the limit is {limit}"));
            }
            value
        };
        let first_name = text("first_name", self.first_name, LIMITS.name);
        let last_name = text("last_name", self.last_name, LIMITS.name);
        let email = text("email", self.email, LIMITS.email);
        let phone_input = text("phone", self.phone, LIMITS.phone);
        let company_name = text("company_name", self.company_name, LIMITS.company_name);
        let source = text("source", self.source, LIMITS.source);

        if !email.is_empty() && !email_address::EmailAddress::is_valid(&email) {
            violations.add("contact.email", format!("{} is not a valid email address", quote(&email)));
        }
        let phone = if phone_input.is_empty() {
            String::new()
        } else {
            phones.normalize(&phone_input).unwrap_or_else(|problem| {
                violations.add("contact.phone", problem);
                String::new()
            })
        };
        if [&first_name, &last_name, &email, &phone_input].iter().all(|value| value.is_empty()) {
            violations.add("contact", "at least one of first_name, last_name, email or phone is required");
        }

        if self.tags.len() > LIMITS.tags {
            violations.add("contact.tags", format!("{} tags; the limit is {}", self.tags.len(), LIMITS.tags));
        }
        let mut tags: Vec<String> = Vec::new();
        for (index, tag) in self.tags.iter().enumerate().take(LIMITS.tags + 1) {
            let tag = tag.trim();
            let length = tag.chars().count();
            if tag.is_empty() || length > LIMITS.tag {
                violations.add(
                    format!("contact.tags[{index}]"),
                    format!("tags must be 1 to {} characters; this one is {length}", LIMITS.tag),
                );
            } else if !tags.iter().any(|existing| existing == tag) {
                tags.push(tag.to_owned());
            }
        }

        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(ContactFields {
            first_name,
            last_name,
            email,
            phone,
            company_name,
            tags,
            source,
            additional_emails: Vec::new(),
            additional_phones: Vec::new(),
            image_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phones() -> PhoneNormalizer {
        PhoneNormalizer { default_region: phonenumber::country::Id::US }
    }

    #[test]
    fn normalizes_phone_to_e164_and_trims() {
        let draft = ContactDraft { first_name: " Ada ".into(), phone: "(415) 555-2671".into(), ..Default::default() };
        let fields = draft.parse(&phones()).unwrap();
        assert_eq!((fields.first_name.as_str(), fields.phone.as_str()), ("Ada", "+14155552671"));
    }

    #[test]
    fn reports_every_violation_at_once() {
        let draft = ContactDraft {
            first_name: "x".repeat(101),
            email: "not-an-email".into(),
            phone: "12".into(),
            tags: vec!["ok".into(), String::new(), "t".repeat(65)],
            ..Default::default()
        };
        let fields: Vec<String> = draft.parse(&phones()).unwrap_err().into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            ["contact.first_name", "contact.email", "contact.phone", "contact.tags[1]", "contact.tags[2]"]
        );
    }

    #[test]
    fn requires_a_name_email_or_phone() {
        let draft = ContactDraft { company_name: "Acme".into(), ..Default::default() };
        let violations = draft.parse(&phones()).unwrap_err();
        assert_eq!(violations[0].field, "contact");
    }

    #[test]
    fn too_many_tags_is_one_violation_and_tags_are_deduplicated() {
        let many = ContactDraft { first_name: "a".into(), tags: vec!["t".into(); 51], ..Default::default() };
        assert_eq!(many.parse(&phones()).unwrap_err()[0].field, "contact.tags");
        let dup = ContactDraft { first_name: "a".into(), tags: vec!["vip".into(), "vip".into()], ..Default::default() };
        assert_eq!(dup.parse(&phones()).unwrap().tags, ["vip"]);
    }

    #[test]
    fn contact_ids_are_uuid_v7() {
        let id = ContactId::generate();
        assert_eq!(ContactId::parse(id.as_str()), Ok(id));
        assert!(ContactId::parse(&uuid::Uuid::new_v4().to_string()).is_err());
        assert!(ContactId::parse("abc").is_err());
    }
}
