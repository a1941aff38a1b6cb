//! Free text as people paste it, made into a value we store: the rules every
//! text field of a contact follows, in this order.
//!
//! 1. Normalize to NFC, so that "é" typed as one character and "e" plus a
//!    combining accent are the same stored text (and match each other).
//! 2. Trim whitespace and invisible characters (Unicode's
//!    Default_Ignorable_Code_Point: zero-width space, byte-order mark, soft
//!    hyphen, LRM/RLM, ...) at both ends. A value made only of them is
//!    empty: a name that is a lone zero-width space is no name. Inside a
//!    value they stay, because some carry meaning (ZWJ joins emoji
//!    sequences, ZWNJ shapes Persian words), and so do variation selectors
//!    and tag characters right after a visible character at the end: they
//!    belong to it ("❤️" keeps its emoji presentation, 🏴󠁧󠁢󠁳󠁣󠁴󠁿 stays
//!    Scotland's flag).
//! 3. Count characters against the field's limit. An over-long value is
//!    reported for its length alone: no other check runs on it, and it is
//!    never quoted, so a 5,000-character email costs one short violation.
//! 4. Refuse control characters (Unicode category Cc: NUL, other C0 and C1
//!    controls, newlines and tabs inside a value), the line and paragraph
//!    separators U+2028 and U+2029, and the bidirectional
//!    embedding, override and isolate characters (U+202A..U+202E,
//!    U+2066..U+2069), which make text display in another order than it is
//!    stored (`a\u{202e}@example.com` shows as something else entirely).
//!    These are never trimmed away silently, wherever they stand; the
//!    refusal names the character as U+XXXX and its position, never the raw
//!    character.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Why a text value was refused; `Display` is the violation's description
/// once the field name is put in front (see [`TextProblem::describe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextProblem {
    /// Longer than the field allows, in characters after normalization.
    TooLong { length: usize, limit: usize },
    /// A character no text field may hold; `position` counts characters
    /// from 1 in the normalized, trimmed value.
    Forbidden { character: char, position: usize },
}

impl TextProblem {
    /// The violation's description for `field`.
    pub fn describe(&self, field: &str) -> String {
        format!("{field} {self}")
    }
}

impl fmt::Display for TextProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooLong { length, limit } => write!(f, "is {length} characters; the limit is {limit}"),
            Self::Forbidden { character, position } => write!(
                f,
                "contains U+{:04X} ({}) at character {position}; control characters, line breaks \
                 and bidirectional formatting characters are not allowed",
                u32::from(character),
                match character {
                    '\u{2028}' | '\u{2029}' => "a line or paragraph separator",
                    c if c.is_control() => "a control character",
                    _ => "a bidirectional formatting character",
                },
            ),
        }
    }
}

/// `raw` as stored: NFC, trimmed, at most `limit` characters, with no
/// control or bidirectional formatting character. Empty when nothing
/// visible is left.
pub fn clean(raw: &str, limit: usize) -> Result<String, TextProblem> {
    let normalized: String = raw.nfc().collect();
    let trimmed = trim_end(normalized.trim_start_matches(is_trimmed));
    let length = trimmed.chars().count();
    if length > limit {
        return Err(TextProblem::TooLong { length, limit });
    }
    if let Some((index, character)) = trimmed.chars().enumerate().find(|(_, c)| is_forbidden(*c)) {
        return Err(TextProblem::Forbidden { character, position: index + 1 });
    }
    Ok(trimmed.to_owned())
}

/// `text` without trailing whitespace and invisible characters, except a
/// run of variation selectors or tags that modifies the visible character
/// before it.
fn trim_end(text: &str) -> &str {
    let mut end = text.len();
    loop {
        let head = &text[..end];
        let Some(last) = head.chars().next_back() else { return head };
        if !is_trimmed(last) {
            return head;
        }
        if is_modifier(last) && head.trim_end_matches(is_modifier).chars().next_back().is_some_and(|c| !is_trimmed(c)) {
            return head;
        }
        end -= last.len_utf8();
    }
}

/// Variation selectors and tag characters: invisible, but part of the
/// character they follow.
fn is_modifier(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{E0020}'..='\u{E007F}')
}

/// Trimmed at the ends: whitespace (which includes the tab, newline and
/// other control characters that are White_Space) and invisible characters,
/// except the bidirectional formatting ones, which are refused instead.
fn is_trimmed(c: char) -> bool {
    c.is_whitespace() || (is_default_ignorable(c) && !is_bidi_formatting(c))
}

/// Line and paragraph separators (U+2028, U+2029) break a line as a
/// newline does, in the fields that are one line.
fn is_forbidden(c: char) -> bool {
    c.is_control() || is_bidi_formatting(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Bidirectional embeddings, overrides (U+202A..U+202E) and isolates
/// (U+2066..U+2069). LRM and RLM (U+200E, U+200F) only mark a direction and
/// override nothing: they are trimmed at the ends and kept inside.
fn is_bidi_formatting(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt,
/// Unicode 16): characters that render as nothing when a font lacks them.
/// Written out because no crate we already depend on exposes the property,
/// and the list changes rarely (the last addition was in Unicode 6.3).
pub(super) fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_variation_selector_or_tag_stays_with_its_character() {
        let scotland = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
        for kept in ["\u{2764}\u{FE0F}", scotland, "Ann \u{2764}\u{FE0F}"] {
            assert_eq!(clean(kept, 100).unwrap(), kept, "{kept:?}");
        }
        assert_eq!(clean(&format!("{scotland}\u{200B} "), 100).unwrap(), scotland, "what follows still goes");
        assert_eq!(clean("Ann \u{FE0F}", 100).unwrap(), "Ann", "after a space it modifies nothing");
        assert_eq!(clean("\u{FE0F}\u{E0067}", 100).unwrap(), "", "nothing visible");
    }

    fn forbidden(raw: &str) -> (char, usize) {
        match clean(raw, 100) {
            Err(TextProblem::Forbidden { character, position }) => (character, position),
            other => panic!("{raw:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn nfd_input_is_stored_as_nfc() {
        let nfd = "Jose\u{0301}";
        assert_eq!(clean(nfd, 100).unwrap(), "Jos\u{00E9}");
    }

    #[test]
    fn whitespace_and_invisible_characters_are_trimmed_at_the_ends_only() {
        assert_eq!(clean("\u{200B}", 100).unwrap(), "", "a zero-width space alone is empty");
        assert_eq!(clean("\u{FEFF}", 100).unwrap(), "", "a byte-order mark alone is empty");
        assert_eq!(clean(" \u{00AD}\u{2060}\u{180E}\u{200E}\u{200F} ", 100).unwrap(), "");
        assert_eq!(clean("\t Ada \r\n", 100).unwrap(), "Ada");
        assert_eq!(clean("\u{FEFF}Ada\u{200B}", 100).unwrap(), "Ada");
        // Inside a value, joiners carry meaning.
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(clean(family, 100).unwrap(), family);
        let persian = "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}";
        assert_eq!(clean(persian, 100).unwrap(), persian);
    }

    #[test]
    fn control_characters_are_refused_with_code_point_and_position() {
        assert_eq!(forbidden("Ad\0a"), ('\0', 3));
        assert_eq!(forbidden("Ada\0"), ('\0', 4), "NUL is not whitespace: never trimmed");
        assert_eq!(forbidden("Ada\nLovelace"), ('\n', 4));
        assert_eq!(forbidden("Ada\tLovelace"), ('\t', 4));
        assert_eq!(forbidden("Ada\u{0085}x"), ('\u{0085}', 4), "C1 controls too");
        assert_eq!(forbidden("\u{001B}[31mred"), ('\u{001B}', 1));
        assert_eq!(forbidden("Ada\u{2028}Lovelace"), ('\u{2028}', 4), "a line separator breaks a line too");
    }

    #[test]
    fn bidi_overrides_and_isolates_are_refused_even_at_the_ends() {
        assert_eq!(forbidden("a\u{202E}@example.com"), ('\u{202E}', 2));
        assert_eq!(forbidden("\u{202E}Ada"), ('\u{202E}', 1));
        assert_eq!(forbidden("Ada\u{2066}"), ('\u{2066}', 4));
        let message = TextProblem::Forbidden { character: '\u{202E}', position: 2 }.describe("email");
        assert_eq!(
            message,
            "email contains U+202E (a bidirectional formatting character) at character 2; control characters, \
             line breaks and bidirectional formatting characters are not allowed"
        );
        assert!(!message.contains('\u{202E}'), "the raw character is never echoed");
    }

    #[test]
    fn length_is_counted_after_normalization_and_reported_alone() {
        // 100 decomposed é are 200 code points but 100 characters once composed.
        assert_eq!(clean(&"e\u{0301}".repeat(100), 100).unwrap().chars().count(), 100);
        // An over-long value with a forbidden character is reported for its length only.
        let long = format!("{}\0", "x".repeat(5000));
        assert_eq!(clean(&long, 254), Err(TextProblem::TooLong { length: 5001, limit: 254 }));
        assert_eq!(
            TextProblem::TooLong { length: 5001, limit: 254 }.describe("email"),
            "email is 5001 characters; the limit is 254"
        );
    }
}
