//! JPEG decoding with libjpeg-turbo (SIMD), scaled in the DCT domain to
//! the pixels we need, within the memory and CPU budgets.

use super::{
    Format, Rejection,
    budget::{self, Cost},
    decoded::{Decoded, Target},
    jpeg_header::{JpegLayout, Process},
    turbo::{self, PixelFormat},
};

/// How a JPEG will be decoded, and what that costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The scaling factor's numerator over 8.
    pub scale: u8,
    /// The decoded frame.
    pub width: usize,
    pub height: usize,
    pub format: PixelFormat,
    /// Bits per sample in the file.
    pub precision: u8,
}

impl Plan {
    pub fn new(layout: &JpegLayout, target: Target) -> Self {
        let (width, height) = (usize::from(layout.width), usize::from(layout.height));
        let wanted = match target {
            Target::ValidateOnly => 1,
            Target::ShortSide(side) => side as usize,
        };
        // Lossless JPEGs have no DCT to scale in.
        let scale = if layout.process == Process::Lossless { 8 } else { smallest_scale(width.min(height), wanted) };
        let scaled = |side: usize| (side * usize::from(scale)).div_ceil(8);
        // CMYK cannot be converted to RGB inside libjpeg: take it raw. In
        // lossless files libjpeg converts nothing, not even grey to RGB.
        let format = match layout.components.len() {
            4 => PixelFormat::Cmyk,
            1 if layout.process == Process::Lossless => PixelFormat::Gray,
            _ => PixelFormat::Rgb,
        };
        Self { scale, width: scaled(width), height: scaled(height), format, precision: layout.precision }
    }

    /// Bytes of the decoded frame: samples above 8 bits take two.
    fn frame_bytes(&self) -> u64 {
        let sample_bytes = if self.precision > 8 { 2 } else { 1 };
        (self.width * self.height * self.format.channels() * sample_bytes) as u64
    }

    /// Whether the frame is used as decoded (8-bit RGB, or CMYK converted
    /// in place); otherwise its centre square is copied out as 8-bit RGB.
    fn used_in_place(&self) -> bool {
        self.precision == 8 && self.format != PixelFormat::Gray
    }

    /// Everything the decode allocates: libjpeg's whole-image buffer when
    /// the file needs one, the decoded frame, its 8-bit RGB square when it
    /// is not used in place, and the rest (row buffers, renditions).
    pub fn memory_bytes(&self, layout: &JpegLayout) -> u64 {
        let side = self.width.min(self.height) as u64;
        let square = if self.used_in_place() { 0 } else { side * side * 3 };
        whole_image_bytes(layout) + self.frame_bytes() + square + budget::JPEG_WORKING_BYTES
    }
}

/// libjpeg's buffer for files whose first scan does not complete the
/// image: every coefficient (64 of 2 bytes per block) of every component,
/// padded to whole sampling units (jdcoefct.c), or every sample of a
/// lossless file (jddiffct.c).
fn whole_image_bytes(layout: &JpegLayout) -> u64 {
    if !layout.multi_scan {
        return 0;
    }
    let unit_bytes = match layout.process {
        Process::Lossless if layout.precision > 8 => 2,
        Process::Lossless => 1,
        _ => 128,
    };
    layout
        .components
        .iter()
        .map(|component| {
            let (columns, rows) = layout.blocks(component);
            columns.next_multiple_of(u64::from(component.h))
                * rows.next_multiple_of(u64::from(component.v))
                * unit_bytes
        })
        .sum()
}

/// What the scans ask for, against the CPU limits, and what the decode for
/// the largest rendition needs, against the memory budget.
pub fn check_budget(layout: &JpegLayout, largest: u32) -> Result<(), Rejection> {
    let too_complex = |cost| Err(Rejection::TooComplex { format: Format::Jpeg, cost });
    if layout.scans > budget::MAX_JPEG_SCANS {
        return too_complex(Cost::JpegScans { count: layout.scans, limit: budget::MAX_JPEG_SCANS });
    }
    // Lossless scans read samples, each far cheaper than a DCT block, and
    // at most 21 million of them fit in the byte limit.
    if layout.process != Process::Lossless && layout.scan_units > budget::MAX_JPEG_SCAN_BLOCKS {
        return too_complex(Cost::JpegScanBlocks { count: layout.scan_units, limit: budget::MAX_JPEG_SCAN_BLOCKS });
    }
    let needed = Plan::new(layout, Target::ShortSide(largest)).memory_bytes(layout);
    if needed > budget::DECODE_BUDGET_BYTES {
        return too_complex(Cost::Memory { needed, limit: budget::DECODE_BUDGET_BYTES, image: describe(layout) });
    }
    Ok(())
}

/// What kind of JPEG, in the words of a refusal.
fn describe(layout: &JpegLayout) -> &'static str {
    match layout.process {
        Process::Progressive => "progressive JPEG",
        Process::Lossless => "lossless JPEG",
        Process::Sequential if layout.multi_scan => "JPEG with one scan per colour component",
        Process::Sequential => "JPEG",
    }
}

/// The smallest scale M/8 that leaves `wanted` pixels on a side of `side`
/// (or the whole side when it is shorter): for a 12 MP photo and 512 px
/// renditions that is 2/8, a sixteenth of the IDCT, upsampling and
/// colour-conversion work of a full decode.
fn smallest_scale(side: usize, wanted: usize) -> u8 {
    (1..=8u8).find(|&eighths| (side * usize::from(eighths)).div_ceil(8) >= wanted.min(side)).unwrap_or(8)
}

pub fn decode(layout: &JpegLayout, bytes: &[u8], target: Target) -> Result<Decoded, Rejection> {
    let corrupt = |error: turbo::Error| match error.0.as_str() {
        // Our reading of the header let the file through, libjpeg's memory
        // limit did not: still a cost, not a defect. libjpeg does not say by
        // how much it was over; a mebibyte is the least it can have been.
        "Backing store not supported" => Rejection::TooComplex {
            format: Format::Jpeg,
            cost: Cost::Memory {
                needed: budget::DECODE_BUDGET_BYTES + (1 << 20),
                limit: budget::DECODE_BUDGET_BYTES,
                image: describe(layout),
            },
        },
        // Lossless files decode only into their own colour model.
        "Unsupported color conversion request" if layout.process == Process::Lossless => {
            Rejection::FeatureUnsupported { format: Format::Jpeg, feature: "lossless coding of YCbCr or YCCK colour" }
        }
        message if message.starts_with("Progressive JPEG image has more than") => Rejection::TooComplex {
            format: Format::Jpeg,
            cost: Cost::JpegScans { count: budget::MAX_JPEG_SCANS + 1, limit: budget::MAX_JPEG_SCANS },
        },
        message => Rejection::Corrupt { format: Format::Jpeg, detail: format!("TurboJPEG error: {message}") },
    };
    let plan = Plan::new(layout, target);
    let mut decompressor = turbo::Decompressor::new().map_err(corrupt)?;
    decompressor.set_scan_limit(budget::MAX_JPEG_SCANS).map_err(corrupt)?;
    // libjpeg's own bound on its whole-image buffer, in case it reads the
    // file differently from us: what the budget leaves after the frame.
    let room = budget::DECODE_BUDGET_BYTES.saturating_sub(plan.frame_bytes()) >> 20;
    decompressor.set_memory_limit(u32::try_from(room).unwrap_or(u32::MAX).max(1)).map_err(corrupt)?;
    let pixels = u64::from(layout.width) * u64::from(layout.height);
    decompressor.set_pixel_limit(u32::try_from(pixels).unwrap_or(u32::MAX)).map_err(corrupt)?;
    let header = decompressor.read_header(bytes).map_err(corrupt)?;
    // The plan (and so the buffer) comes from our reading of the header,
    // the limits were checked on it too: libjpeg's must agree.
    if (header.width, header.height, header.precision)
        != (usize::from(layout.width), usize::from(layout.height), layout.precision)
    {
        return Err(Rejection::Corrupt {
            format: Format::Jpeg,
            detail: format!(
                "the frame header declares {}x{} pixels of {} bits to one reader and {}x{} of {} bits to another",
                layout.width, layout.height, layout.precision, header.width, header.height, header.precision
            ),
        });
    }
    decompressor.set_scale_eighths(plan.scale).map_err(corrupt)?;
    let samples = plan.width * plan.height * plan.format.channels();
    let full_scale = (1u32 << layout.precision) - 1;
    // TurboJPEG fails on libjpeg's warnings too, so a truncated file (which
    // libjpeg would pad with grey) or corrupt entropy data is an error.
    let (width, height, format) = (plan.width, plan.height, plan.format);
    let (pixels, width, height) = match layout.precision {
        0..=8 => {
            let mut frame = vec![0u8; samples];
            decompressor.decompress8(bytes, &mut frame, width, height, format).map_err(corrupt)?;
            match format {
                // Grey, or lossless samples of 2 to 7 bits, which come out unscaled.
                _ if !plan.used_in_place() => {
                    centre_square_rgb(&frame, width, height, format, |sample| to_8_bits(u32::from(sample), full_scale))
                }
                PixelFormat::Cmyk => (cmyk_to_rgb_in_place(frame), width, height),
                _ => (frame, width, height),
            }
        }
        9..=12 => {
            let mut frame = vec![0i16; samples];
            decompressor.decompress12(bytes, &mut frame, width, height, format).map_err(corrupt)?;
            centre_square_rgb(&frame, width, height, format, |sample| to_8_bits(sample.max(0) as u32, full_scale))
        }
        _ => {
            let mut frame = vec![0u16; samples];
            decompressor.decompress16(bytes, &mut frame, width, height, format).map_err(corrupt)?;
            centre_square_rgb(&frame, width, height, format, |sample| to_8_bits(u32::from(sample), full_scale))
        }
    };
    let dimension = |value: usize| u32::try_from(value).expect("scaled dimensions are at most the checked header's");
    Ok(Decoded {
        width: dimension(width),
        height: dimension(height),
        pixels,
        has_transparency: false,
        premultiplied: false,
    })
}

/// A sample of `full_scale` (2^bits - 1) on 0 to 255, rounded.
fn to_8_bits(sample: u32, full_scale: u32) -> u8 {
    ((sample.min(full_scale) * 255 + full_scale / 2) / full_scale) as u8
}

/// Adobe applications (and jpeg-encoder) store CMYK inverted, which is what
/// libjpeg hands back: 255 means no ink.
fn cmyk_pixel([c, m, y, k]: [u8; 4]) -> [u8; 3] {
    let key = u32::from(k);
    let channel = |ink: u8| (u32::from(ink) * key / 255) as u8;
    [channel(c), channel(m), channel(y)]
}

/// CMYK to RGB in the same buffer: each pixel shrinks from 4 bytes to 3,
/// so it is written at or before where it was read.
fn cmyk_to_rgb_in_place(mut frame: Vec<u8>) -> Vec<u8> {
    let pixels = frame.len() / 4;
    for index in 0..pixels {
        let cmyk = [frame[4 * index], frame[4 * index + 1], frame[4 * index + 2], frame[4 * index + 3]];
        frame[3 * index..3 * index + 3].copy_from_slice(&cmyk_pixel(cmyk));
    }
    frame.truncate(pixels * 3);
    frame
}

/// The centre square of a frame (all the renditions use) as 8-bit RGB,
/// and its side twice: converting only the square keeps the copy small
/// for long images.
fn centre_square_rgb<T: Copy>(
    frame: &[T],
    width: usize,
    height: usize,
    format: PixelFormat,
    to_8: impl Fn(T) -> u8,
) -> (Vec<u8>, usize, usize) {
    let side = width.min(height);
    let (left, top) = ((width - side) / 2, (height - side) / 2);
    let channels = format.channels();
    let mut square = Vec::with_capacity(side * side * 3);
    for row in frame.chunks_exact(width * channels).skip(top).take(side) {
        let pixels = row[left * channels..(left + side) * channels].chunks_exact(channels);
        match format {
            PixelFormat::Gray => pixels.for_each(|pixel| square.extend([to_8(pixel[0]); 3])),
            PixelFormat::Rgb => pixels.for_each(|pixel| square.extend(pixel.iter().map(|&sample| to_8(sample)))),
            PixelFormat::Cmyk => pixels.for_each(|pixel| {
                square.extend(cmyk_pixel([to_8(pixel[0]), to_8(pixel[1]), to_8(pixel[2]), to_8(pixel[3])]))
            }),
        }
    }
    (square, side, side)
}
