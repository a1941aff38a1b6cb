//! Reads what a file declares (dimensions, alpha, orientation, and what
//! decoding it will cost) from its header and structure, without decoding
//! pixels.

use std::io::Cursor;

pub use image::metadata::Orientation;

use super::{Format, ImageInfo, Rejection, jpeg_header};

/// What the decoder and the budget need beyond [`ImageInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Jpeg(jpeg_header::JpegLayout),
    Png {
        /// Chunks in the file, IEND included.
        chunks: u32,
    },
}

pub fn read(format: Format, bytes: &[u8]) -> Result<(ImageInfo, Layout), Rejection> {
    match format {
        Format::Jpeg => jpeg(bytes),
        Format::Png => png(bytes),
    }
}

fn jpeg(bytes: &[u8]) -> Result<(ImageInfo, Layout), Rejection> {
    let layout = jpeg_header::read(bytes)?;
    let orientation = layout
        .exif
        .clone()
        .and_then(|range| Orientation::from_exif_chunk(&bytes[range]))
        .unwrap_or(Orientation::NoTransforms);
    let info = ImageInfo {
        format: Format::Jpeg,
        width: u32::from(layout.width),
        height: u32::from(layout.height),
        size_bytes: bytes.len() as u64,
        has_alpha: false,
        orientation,
    };
    Ok((info, Layout::Jpeg(layout)))
}

fn png(bytes: &[u8]) -> Result<(ImageInfo, Layout), Rejection> {
    let reader = png_reader(bytes, PNG_HEADER_LIMIT_BYTES)?;
    let info = reader.info();
    let has_alpha =
        matches!(info.color_type, png::ColorType::GrayscaleAlpha | png::ColorType::Rgba) || info.trns.is_some();
    let orientation =
        info.exif_metadata.as_deref().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    let image = ImageInfo {
        format: Format::Png,
        width: info.width,
        height: info.height,
        size_bytes: bytes.len() as u64,
        has_alpha,
        orientation,
    };
    Ok((image, Layout::Png { chunks: png_chunks(bytes) }))
}

/// Counts chunks by their length fields alone, up to IEND or wherever the
/// data stops making sense (the decoder reports that).
fn png_chunks(bytes: &[u8]) -> u32 {
    let mut chunks = 0;
    let mut position = 8;
    while let Some(header) = bytes.get(position..position + 8) {
        chunks += 1;
        if &header[4..8] == b"IEND" {
            break;
        }
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        position = position.saturating_add(12).saturating_add(length);
    }
    chunks
}

/// Memory the PNG decoder may use while reading chunks before the pixels
/// (palette, ICC profile, EXIF): far more than any real header needs.
const PNG_HEADER_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// A PNG reader positioned at the first image data, with text chunks
/// ignored (zTXt/iTXt would otherwise be inflated without bound) and a
/// memory limit.
pub(super) fn png_reader(bytes: &[u8], limit_bytes: usize) -> Result<png::Reader<Cursor<&[u8]>>, Rejection> {
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: limit_bytes });
    decoder.set_ignore_text_chunk(true);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    decoder.read_info().map_err(|error| Rejection::Corrupt { format: Format::Png, detail: error.to_string() })
}
