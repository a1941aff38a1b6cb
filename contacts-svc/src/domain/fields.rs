//! The keys a contact is matched by, derived from its fields in one place:
//! duplicate search (store) and match reasons (domain) read the same ones.

use super::ContactFields;

impl ContactFields {
    /// Every email (the main one first), lowercased as they are matched;
    /// empty ones left out.
    pub fn email_keys(&self) -> Vec<String> {
        [&self.email]
            .into_iter()
            .chain(&self.additional_emails)
            .filter(|e| !e.is_empty())
            .map(|e| e.to_lowercase())
            .collect()
    }

    /// Every phone number (the main one first); empty ones left out.
    pub fn phones(&self) -> Vec<String> {
        [&self.phone].into_iter().chain(&self.additional_phones).filter(|p| !p.is_empty()).cloned().collect()
    }

    /// (first, last), lowercased, when both names are given: a full name
    /// matches only another full name, never a lone first or last name.
    pub fn full_name(&self) -> Option<(String, String)> {
        if self.first_name.is_empty() || self.last_name.is_empty() {
            return None;
        }
        Some((self.first_name.to_lowercase(), self.last_name.to_lowercase()))
    }

    /// [`ContactFields::full_name`] as the store indexes it: "first last".
    pub fn full_name_key(&self) -> Option<String> {
        self.full_name().map(|(first, last)| format!("{first} {last}"))
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
}
