//! Why two contacts look like the same person or company.

use super::Contact;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchReason {
    Email,
    Phone,
    FullName,
}

/// Every reason `candidate` matches `contact`; empty when it does not.
pub fn match_reasons(contact: &Contact, candidate: &Contact) -> Vec<MatchReason> {
    let (a, b) = (&contact.fields, &candidate.fields);
    let emails = |fields: &super::ContactFields| -> Vec<String> {
        [&fields.email]
            .into_iter()
            .chain(&fields.additional_emails)
            .filter(|e| !e.is_empty())
            .map(|e| e.to_lowercase())
            .collect()
    };
    let phones = |fields: &super::ContactFields| -> Vec<String> {
        [&fields.phone].into_iter().chain(&fields.additional_phones).filter(|p| !p.is_empty()).cloned().collect()
    };
    let mut reasons = Vec::new();
    let candidate_emails = emails(b);
    if emails(a).iter().any(|email| candidate_emails.contains(email)) {
        reasons.push(MatchReason::Email);
    }
    let candidate_phones = phones(b);
    if phones(a).iter().any(|phone| candidate_phones.contains(phone)) {
        reasons.push(MatchReason::Phone);
    }
    let named = |f: &super::ContactFields| !f.first_name.is_empty() && !f.last_name.is_empty();
    if named(a)
        && named(b)
        && a.first_name.to_lowercase() == b.first_name.to_lowercase()
        && a.last_name.to_lowercase() == b.last_name.to_lowercase()
    {
        reasons.push(MatchReason::FullName);
    }
    reasons
}
