//! Pixel decoding: JPEG DCT-scaled to the pixels we need, PNG in full.

use super::{Format, ImageInfo, Limits, Rejection, header::png_reader};

/// How many pixels the caller needs.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Only proof that the data decodes completely: the cheapest scale.
    ValidateOnly,
    /// The shorter side must keep at least this many pixels (or all it has).
    ShortSide(u32),
}

/// Decoded 8-bit pixels, RGB or RGBA, row-major without padding.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
    /// True when `pixels` is RGBA with at least one pixel not fully opaque.
    /// Opaque RGBA input is reduced to RGB, so it becomes a JPEG.
    pub has_transparency: bool,
}

pub fn decode(info: &ImageInfo, bytes: &[u8], limits: Limits, target: Target) -> Result<Decoded, Rejection> {
    match info.format {
        Format::Jpeg => jpeg(info, bytes, limits, target),
        Format::Png => png(info, bytes, limits),
    }
}

fn jpeg(info: &ImageInfo, bytes: &[u8], limits: Limits, target: Target) -> Result<Decoded, Rejection> {
    let corrupt = |detail: String| Rejection::Corrupt { format: Format::Jpeg, detail };
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    // The header was checked against the limits already; this caps what the
    // decoder may allocate in case it disagrees with itself.
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.max_pixels * 4).unwrap_or(usize::MAX));
    let wanted = match target {
        Target::ValidateOnly => 1,
        Target::ShortSide(side) => side,
    };
    // jpeg-decoder picks the smallest of 1/8, 1/4, 1/2, 1 that reaches the
    // request on at least one axis: ask only on the shorter one.
    let wanted = u16::try_from(wanted).unwrap_or(u16::MAX);
    let (request_width, request_height) =
        if info.width <= info.height { (wanted, u16::MAX) } else { (u16::MAX, wanted) };
    let (width, height) = decoder.scale(request_width, request_height).map_err(|error| corrupt(error.to_string()))?;
    let raw = decoder.decode().map_err(|error| corrupt(error.to_string()))?;
    // jpeg-decoder fills a truncated scan with grey instead of failing; a
    // complete file has its end-of-image marker after the scans.
    if !has_end_of_image(bytes) {
        return Err(corrupt("the file ends before its end-of-image marker (truncated)".into()));
    }
    let pixel_format = decoder.info().ok_or_else(|| corrupt("no frame header".into()))?.pixel_format;
    let (width, height) = (u32::from(width), u32::from(height));
    let pixel_count = width as usize * height as usize;
    let pixels = match pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => raw,
        jpeg_decoder::PixelFormat::L8 => raw.iter().flat_map(|&luma| [luma, luma, luma]).collect(),
        jpeg_decoder::PixelFormat::L16 => raw.chunks_exact(2).flat_map(|luma| [luma[0], luma[0], luma[0]]).collect(),
        // The decoder has already undone Adobe's inversion: plain CMYK.
        jpeg_decoder::PixelFormat::CMYK32 => raw
            .chunks_exact(4)
            .flat_map(|cmyk| {
                let key = 255 - u32::from(cmyk[3]);
                let channel = |ink: u8| ((255 - u32::from(ink)) * key / 255) as u8;
                [channel(cmyk[0]), channel(cmyk[1]), channel(cmyk[2])]
            })
            .collect(),
    };
    if pixels.len() != pixel_count * 3 {
        return Err(corrupt(format!("decoded {} bytes for {width}x{height} pixels", pixels.len())));
    }
    Ok(Decoded { width, height, pixels, has_transparency: false })
}

/// Whether an EOI marker (FF D9) follows the first start-of-scan (FF DA).
/// Markers cannot occur inside entropy-coded data (FF is stuffed as FF 00),
/// and an EXIF thumbnail's own EOI sits before the first scan.
fn has_end_of_image(bytes: &[u8]) -> bool {
    let Some(scan_start) = bytes.windows(2).position(|pair| pair == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[scan_start..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

fn png(info: &ImageInfo, bytes: &[u8], limits: Limits) -> Result<Decoded, Rejection> {
    let corrupt = |detail: String| Rejection::Corrupt { format: Format::Png, detail };
    // Room for the 8-bit RGBA frame plus the decoder's own row buffers.
    let frame_bytes = u64::from(info.width) * u64::from(info.height) * 4;
    let limit = usize::try_from(frame_bytes.min(limits.max_pixels * 4) + 16 * 1024 * 1024).unwrap_or(usize::MAX);
    let mut reader = png_reader(bytes, limit)?;
    let mut buffer = vec![0; reader.output_buffer_size().ok_or_else(|| corrupt("image too large".into()))?];
    // For animated PNG this is the default image, i.e. the first frame.
    let frame = reader.next_frame(&mut buffer).map_err(|error| corrupt(error.to_string()))?;
    // Insist on the IEND chunk: a file cut after its last IDAT is still incomplete.
    reader.finish().map_err(|error| corrupt(error.to_string()))?;
    buffer.truncate(frame.buffer_size());
    let (width, height) = (frame.width, frame.height);
    let (pixels, has_transparency) = match frame.color_type {
        png::ColorType::Rgb => (buffer, false),
        png::ColorType::Grayscale => (buffer.iter().flat_map(|&luma| [luma, luma, luma]).collect(), false),
        png::ColorType::Rgba => rgba_or_rgb(buffer),
        png::ColorType::GrayscaleAlpha => {
            rgba_or_rgb(buffer.chunks_exact(2).flat_map(|la| [la[0], la[0], la[0], la[1]]).collect())
        }
        png::ColorType::Indexed => return Err(corrupt("palette was not expanded".into())),
    };
    Ok(Decoded { width, height, pixels, has_transparency })
}

/// Keeps RGBA only when some pixel is not fully opaque: an alpha channel
/// that is all 255 is not "real transparency".
fn rgba_or_rgb(rgba: Vec<u8>) -> (Vec<u8>, bool) {
    if rgba.chunks_exact(4).any(|pixel| pixel[3] != 255) {
        (rgba, true)
    } else {
        (rgba.chunks_exact(4).flat_map(|pixel| [pixel[0], pixel[1], pixel[2]]).collect(), false)
    }
}
