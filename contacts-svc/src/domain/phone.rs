//! Phone numbers as people write them, stored in one form: E.164, plus the
//! extension when there is one, in RFC 3966's parameter syntax
//! (`+14155550101;ext=99`). The part before `;ext=` is the number that
//! rings; its digits are what phone search and duplicate matching compare.

use std::str::FromStr;

use accommador_proto::status::quote;
use phonenumber::ParseError;

/// Separates the E.164 number from its extension in the stored form.
pub const EXTENSION_SEPARATOR: &str = ";ext=";

/// Longest extension kept, in digits: libphonenumber's own bound for an
/// extension marked as such ("ext. 99", "x99"). With E.164's 15 digits and
/// its `+`, a stored phone is at most 16 + 5 + 20 = 41 characters.
pub const MAX_EXTENSION_DIGITS: usize = 20;

/// Normalizes phone numbers, reading national numbers in a default region.
#[derive(Debug, Clone, Copy)]
pub struct PhoneNormalizer {
    pub default_region: phonenumber::country::Id,
}

impl PhoneNormalizer {
    pub fn parse_region(code: &str) -> Result<phonenumber::country::Id, String> {
        phonenumber::country::Id::from_str(&code.to_uppercase())
            .map_err(|_| format!("{} is not a two-letter region code such as US or DE", quote(code)))
    }

    /// `raw` (already trimmed and checked as text) in the stored form, or a
    /// message a CRM user can act on.
    pub fn normalize(&self, raw: &str) -> Result<String, String> {
        let refuse = |why: &str| format!("{} is not a valid phone number: {why}", quote(raw));
        let plain = plain_digits(raw);
        // Our own stored form is accepted back (a client copying a contact);
        // the parser reads `;ext=` only after a `tel:` scheme.
        let (digits, given_extension) = match plain.split_once(EXTENSION_SEPARATOR) {
            Some((number, extension)) => (number, Some(extension)),
            None => (plain.as_str(), None),
        };
        // Anything else after a `;` the parser drops without a word
        // ("415-555-0101;99" would lose its extension).
        if digits.contains(';') {
            return Err(refuse("write an extension as \"ext. 99\" or \"x99\""));
        }
        let number = self.parse(digits).map_err(|error| refuse(&explain(&error, raw)))?;
        if !phonenumber::is_valid(&number) {
            return Err(refuse(&unknown_digits(number.code().value())));
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        let extension = match (given_extension, number.extension()) {
            (Some(_), Some(_)) => return Err(refuse("it has two extensions")),
            (Some(extension), None) => extension,
            (None, Some(extension)) => extension.as_ref(),
            (None, None) => "",
        };
        if extension.is_empty() {
            return Ok(e164);
        }
        if extension.len() > MAX_EXTENSION_DIGITS || !extension.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse(&format!("the extension must be 1 to {MAX_EXTENSION_DIGITS} digits")));
        }
        Ok(format!("{e164}{EXTENSION_SEPARATOR}{extension}"))
    }

    /// Parses with the default region only when the number needs one.
    ///
    /// phonenumber 0.3 strips the default region's national prefix from a
    /// number that names another country: read in the US, "+49 151 2345678"
    /// loses the 1 of 151 and becomes another, valid, German number, and
    /// "+44 121 496 0000" becomes invalid. A number that carries its country
    /// code (a leading "+", or the default region's international prefix,
    /// "011" in the US, "00" in most of the world) is read without one.
    fn parse(&self, raw: &str) -> Result<phonenumber::PhoneNumber, phonenumber::ParseError> {
        let lead = raw.trim_start();
        if lead.starts_with('+') || lead.starts_with("tel:") {
            return phonenumber::parse(None, lead);
        }
        let international_prefix = phonenumber::metadata::DATABASE
            .by_id(self.default_region.as_ref())
            .and_then(|region| region.international_prefix())
            .and_then(|prefix| prefix.find(lead))
            .filter(|found| found.start() == 0 && found.end() < lead.len());
        match international_prefix {
            Some(found) => phonenumber::parse(None, format!("+{}", &lead[found.end()..])),
            None => phonenumber::parse(Some(self.default_region), raw),
        }
    }
}

/// `raw` with digits the parser does not read made ASCII: fullwidth ones
/// (NFKC) and Arabic-Indic ones, as phones type them.
fn plain_digits(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfkc()
        .map(|c| match c {
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            other => other,
        })
        .collect()
}

fn unknown_digits(country_code: u16) -> String {
    format!("no phone number with country code +{country_code} has these digits; check for a missing or extra digit")
}

/// The parser's error in words a CRM user understands.
fn explain(error: &ParseError, raw: &str) -> String {
    let international = raw.starts_with('+') || raw.starts_with("00");
    match error {
        ParseError::NoNumber => "it does not look like a phone number (it needs at least 3 digits)".to_owned(),
        ParseError::InvalidCountryCode if international => {
            "it starts with a country code that does not exist".to_owned()
        }
        ParseError::InvalidCountryCode => {
            "it cannot be read as a local number; write it with its country code, e.g. +44 20 7946 0958".to_owned()
        }
        ParseError::TooShortAfterIdd | ParseError::TooShortNsn => "it has too few digits".to_owned(),
        ParseError::TooLong => "it has too many digits".to_owned(),
        // The parser's regular expressions let through digits that are no
        // number at all (a national number of only zeros, as in +10000000000).
        ParseError::MalformedInteger(_) => {
            "no phone number has these digits; check for a missing or extra digit".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> PhoneNormalizer {
        PhoneNormalizer { default_region: phonenumber::country::Id::US }
    }

    #[test]
    fn extensions_are_kept_in_rfc_3966_form() {
        for raw in ["+1 415 555 0101 ext. 99", "(415) 555-0101 x99", "415-555-0101 #99", "+14155550101;ext=99"] {
            assert_eq!(us().normalize(raw).as_deref(), Ok("+14155550101;ext=99"), "{raw}");
        }
        assert_eq!(us().normalize("(415) 555-0101").as_deref(), Ok("+14155550101"));
    }

    #[test]
    fn numbers_with_their_country_code_keep_every_digit() {
        let cases = [
            ("+49 151 23456789", "+4915123456789"),
            ("+49 171 1234567", "+491711234567"),
            ("011 49 151 23456789", "+4915123456789"),
            ("+61 1300 123 456", "+611300123456"),
            ("+33 1 42 68 53 00", "+33142685300"),
            ("+44 121 496 0000", "+441214960000"),
            ("+44 (0)20 7946 0958", "+442079460958"),
            ("+86 138 0013 8000", "+8613800138000"),
            ("tel:+1-415-555-0101", "+14155550101"),
            ("４１５５５５０１０１", "+14155550101"),
            ("+٩٦٦ ١١ ٢١٥ ٩٩٩٩", "+966112159999"),
        ];
        for (raw, stored) in cases {
            assert_eq!(us().normalize(raw).as_deref(), Ok(stored), "{raw}");
        }
        let germany = PhoneNormalizer { default_region: phonenumber::country::Id::DE };
        assert_eq!(germany.normalize("00 1 415 555 0101").as_deref(), Ok("+14155550101"));
        assert_eq!(germany.normalize("0151 23456789").as_deref(), Ok("+4915123456789"));
    }

    #[test]
    fn an_extension_after_a_bare_semicolon_is_refused_not_dropped() {
        assert!(us().normalize("415-555-0101;99").unwrap_err().contains("ext. 99"));
    }

    #[test]
    fn messages_are_for_people_not_parsers() {
        let message = us().normalize("+10000000000").unwrap_err();
        assert_eq!(
            message,
            "\"+10000000000\" is not a valid phone number: no phone number has these digits; check for a \
             missing or extra digit"
        );
        assert!(
            us().normalize("ab").unwrap_err().contains("it does not look like a phone number (it needs at least 3")
        );
        assert!(us().normalize("12").unwrap_err().contains("too few digits"));
        assert!(us().normalize("+1 415 555 0101 0101 0101 0101").unwrap_err().contains("too many digits"));
        assert!(us().normalize("+999 123 4567").unwrap_err().contains("country code that does not exist"));
        assert!(us().normalize("+1 415 555 010").unwrap_err().contains("with country code +1 has these digits"));
        assert!(us().normalize("+14155550101;ext=12a").unwrap_err().contains("1 to 20 digits"));
        assert!(us().normalize(&format!("+14155550101;ext={}", "9".repeat(21))).unwrap_err().contains("1 to 20"));
        for raw in ["12", "ab", "+1 415", "+999 123 4567", "+10000000000"] {
            let message = us().normalize(raw).unwrap_err();
            assert!(!message.contains("NSN") && !message.contains("IDD"), "{message}");
        }
    }
}
