//! How staff find contacts: the folding that makes "jose" find "José" and
//! "STRASSE" find "Straße", the text a contact is searched by, and a
//! Smart List query. The same [`fold`] runs over stored values and queries,
//! so a match never depends on how either was typed.

use unicode_normalization::UnicodeNormalization;

use super::{ContactFields, EXTENSION_SEPARATOR, PhoneNormalizer, text::is_default_ignorable};

/// Folds text for matching, in this order:
///
/// 1. compatibility decomposition (NFKD): fullwidth letters, ligatures and
///    superscripts become their plain letters, and accented letters a base
///    letter followed by its marks;
/// 2. Unicode full case folding: "ß" and "ẞ" become "ss", "İ" becomes "i"
///    with a combining dot, final sigma becomes sigma;
/// 3. the combining diacritical marks (U+0300..U+036F, the accents of
///    Latin, Greek and Cyrillic letters) are removed: "é" matches "e", "ç"
///    matches "c". Marks of other scripts (Indic vowel signs, Hebrew and
///    Arabic points) carry meaning and are kept;
/// 4. the few Latin letters that do not decompose are written as their
///    plain counterparts: "ı" (dotless i) as "i", "ł" as "l", "ø" as "o",
///    "đ" and "ð" as "d", "ħ" as "h", "ŧ" as "t", "æ" as "ae", "œ" as "oe",
///    "þ" as "th";
/// 5. invisible characters (Default_Ignorable_Code_Point: zero-width space,
///    joiners, byte-order mark, ...) are removed, so a name pasted with a
///    zero-width space still matches;
/// 6. runs of whitespace and control characters become one space, trimmed;
/// 7. composed again (NFC), so scripts such as Hangul keep their syllables.
pub fn fold(text: &str) -> String {
    let decomposed: String = text.nfkd().collect();
    let case_folded = caseless::default_case_fold_str(&decomposed);
    let mut plain = String::with_capacity(case_folded.len());
    let mut pending_space = false;
    for c in case_folded.nfkd() {
        if ('\u{0300}'..='\u{036F}').contains(&c) || is_default_ignorable(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            pending_space = !plain.is_empty();
            continue;
        }
        if pending_space {
            plain.push(' ');
            pending_space = false;
        }
        match c {
            'ı' => plain.push('i'),
            'ł' | 'ŀ' => plain.push('l'),
            'ø' => plain.push('o'),
            'đ' | 'ð' => plain.push('d'),
            'ħ' => plain.push('h'),
            'ŧ' => plain.push('t'),
            'æ' => plain.push_str("ae"),
            'œ' => plain.push_str("oe"),
            'þ' => plain.push_str("th"),
            other => plain.push(other),
        }
    }
    plain.nfc().collect()
}

/// Case-folds without removing accents (NFC, then Unicode case folding):
/// the key of values whose accents are significant but whose case is not,
/// such as email addresses ("josé@" and "jose@" are different mailboxes).
pub fn fold_case(text: &str) -> String {
    let composed: String = text.nfc().collect();
    caseless::default_case_fold_str(&composed).nfc().collect()
}

/// The digits of a stored phone number's number part (E.164 without "+",
/// its extension left out): what a phone query is matched against.
pub fn phone_digits(phone: &str) -> String {
    let number = phone.split_once(EXTENSION_SEPARATOR).map_or(phone, |(number, _)| number);
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Characters a typed phone number may contain besides digits.
const PHONE_PUNCTUATION: &[char] = &['+', '-', '(', ')', '.', '/', ' ', '\u{2010}', '\u{2011}', '\u{2013}'];

/// Fewest digits a query needs to be read as a phone number: "1" or "42"
/// are more likely part of a name or an address than a number.
const MIN_PHONE_QUERY_DIGITS: usize = 3;

/// What a contact is found by, one value per line (a query never spans two
/// lines, so it never matches across fields): the full name ("first last",
/// so "Ann Smith" finds Ann Smith and "smith" finds her too), the company,
/// every email (additional ones included) and the digits of every phone.
pub fn search_text(fields: &ContactFields) -> String {
    let full_name = format!("{} {}", fields.first_name, fields.last_name);
    let mut lines = vec![fold(&full_name), fold(&fields.company_name)];
    lines.extend([&fields.email].into_iter().chain(&fields.additional_emails).map(|email| fold(email)));
    lines.extend(fields.phones().iter().map(|phone| phone_digits(phone)));
    lines.retain(|line| !line.is_empty());
    lines.join("\n")
}

/// A Smart List query, folded as stored values are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The query folded: matched as a substring of [`search_text`].
    pub text: String,
    /// When the query reads as a phone number: digits matched against the
    /// digits of every phone. A whole number in any form the phone field
    /// accepts ("+1 415 555 0101 ext. 99", "tel:+14155550101", "+49 151
    /// 23456789") gives its E.164 digits; a part of one written with phone
    /// punctuation only ("(415) 555-0101", "+1 415", "555-0101") gives its
    /// digits as typed.
    pub digits: Vec<String>,
}

impl SearchQuery {
    /// `None` for a query with nothing to match once folded (empty, spaces,
    /// invisible characters or lone accents): the whole list.
    pub fn parse(raw: &str, phones: &PhoneNormalizer) -> Option<Self> {
        let text = fold(raw);
        if text.is_empty() {
            return None;
        }
        let mut digits = Vec::new();
        if let Ok(phone) = phones.normalize(raw.trim()) {
            digits.push(phone_digits(&phone));
        }
        let compatible: String = raw.nfkc().collect();
        let is_phone_like = compatible.chars().all(|c| c.is_ascii_digit() || PHONE_PUNCTUATION.contains(&c));
        let typed: String = compatible.chars().filter(char::is_ascii_digit).collect();
        if is_phone_like && typed.len() >= MIN_PHONE_QUERY_DIGITS {
            digits.push(typed);
        }
        // The text match covers digits equal to it; a pattern holding a
        // shorter one matches nothing the shorter one does not.
        digits.sort_by_key(String::len);
        let mut kept: Vec<String> = Vec::new();
        for candidate in digits {
            if candidate != text && !kept.iter().any(|shorter| candidate.contains(shorter.as_str())) {
                kept.push(candidate);
            }
        }
        Some(Self { text, digits: kept })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_normalization_form() {
        assert_eq!(fold("José"), "jose");
        assert_eq!(fold("Jose\u{301}"), "jose", "NFD spelling");
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert_eq!(fold("İSMAİL KILIÇ"), "ismail kilic");
        assert_eq!(fold("İsmail Kılıç"), "ismail kilic");
        assert_eq!(fold("Łódź Ørsted Æbeltoft"), "lodz orsted aebeltoft");
        assert_eq!(fold("ＡＮＮ"), "ann", "fullwidth letters");
        assert_eq!(fold("  Ann \t  Smith "), "ann smith");
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), fold("σίσυφος"));
    }

    #[test]
    fn folding_keeps_what_other_scripts_need() {
        assert_eq!(fold("김민준"), "김민준", "Hangul syllables recomposed");
        assert_eq!(fold("अनिल"), "अनिल", "Devanagari vowel signs kept");
        assert_eq!(fold("北京"), "北京");
    }

    #[test]
    fn case_folding_keeps_accents() {
        assert_eq!(fold_case("JOSÉ@Example.COM"), "josé@example.com");
        assert_eq!(fold_case("Jose\u{301}@x.com"), fold_case("José@x.com"));
        assert_ne!(fold_case("josé@x.com"), fold_case("jose@x.com"));
    }

    #[test]
    fn search_text_has_the_full_name_every_email_and_the_digits_of_every_phone() {
        let fields = ContactFields {
            first_name: "Ann".into(),
            last_name: "Smith".into(),
            company_name: "Straße GmbH".into(),
            email: "Ann@Example.com".into(),
            additional_emails: vec!["ann@work.example".into()],
            phone: "+14155550101;ext=99".into(),
            additional_phones: vec!["+442071838750".into()],
            ..Default::default()
        };
        assert_eq!(
            search_text(&fields),
            "ann smith\nstrasse gmbh\nann@example.com\nann@work.example\n14155550101\n442071838750"
        );
        let nameless = ContactFields { email: "x@y.z".into(), ..Default::default() };
        assert_eq!(search_text(&nameless), "x@y.z", "empty lines left out");
    }

    fn us() -> PhoneNormalizer {
        PhoneNormalizer { default_region: phonenumber::country::Id::US }
    }

    #[test]
    fn phone_like_queries_match_digits() {
        let digits = |raw: &str| SearchQuery::parse(raw, &us()).map(|q| q.digits).unwrap_or_default();
        assert_eq!(digits("(415) 555-0101"), ["4155550101"], "the E.164 digits hold the typed ones");
        assert_eq!(digits("555-0101"), ["5550101"]);
        assert_eq!(digits("+1 415"), ["1415"]);
        assert_eq!(digits("+1 415 555 0101 ext. 99"), ["14155550101"], "a whole number, extension left out");
        assert_eq!(digits("+14155550101;ext=99"), ["14155550101"], "the stored form pasted back");
        assert_eq!(digits("tel:+1-415-555-0101"), ["14155550101"]);
        assert!(digits("４１５").is_empty(), "fullwidth digits are digits, equal to the folded text");
        assert!(digits("5550101").is_empty(), "plain digits: the text match covers them");
        assert!(digits("12").is_empty(), "too few digits");
        assert!(digits("Ann 555").is_empty(), "letters make it a text query");
    }

    #[test]
    fn queries_with_nothing_visible_list_everything_and_invisibles_never_block_a_match() {
        for blank in ["   ", "\u{200B}", "\u{301}", "\u{FEFF}\u{200D}"] {
            assert_eq!(SearchQuery::parse(blank, &us()), None, "{blank:?}");
        }
        assert_eq!(SearchQuery::parse("\u{200B}Ann", &us()).map(|q| q.text).as_deref(), Some("ann"));
    }
}
