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
    let mut reasons = Vec::new();
    let candidate_emails = b.email_keys();
    if a.email_keys().iter().any(|email| candidate_emails.contains(email)) {
        reasons.push(MatchReason::Email);
    }
    let candidate_phones = b.phones();
    if a.phones().iter().any(|phone| candidate_phones.contains(phone)) {
        reasons.push(MatchReason::Phone);
    }
    if a.full_name_key().is_some() && a.full_name_key() == b.full_name_key() {
        reasons.push(MatchReason::FullName);
    }
    reasons
}
