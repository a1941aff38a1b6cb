//! The face of a contact without a picture (or whose picture is loading):
//! its initials on a colour of its own.
//!
//! Initials are user-perceived characters (extended grapheme clusters), so
//! an accented letter keeps its accent, a flag or a family emoji stays
//! whole, and nothing is cut inside a character. The colour is chosen by
//! the contact's id, so a contact keeps it across revisions and sessions.

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use super::ContactFields;

/// What a client draws: up to two initials, the background and the text
/// colour (`#rrggbb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarPlaceholder {
    pub initials: String,
    pub background_color: &'static str,
    pub text_color: &'static str,
}

/// Background and text colour pairs; every pair has a contrast of at
/// least 4.5:1 (WCAG 2.x AA for normal text, checked by a test). The order
/// is part of the contract: a contact's colour is its id's hash modulo the
/// length, so changing the list recolours everyone.
pub const PALETTE: [(&str, &str); 12] = [
    ("#c62828", "#ffffff"),
    ("#ad1457", "#ffffff"),
    ("#6a1b9a", "#ffffff"),
    ("#4527a0", "#ffffff"),
    ("#283593", "#ffffff"),
    ("#1565c0", "#ffffff"),
    ("#00695c", "#ffffff"),
    ("#2e7d32", "#ffffff"),
    ("#33691e", "#ffffff"),
    ("#ef6c00", "#1a1a1a"),
    ("#f9a825", "#1a1a1a"),
    ("#37474f", "#ffffff"),
];

/// When nothing gives a letter (a contact known only by its phone).
const NO_LETTER: &str = "#";

pub fn avatar_placeholder(contact_id: &str, fields: &ContactFields) -> AvatarPlaceholder {
    let (background_color, text_color) = PALETTE[(fnv1a(contact_id.as_bytes()) % PALETTE.len() as u64) as usize];
    AvatarPlaceholder { initials: initials(fields), background_color, text_color }
}

fn initials(fields: &ContactFields) -> String {
    let (first, last) = (first_grapheme(&fields.first_name), first_grapheme(&fields.last_name));
    let from_names = match (first, last) {
        // Chinese, Japanese and Korean names are shown by one character, the
        // family name's, as CJK address books do: two characters from the
        // family and the given name would read as another name.
        (_, Some(family)) if is_cjk(family) => family.to_owned(),
        (Some(given), None) if is_cjk(given) => given.to_owned(),
        (Some(given), _) if is_cjk(given) => last.unwrap_or(given).to_owned(),
        (Some(given), Some(family)) => format!("{}{}", capital(given), capital(family)),
        (Some(one), None) | (None, Some(one)) => capital(one),
        (None, None) => String::new(),
    };
    if !from_names.is_empty() {
        return from_names;
    }
    let mut company = fields.company_name.split_whitespace().filter_map(first_grapheme);
    if let Some(first_word) = company.next() {
        return match company.next() {
            Some(second_word) if !is_cjk(first_word) => format!("{}{}", capital(first_word), capital(second_word)),
            _ => capital(first_word),
        };
    }
    let local_part = fields.email.split('@').next().unwrap_or_default();
    first_grapheme(local_part).map_or_else(|| NO_LETTER.to_owned(), capital)
}

/// The first grapheme that is a letter, digit or symbol such as an emoji:
/// spaces, punctuation, quotes and invisible characters before it are
/// skipped ("(Bob)", "\u{200B}Ann", "'Zed'").
fn first_grapheme(text: &str) -> Option<&str> {
    text.graphemes(true).find(|grapheme| grapheme.chars().next().is_some_and(|c| !is_skipped(c)))
}

fn is_skipped(c: char) -> bool {
    // A combining mark with nothing to combine with is no letter.
    unicode_normalization::char::is_combining_mark(c)
        || c.is_whitespace()
        || c.is_control()
        || c.is_ascii_punctuation()
        // General punctuation: dashes, quotes, zero-width and direction marks.
        || ('\u{2000}'..='\u{206F}').contains(&c)
        // CJK symbols and punctuation (「」、。), fullwidth ASCII punctuation.
        || ('\u{3000}'..='\u{3004}').contains(&c)
        || ('\u{3008}'..='\u{3020}').contains(&c)
        || ('\u{FF01}'..='\u{FF0F}').contains(&c)
        || matches!(c, '\u{FEFF}' | '\u{00A1}' | '\u{00BF}' | '\u{00AB}' | '\u{00BB}')
}

/// Upper case when the script has it and the result is still one
/// character ("ß" stays "ß" rather than becoming "SS"), composed.
fn capital(grapheme: &str) -> String {
    let upper: String = grapheme.to_uppercase().nfc().collect();
    if upper.graphemes(true).count() == 1 { upper } else { grapheme.nfc().collect() }
}

fn is_cjk(grapheme: &str) -> bool {
    grapheme.chars().next().is_some_and(|c| {
        matches!(c,
            '\u{4E00}'..='\u{9FFF}'     // CJK unified ideographs
            | '\u{3400}'..='\u{4DBF}'   // extension A
            | '\u{20000}'..='\u{2EBEF}' // extensions B to F
            | '\u{F900}'..='\u{FAFF}'   // compatibility ideographs
            | '\u{3040}'..='\u{30FF}'   // hiragana and katakana
            | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
            | '\u{1100}'..='\u{11FF}'   // Hangul jamo
        )
    })
}

/// FNV-1a: a fixed hash (std's is seeded per process), so a contact's
/// colour is the same on every replica and after every restart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(first: &str, last: &str) -> ContactFields {
        ContactFields { first_name: first.into(), last_name: last.into(), ..Default::default() }
    }

    fn initials_of(first: &str, last: &str) -> String {
        initials(&named(first, last))
    }

    #[test]
    fn initials_are_whole_characters_of_the_names() {
        for (first, last, expected) in [
            ("Grace", "Hopper", "GH"),
            ("grace", "hopper", "GH"),
            ("Émile", "Zola", "ÉZ"),
            ("e\u{301}mile", "", "É"),
            ("Ørjan", "Ødegaard", "ØØ"),
            ("ßeta", "", "ß"),
            ("ılgın", "İnce", "Iİ"),
            ("Σωκράτης", "", "Σ"),
            ("Анна", "Каренина", "АК"),
            ("محمد", "علي", "مع"),
            ("דוד", "", "ד"),
            ("小明", "王", "王"),
            ("王小明", "", "王"),
            ("", "王", "王"),
            ("민준", "김", "김"),
            ("さくら", "", "さ"),
            ("🦄", "", "🦄"),
            ("👨\u{200D}👩\u{200D}👧", "", "👨\u{200D}👩\u{200D}👧"),
            ("🇫🇷", "Dupont", "🇫🇷D"),
            ("👍🏽", "", "👍🏽"),
            ("(Bob)", "'Marley'", "BM"),
            ("\u{200B}Ann", " \u{2003}smith", "AS"),
            ("Madonna", "", "M"),
            ("", "Prince", "P"),
            ("¡Hola!", "", "H"),
            ("\u{301}abc", "", "A"),
        ] {
            assert_eq!(initials_of(first, last), expected, "{first:?} {last:?}");
        }
    }

    #[test]
    fn without_a_name_the_company_then_the_email_gives_the_letters() {
        let company =
            ContactFields { company_name: "  acme corp  ".into(), email: "x@y.z".into(), ..Default::default() };
        assert_eq!(initials(&company), "AC");
        let one_word = ContactFields { company_name: "Globex".into(), ..Default::default() };
        assert_eq!(initials(&one_word), "G");
        let email = ContactFields { email: "jane.doe@example.com".into(), phone: "+1".into(), ..Default::default() };
        assert_eq!(initials(&email), "J");
        let phone_only = ContactFields { phone: "+14155550101".into(), ..Default::default() };
        assert_eq!(initials(&phone_only), "#");
        assert_eq!(initials(&named("\u{200B}", "...")), "#", "nothing but punctuation and invisibles");
    }

    /// WCAG 2.x relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let value = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if value <= 0.040_45 { value / 12.92 } else { ((value + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    }

    #[test]
    fn every_palette_colour_has_aa_contrast_with_its_text() {
        for (background, text) in PALETTE {
            let (a, b) = (luminance(background), luminance(text));
            let contrast = (a.max(b) + 0.05) / (a.min(b) + 0.05);
            assert!(contrast >= 4.5, "{text} on {background}: {contrast:.2}:1");
        }
    }

    #[test]
    fn a_contact_keeps_its_colour_and_ids_spread_over_the_palette() {
        let fields = named("Grace", "Hopper");
        // Pinned, so that a change of the palette or the hash is noticed;
        // the names play no part.
        for (id, pinned) in PINNED {
            for fields in [&fields, &named("Other", "Name")] {
                let placeholder = avatar_placeholder(id, fields);
                assert_eq!((placeholder.background_color, placeholder.text_color), pinned, "{id}");
            }
        }
        let mut used = [0usize; PALETTE.len()];
        for _ in 0..10_000 {
            let placeholder = avatar_placeholder(&uuid::Uuid::now_v7().to_string(), &fields);
            let index = PALETTE.iter().position(|(bg, _)| *bg == placeholder.background_color).unwrap();
            used[index] += 1;
        }
        assert!(used.iter().all(|&count| count > 500), "every colour is used about evenly: {used:?}");
    }

    const PINNED: [(&str, (&str, &str)); 2] = [
        ("00000000-0000-0000-0000-000000000000", ("#ef6c00", "#1a1a1a")),
        ("01a220a7-c145-708d-bd22-0a3c35fdfd5d", ("#2e7d32", "#ffffff")),
    ];
}
