//! A contact's fields, checked and normalized ("parse, don't validate").

use std::collections::HashSet;

use accommador_proto::status::{Violations, quote};

use super::{PhoneNormalizer, search::fold_case, text};

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
    Limits { name: 100, email: 254, phone: 64, company_name: 200, source: 64, tags: 50, tag: 64 };

/// The user-editable fields of a contact, normalized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFields {
    pub first_name: String,
    pub last_name: String,
    /// As given (NFC, trimmed); matched lowercased.
    pub email: String,
    /// E.164 with `;ext=` and the extension when there is one
    /// (`+14155550101;ext=99`, see `domain::phone`), or empty.
    pub phone: String,
    pub company_name: String,
    /// Deduplicated case-insensitively, in first-seen order and spelling.
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
    /// Checks and normalizes every field (the rules of [`text`], then each
    /// field's own syntax); returns all violations at once.
    pub fn parse(self, phones: &PhoneNormalizer) -> Result<ContactFields, Violations> {
        let mut violations = Violations::new();
        let mut text = |field: &str, value: &str, limit: usize| {
            text::clean(value, limit).map_err(|problem| {
                violations.add(format!("contact.{field}"), problem.describe(field));
            })
        };
        let first_name = text("first_name", &self.first_name, LIMITS.name);
        let last_name = text("last_name", &self.last_name, LIMITS.name);
        let email = text("email", &self.email, LIMITS.email);
        let phone_input = text("phone", &self.phone, LIMITS.phone);
        let company_name = text("company_name", &self.company_name, LIMITS.company_name);
        let source = text("source", &self.source, LIMITS.source);

        // Syntax is checked only on values that passed as text: an
        // over-long or poisoned value has already said all there is to say.
        if let Ok(email) = &email
            && !email.is_empty()
            && !email_address::EmailAddress::is_valid(email)
        {
            violations.add("contact.email", format!("{} is not a valid email address", quote(email)));
        }
        let phone = match &phone_input {
            Ok(raw) if !raw.is_empty() => phones.normalize(raw).unwrap_or_else(|problem| {
                violations.add("contact.phone", problem);
                String::new()
            }),
            _ => String::new(),
        };
        let given = |value: &Result<String, ()>| value.as_ref().is_ok_and(|value| !value.is_empty());
        let refused = |value: &Result<String, ()>| value.is_err();
        let identifying = [&first_name, &last_name, &email, &phone_input];
        if !identifying.iter().any(|value| given(value)) && !identifying.iter().any(|value| refused(value)) {
            violations.add("contact", "at least one of first_name, last_name, email or phone is required");
        }

        let tags = parse_tags(&self.tags, &mut violations);

        if !violations.is_empty() {
            return Err(violations);
        }
        let valid = |value: Result<String, ()>| value.expect("a refused value is a violation");
        Ok(ContactFields {
            first_name: valid(first_name),
            last_name: valid(last_name),
            email: valid(email),
            phone,
            company_name: valid(company_name),
            tags,
            source: valid(source),
            additional_emails: Vec::new(),
            additional_phones: Vec::new(),
            image_id: None,
        })
    }
}

/// Most violations about single tags collected from one request: past
/// these, the caller has enough to fix, and a list of a million bad tags
/// costs no more than this.
const MAX_TAG_VIOLATIONS: usize = accommador_proto::status::MAX_LISTED_VIOLATIONS;

/// The tags as stored: each a clean text of 1 to `LIMITS.tag` characters,
/// deduplicated case-insensitively (Unicode default case folding of the NFC
/// text, so "VIP", "vip" and "Vip" are one tag, spelled as first seen), at
/// most `LIMITS.tags` of them. Stops at the first distinct tag over the
/// limit, so a huge list costs one pass at most and one violation.
fn parse_tags(raw: &[String], violations: &mut Violations) -> Vec<String> {
    let mut tags = Vec::new();
    let mut seen = HashSet::new();
    let mut bad = 0;
    for (index, tag) in raw.iter().enumerate() {
        // The same bytes as the tag before: nothing new to check or keep,
        // and a list of a million copies stays cheap.
        if index > 0 && raw[index - 1] == *tag {
            continue;
        }
        let problem = match text::clean(tag, LIMITS.tag) {
            Ok(tag) if tag.is_empty() => format!("tags must be 1 to {} characters; this one is empty", LIMITS.tag),
            Ok(tag) => {
                if seen.insert(fold_case(&tag)) {
                    if tags.len() == LIMITS.tags {
                        violations.add(
                            "contact.tags",
                            format!(
                                "{} tags with more than {} distinct ones (tags are case-insensitive); the limit is {}",
                                raw.len(),
                                LIMITS.tags,
                                LIMITS.tags
                            ),
                        );
                        break;
                    }
                    tags.push(tag);
                }
                continue;
            }
            Err(problem) => problem.describe("tag"),
        };
        violations.add(format!("contact.tags[{index}]"), problem);
        bad += 1;
        if bad == MAX_TAG_VIOLATIONS {
            break;
        }
    }
    tags
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

    fn fields_of(violations: &Violations) -> Vec<&str> {
        violations.iter().map(|v| v.field.as_str()).collect()
    }

    fn named(first_name: &str) -> ContactDraft {
        ContactDraft { first_name: first_name.into(), ..Default::default() }
    }

    #[test]
    fn tags_are_case_insensitive_and_keep_the_first_spelling() {
        let draft = ContactDraft { tags: vec!["VIP".into(), "vip".into(), "Vip".into(), "Lead".into()], ..named("a") };
        assert_eq!(draft.parse(&phones()).unwrap().tags, ["VIP", "Lead"]);
        // Full case folding: "STRASSE" and "straße" are one tag; NFD and NFC too.
        let draft = ContactDraft {
            tags: vec!["straße".into(), "STRASSE".into(), "Cafe\u{301}".into(), "CAFÉ".into()],
            ..named("a")
        };
        assert_eq!(draft.parse(&phones()).unwrap().tags, ["straße", "Café"]);
    }

    #[test]
    fn duplicates_do_not_count_against_the_tag_limit() {
        let identical = ContactDraft { tags: vec!["t".into(); 51], ..named("a") };
        assert_eq!(identical.parse(&phones()).unwrap().tags, ["t"], "51 identical tags are one tag");
        let mut cased: Vec<String> = (0..50).map(|n| format!("tag{n}")).collect();
        cased.push("TAG0".into());
        assert_eq!(ContactDraft { tags: cased, ..named("a") }.parse(&phones()).unwrap().tags.len(), 50);
    }

    #[test]
    fn too_many_distinct_tags_is_one_violation_however_many_are_sent() {
        for count in [51, 1_000_000] {
            let tags = (0..count).map(|n| format!("tag{n}")).collect();
            let violations = ContactDraft { tags, ..named("a") }.parse(&phones()).unwrap_err();
            assert_eq!(fields_of(&violations), ["contact.tags"], "{count} tags");
            let expected = format!("{count} tags with more than 50 distinct ones");
            assert!(violations[0].description.starts_with(&expected), "{}", violations[0].description);
        }
        let empty = ContactDraft { tags: vec![String::new(); 1_000_000], ..named("a") };
        assert_eq!(empty.parse(&phones()).unwrap_err().len(), 1, "identical bad tags are reported once");
        let bad: Vec<String> = (0..1_000_000).map(|n| format!("bad\0{n}")).collect();
        let violations = ContactDraft { tags: bad, ..named("a") }.parse(&phones()).unwrap_err();
        assert_eq!(violations.len(), MAX_TAG_VIOLATIONS, "bad tags stop being collected at the cap");
    }

    #[test]
    fn control_and_bidi_characters_are_refused_in_every_field() {
        let draft = ContactDraft {
            first_name: "Ada\0".into(),
            last_name: "Love\nlace".into(),
            email: "a\u{202E}@example.com".into(),
            company_name: "Acme\u{2066}".into(),
            source: "web\tform".into(),
            tags: vec!["ok".into(), "v\u{202E}ip".into()],
            ..Default::default()
        };
        let violations = draft.parse(&phones()).unwrap_err();
        assert_eq!(
            fields_of(&violations),
            [
                "contact.first_name",
                "contact.last_name",
                "contact.email",
                "contact.company_name",
                "contact.source",
                "contact.tags[1]"
            ],
            "no email syntax error and no 'name required' on top: {violations}"
        );
        assert!(
            violations[0].description.starts_with("first_name contains U+0000 (a control character) at character 4")
        );
        assert!(violations[2].description.starts_with("email contains U+202E"), "{}", violations[2].description);
        assert!(violations.iter().all(|v| !v.description.contains(['\0', '\n', '\t', '\u{202E}', '\u{2066}'])));
    }

    #[test]
    fn a_name_of_invisible_characters_is_no_name() {
        for invisible in ["\u{200B}", "\u{FEFF}", " \u{200B}\u{2060} "] {
            let violations = named(invisible).parse(&phones()).unwrap_err();
            assert_eq!(fields_of(&violations), ["contact"], "{invisible:?}");
        }
        let fields = ContactDraft { email: "\u{FEFF}ada@example.com\u{200B}".into(), ..Default::default() };
        assert_eq!(fields.parse(&phones()).unwrap().email, "ada@example.com");
    }

    #[test]
    fn nfd_input_is_stored_as_nfc() {
        let draft = ContactDraft { last_name: "Mu\u{0308}ller".into(), ..named("Jose\u{0301}") };
        let fields = draft.parse(&phones()).unwrap();
        assert_eq!((fields.first_name.as_str(), fields.last_name.as_str()), ("Jos\u{E9}", "M\u{FC}ller"));
    }

    #[test]
    fn an_over_long_email_is_one_short_violation() {
        let draft = ContactDraft { email: format!("{}@example.com", "a".repeat(4988)), ..Default::default() };
        let violations = draft.parse(&phones()).unwrap_err();
        assert_eq!(fields_of(&violations), ["contact.email"], "length only, no syntax check: {violations}");
        assert_eq!(violations[0].description, "email is 5000 characters; the limit is 254");
    }

    #[test]
    fn phones_keep_their_extension_and_bad_ones_are_explained() {
        let draft = ContactDraft { phone: "+1 415 555 0101 ext. 99".into(), ..Default::default() };
        assert_eq!(draft.parse(&phones()).unwrap().phone, "+14155550101;ext=99");
        let draft = ContactDraft { phone: "+10000000000".into(), ..named("a") };
        let violations = draft.parse(&phones()).unwrap_err();
        assert_eq!(fields_of(&violations), ["contact.phone"]);
        assert!(
            violations[0].description.starts_with("\"+10000000000\" is not a valid phone number: no phone number"),
            "{}",
            violations[0].description
        );
    }

    #[test]
    fn contact_ids_are_uuid_v7() {
        let id = ContactId::generate();
        assert_eq!(ContactId::parse(id.as_str()), Ok(id));
        assert!(ContactId::parse(&uuid::Uuid::new_v4().to_string()).is_err());
        assert!(ContactId::parse("abc").is_err());
    }
}
