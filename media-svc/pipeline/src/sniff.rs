//! Decides the format from magic bytes alone: names and declared types lie.

use super::Format;

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Accepted(Format),
    /// A format we recognise but do not accept, named for the error message.
    Refused(&'static str),
    Unknown,
}

const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG_MAGIC: &[u8] = &[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

/// Recognised-but-refused formats, so the caller learns what they sent.
const REFUSED: &[(&[u8], &str)] = &[
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\0", "TIFF"),
    (b"MM\0*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP"),
    (b"\x00\x00\x00\x0CjP  ", "JPEG 2000"),
    (b"\xFF\x0A", "JPEG XL"),
];

pub fn sniff(bytes: &[u8]) -> Sniffed {
    if bytes.starts_with(JPEG_MAGIC) {
        return Sniffed::Accepted(Format::Jpeg);
    }
    if bytes.starts_with(PNG_MAGIC) {
        return Sniffed::Accepted(Format::Png);
    }
    if let Some((_, name)) = REFUSED.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Sniffed::Refused(name);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Sniffed::Refused("WebP");
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Sniffed::Refused(match &bytes[8..12] {
            b"avif" | b"avis" => "AVIF",
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => "HEIC",
            _ => "ISO media (MP4/HEIF)",
        });
    }
    let text = bytes.trim_ascii_start();
    if text.starts_with(b"<svg") || (text.starts_with(b"<?xml") && contains(bytes, b"<svg")) {
        return Sniffed::Refused("SVG");
    }
    if text.starts_with(b"<") {
        return Sniffed::Refused("HTML/XML text");
    }
    Sniffed::Unknown
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_jpeg_and_png_by_magic_only() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Sniffed::Accepted(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Sniffed::Accepted(Format::Png));
        // A PNG signature missing its line-ending check bytes is not a PNG.
        assert_eq!(sniff(b"\x89PNG\n\n\x1a\n"), Sniffed::Unknown);
    }

    #[test]
    fn names_refused_formats() {
        let cases: &[(&[u8], &str)] = &[
            (b"GIF89a\x01\x00", "GIF"),
            (b"RIFF\x10\0\0\0WEBPVP8 ", "WebP"),
            (b"\0\0\0\x18ftypheic\0\0\0\0", "HEIC"),
            (b"II*\0\x08\0\0\0", "TIFF"),
            (b"BM\x36\0\0\0", "BMP"),
            (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
            (b"<?xml version='1.0'?><svg/>", "SVG"),
            (b"%PDF-1.7", "PDF"),
            (b"<!doctype html><html>", "HTML/XML text"),
        ];
        for (bytes, name) in cases {
            assert_eq!(sniff(bytes), Sniffed::Refused(name), "{name}");
        }
    }

    #[test]
    fn empty_and_text_are_unknown() {
        assert_eq!(sniff(b""), Sniffed::Unknown);
        assert_eq!(sniff(b"hello world"), Sniffed::Unknown);
    }
}
