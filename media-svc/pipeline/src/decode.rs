//! Pixel decoding: JPEG DCT-scaled to the pixels we need (libjpeg-turbo),
//! PNG in full.

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
        Format::Jpeg => jpeg(info, bytes, target),
        Format::Png => png(info, bytes, limits),
    }
}

/// Most progressive scans a JPEG may have. Real encoders write about ten;
/// thousands of tiny scans make a small file cost seconds of CPU (the
/// "progressive JPEG" denial of service libjpeg-turbo documents).
const MAX_PROGRESSIVE_SCANS: u32 = 100;

/// libjpeg-turbo (SIMD) decoding in the DCT domain to the smallest scale
/// M/8 that still leaves `target` pixels on the short side: for a 12 MP
/// photo and 512 px renditions that is 2/8, a sixteenth of the IDCT,
/// upsampling and colour-conversion work of a full decode.
fn jpeg(info: &ImageInfo, bytes: &[u8], target: Target) -> Result<Decoded, Rejection> {
    let corrupt = |error: turbojpeg::Error| Rejection::Corrupt { format: Format::Jpeg, detail: error.to_string() };
    let mut decompressor = turbojpeg::Decompressor::new().map_err(corrupt)?;
    decompressor.set_scan_limit(MAX_PROGRESSIVE_SCANS).map_err(corrupt)?;
    let header = decompressor.read_header(bytes).map_err(corrupt)?;
    // The buffer below is sized from libjpeg's reading of the header, the
    // limits were checked on ours: they must agree.
    if (header.width, header.height) != (info.width as usize, info.height as usize) {
        return Err(Rejection::Corrupt {
            format: Format::Jpeg,
            detail: format!(
                "the frame header declares {}x{} pixels to one reader and {}x{} to another",
                info.width, info.height, header.width, header.height
            ),
        });
    }
    let short_side = header.width.min(header.height);
    let wanted = match target {
        Target::ValidateOnly => 1,
        Target::ShortSide(side) => side as usize,
    };
    // Lossless JPEGs have no DCT to scale in.
    let scale = if header.is_lossless { turbojpeg::ScalingFactor::ONE } else { smallest_scale(short_side, wanted) };
    decompressor.set_scaling_factor(scale).map_err(corrupt)?;
    let scaled = header.scaled(scale);
    // CMYK cannot be converted to RGB inside libjpeg: take it raw.
    let cmyk = matches!(header.colorspace, turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK);
    let (format, channels) = if cmyk { (turbojpeg::PixelFormat::CMYK, 4) } else { (turbojpeg::PixelFormat::RGB, 3) };
    let mut image = turbojpeg::Image {
        pixels: vec![0; scaled.width * scaled.height * channels],
        width: scaled.width,
        pitch: scaled.width * channels,
        height: scaled.height,
        format,
    };
    // TurboJPEG fails on libjpeg's warnings too, so a truncated file (which
    // libjpeg would pad with grey) or corrupt entropy data is an error.
    decompressor.decompress(bytes, image.as_deref_mut()).map_err(corrupt)?;
    let pixels = if cmyk { cmyk_to_rgb(&image.pixels) } else { image.pixels };
    let (width, height) = (dimension(scaled.width), dimension(scaled.height));
    Ok(Decoded { width, height, pixels, has_transparency: false })
}

/// The smallest scaling factor libjpeg-turbo supports that keeps at least
/// `wanted` pixels on a side of `side` pixels (or the whole side when it is
/// shorter than that).
fn smallest_scale(side: usize, wanted: usize) -> turbojpeg::ScalingFactor {
    let mut factors: Vec<_> = turbojpeg::Decompressor::supported_scaling_factors()
        .into_iter()
        .filter(|factor| factor.num() <= factor.denom())
        .collect();
    factors.sort_by_key(|factor| factor.scale(side));
    factors.into_iter().find(|factor| factor.scale(side) >= wanted.min(side)).unwrap_or(turbojpeg::ScalingFactor::ONE)
}

/// Adobe applications (and jpeg-encoder) store CMYK inverted, which is what
/// libjpeg hands back: 255 means no ink.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    cmyk.chunks_exact(4)
        .flat_map(|pixel| {
            let key = u32::from(pixel[3]);
            let channel = |ink: u8| (u32::from(ink) * key / 255) as u8;
            [channel(pixel[0]), channel(pixel[1]), channel(pixel[2])]
        })
        .collect()
}

fn dimension(value: usize) -> u32 {
    u32::try_from(value).expect("scaled dimensions are at most the checked header's")
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
