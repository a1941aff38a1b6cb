//! The keys a contact is matched by, derived from its fields in one place:
//! duplicate search (store) and match reasons (domain) read the same ones,
//! so matching is symmetric: if A finds B, B finds A.

use super::{
    ContactFields,
    search::{fold, fold_case},
};

/// What kind of value a [`MatchKey`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKind {
    Email,
    Phone,
    FullName,
}

impl MatchKind {
    /// As the store records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::FullName => "name",
        }
    }
}

/// One value two contacts are duplicates by when they share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MatchKey {
    pub kind: MatchKind,
    pub key: String,
}

impl ContactFields {
    /// Every email (the main one first), case-folded as they are matched
    /// (accents kept: they make different mailboxes); empty ones left out.
    pub fn email_keys(&self) -> Vec<String> {
        [&self.email]
            .into_iter()
            .chain(&self.additional_emails)
            .filter(|e| !e.is_empty())
            .map(|e| fold_case(e))
            .collect()
    }

    /// Every phone number (the main one first) as stored (E.164, with its
    /// extension if any); empty ones left out.
    pub fn phones(&self) -> Vec<String> {
        [&self.phone].into_iter().chain(&self.additional_phones).filter(|p| !p.is_empty()).cloned().collect()
    }

    /// "first last", folded (case, accents, spelling form), when both names
    /// are given: a full name matches only another full name, never a lone
    /// first or last name.
    pub fn full_name_key(&self) -> Option<String> {
        let (first, last) = (fold(&self.first_name), fold(&self.last_name));
        (!first.is_empty() && !last.is_empty()).then(|| format!("{first} {last}"))
    }

    /// Every key of this contact, each once.
    pub fn match_keys(&self) -> Vec<MatchKey> {
        let emails = self.email_keys().into_iter().map(|key| MatchKey { kind: MatchKind::Email, key });
        let phones = self.phones().into_iter().map(|key| MatchKey { kind: MatchKind::Phone, key });
        let name = self.full_name_key().map(|key| MatchKey { kind: MatchKind::FullName, key });
        let mut keys: Vec<MatchKey> = Vec::new();
        for key in emails.chain(phones).chain(name) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_skip_empty_values_and_fold_email_case_only() {
        let fields = ContactFields {
            first_name: "Ada".into(),
            email: "Ada@Example.com".into(),
            additional_emails: vec![String::new(), "ADA@work.example".into()],
            phone: String::new(),
            additional_phones: vec!["+14155552671".into()],
            ..Default::default()
        };
        assert_eq!(fields.email_keys(), ["ada@example.com", "ada@work.example"]);
        assert_eq!(fields.phones(), ["+14155552671"]);
        assert_eq!(fields.full_name_key(), None, "a first name alone is no full name");
        let named = ContactFields { first_name: "Ada".into(), last_name: "LOVELACE".into(), ..Default::default() };
        assert_eq!(named.full_name_key().as_deref(), Some("ada lovelace"));
    }

    #[test]
    fn full_names_match_across_spellings() {
        let nfc = ContactFields { first_name: "José".into(), last_name: "Núñez".into(), ..Default::default() };
        let nfd = ContactFields {
            first_name: "Jose\u{301}".into(),
            last_name: "NU\u{303}N\u{303}EZ".into(),
            ..Default::default()
        };
        assert_eq!(nfc.full_name_key(), nfd.full_name_key());
    }

    #[test]
    fn match_keys_hold_every_value_once() {
        let fields = ContactFields {
            first_name: "Ann".into(),
            last_name: "Smith".into(),
            email: "ann@ex.com".into(),
            additional_emails: vec!["ANN@EX.COM".into(), "a@work.example".into()],
            phone: "+14155550101".into(),
            ..Default::default()
        };
        let keys = fields.match_keys();
        let keys: Vec<(&str, &str)> = keys.iter().map(|k| (k.kind.as_str(), k.key.as_str())).collect();
        assert_eq!(
            keys,
            [("email", "ann@ex.com"), ("email", "a@work.example"), ("phone", "+14155550101"), ("name", "ann smith")]
        );
    }
}
