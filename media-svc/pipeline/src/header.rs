//! Reads what a file declares (dimensions, alpha, orientation) from its
//! header, without decoding pixels.

use std::io::Cursor;

pub use image::metadata::Orientation;

use super::{Format, ImageInfo, Rejection};

pub fn read(format: Format, bytes: &[u8]) -> Result<ImageInfo, Rejection> {
    match format {
        Format::Jpeg => jpeg(bytes),
        Format::Png => png(bytes),
    }
}

fn jpeg(bytes: &[u8]) -> Result<ImageInfo, Rejection> {
    let corrupt = |detail: String| Rejection::Corrupt { format: Format::Jpeg, detail };
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    // Parses markers up to the first scan: frame header and APP segments only.
    decoder.read_info().map_err(|error| corrupt(error.to_string()))?;
    let info = decoder.info().ok_or_else(|| corrupt("no frame header".into()))?;
    let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    Ok(ImageInfo {
        format: Format::Jpeg,
        width: u32::from(info.width),
        height: u32::from(info.height),
        size_bytes: bytes.len() as u64,
        has_alpha: false,
        orientation,
    })
}

fn png(bytes: &[u8]) -> Result<ImageInfo, Rejection> {
    let reader = png_reader(bytes, PNG_HEADER_LIMIT_BYTES)?;
    let info = reader.info();
    let has_alpha =
        matches!(info.color_type, png::ColorType::GrayscaleAlpha | png::ColorType::Rgba) || info.trns.is_some();
    let orientation =
        info.exif_metadata.as_deref().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    Ok(ImageInfo {
        format: Format::Png,
        width: info.width,
        height: info.height,
        size_bytes: bytes.len() as u64,
        has_alpha,
        orientation,
    })
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
