//! The most expensive files the limits accept (2.5 MiB, sides 32 to
//! 10,000, at most 40 megapixels), and the cheapest files that are more
//! expensive than a decode may be: the half of the hostile corpus that
//! proves the memory and CPU budgets.
//!
//! Flat images compress to almost nothing, so they reach 40 megapixels
//! within the byte limit; noisy ones fill the byte limit instead. Every
//! maker here writes its file without a full frame in memory where it can,
//! because the corpus is built in unoptimized test builds too.

use std::borrow::Cow;

use super::{
    CorpusEntry, Expected,
    block_jpeg::{BlockColour, BlockJpeg, BlockScans},
    row_png::{RowPng, with_chunks_before_data},
};
use crate::budget;

const TOO_COMPLEX: Expected = Expected::Refused("IMAGE_TOO_COMPLEX");

/// 40 megapixels in a square: the largest area, with both sides long.
const SQUARE_40MP: u16 = 6_324;

pub fn entries() -> Vec<CorpusEntry> {
    let mut corpus = Vec::new();
    corpus.extend(jpeg_entries());
    corpus.extend(png_entries());
    corpus
}

fn entry(name: impl Into<String>, bytes: Vec<u8>, expected: Expected) -> CorpusEntry {
    CorpusEntry { name: name.into(), bytes, expected }
}

/// Two colours in vertical bands, so the result is not one flat colour.
fn two_tone(x: u32, _y: u32) -> [u8; 3] {
    if (x / 512).is_multiple_of(2) { [40, 90, 160] } else { [230, 200, 60] }
}

fn block_jpeg(width: u16, height: u16, precision: u8, colour: BlockColour, scans: BlockScans) -> Vec<u8> {
    BlockJpeg { width, height, precision, colour, scans }.encode(two_tone)
}

fn jpeg_entries() -> Vec<CorpusEntry> {
    use BlockColour::{Cmyk, Gray, YCbCr420, YCbCr444};
    let square = SQUARE_40MP;
    let mut corpus = vec![
        // The reported case: 320 MB of coefficients from a 0.3 MB file.
        entry(
            "progressive-cmyk-6324x6324-flat.jpg",
            block_jpeg(square, square, 8, Cmyk, BlockScans::Progressive),
            TOO_COMPLEX,
        ),
        // Not progressive, yet one scan per component needs the same buffer.
        entry(
            "sequential-noninterleaved-ycbcr444-6324x6324.jpg",
            block_jpeg(square, square, 8, YCbCr444, BlockScans::NonInterleaved),
            TOO_COMPLEX,
        ),
        // One scan per component, small enough to be fine.
        entry(
            "sequential-noninterleaved-ycbcr420-2000x1500.jpg",
            block_jpeg(2000, 1500, 8, YCbCr420, BlockScans::NonInterleaved),
            Expected::Accepted,
        ),
        // Single-scan files at 40 MP only ever hold a few block rows.
        entry(
            "baseline-cmyk-6324x6324-flat.jpg",
            block_jpeg(square, square, 8, Cmyk, BlockScans::Sequential),
            Expected::Accepted,
        ),
        entry(
            "baseline-ycbcr420-10000x4000-flat.jpg",
            block_jpeg(10_000, 4_000, 8, YCbCr420, BlockScans::Sequential),
            Expected::Accepted,
        ),
        // The largest decoded frame: 585 rows are too few for any DCT
        // scaling, so all 10,000 columns come out, in CMYK.
        entry(
            "baseline-cmyk-10000x585-flat.jpg",
            block_jpeg(10_000, 585, 8, Cmyk, BlockScans::Sequential),
            Expected::Accepted,
        ),
        // The same frame in 12-bit samples: twice the bytes, then reduced.
        entry(
            "extended-12bit-cmyk-10000x585-flat.jpg",
            block_jpeg(10_000, 585, 12, Cmyk, BlockScans::Sequential),
            Expected::Accepted,
        ),
        entry(
            "extended-12bit-ycbcr420-6324x6324-flat.jpg",
            block_jpeg(square, square, 12, YCbCr420, BlockScans::Sequential),
            Expected::Accepted,
        ),
    ];

    // The files that need the most memory come first and one after
    // another, so that decoding two at a time meets two of them at once.
    let mut heaviest = Vec::new();

    // The largest progressive square of each colour model the budget
    // admits, and one a little larger that it does not.
    for (label, colour) in [("gray", Gray), ("ycbcr420", YCbCr420), ("ycbcr444", YCbCr444), ("cmyk", Cmyk)] {
        let side = largest_progressive_square(colour);
        heaviest.push(entry(
            format!("progressive-{label}-{side}x{side}-at-budget.jpg"),
            block_jpeg(side, side, 8, colour, BlockScans::Progressive),
            Expected::Accepted,
        ));
        // A sixteenth more on a side, within 40 MP.
        let over = (side + side / 16).min(SQUARE_40MP);
        corpus.push(entry(
            format!("progressive-{label}-{over}x{over}-over-budget.jpg"),
            block_jpeg(over, over, 8, colour, BlockScans::Progressive),
            TOO_COMPLEX,
        ));
    }

    // As many scans as the CPU budget allows over every block of the
    // largest grey image the memory budget admits; then one scan more.
    let side = largest_progressive_square(Gray);
    let blocks = u64::from(side).div_ceil(8).pow(2);
    let scans = (budget::MAX_JPEG_SCAN_BLOCKS / blocks) as u32;
    heaviest.push(entry(
        format!("progressive-gray-{side}x{side}-{scans}-scans.jpg"),
        block_jpeg(side, side, 8, Gray, BlockScans::ProgressiveBitByBit { ac_scans: scans - 1 }),
        Expected::Accepted,
    ));
    corpus.push(entry(
        format!("progressive-gray-{side}x{side}-{}-scans.jpg", scans + 1),
        block_jpeg(side, side, 8, Gray, BlockScans::ProgressiveBitByBit { ac_scans: scans }),
        TOO_COMPLEX,
    ));
    // As many scans as allowed at all, then one more.
    for (side, scans, expected) in
        [(1024, budget::MAX_JPEG_SCANS, Expected::Accepted), (512, budget::MAX_JPEG_SCANS + 1, TOO_COMPLEX)]
    {
        corpus.push(entry(
            format!("progressive-gray-{side}x{side}-{scans}-scans.jpg"),
            block_jpeg(side, side, 8, Gray, BlockScans::ProgressiveBitByBit { ac_scans: scans - 1 }),
            expected,
        ));
    }

    // Noise as large as the byte limit allows, over 40 megapixels, in the
    // costliest coding for the decoder: CMYK, and arithmetic coding.
    corpus.push(entry(
        "baseline-cmyk-6324x6324-noisy.jpg",
        noisy_jpeg(square, square, turbojpeg::PixelFormat::CMYK, false),
        Expected::Accepted,
    ));
    corpus.push(entry(
        "arithmetic-ycbcr444-6324x6324-noisy.jpg",
        noisy_jpeg(square, square, turbojpeg::PixelFormat::RGB, true),
        Expected::Accepted,
    ));

    // Lossless JPEG cannot be scaled while decoding: the whole frame comes
    // out, and this is the largest that fits in 2.5 MiB.
    heaviest.push(entry("lossless-gray-4400x4400-flat.jpg", lossless_gray_jpeg(4400, 4400), Expected::Accepted));

    // 2.5 MB of empty comment segments: markers cost per marker, not per byte.
    corpus.push(entry("marker-flood.jpg", jpeg_marker_flood(), Expected::Accepted));
    heaviest.append(&mut corpus);
    heaviest
}

fn png_entries() -> Vec<CorpusEntry> {
    use png::ColorType::{GrayscaleAlpha, Indexed, Rgba};
    let square = u32::from(SQUARE_40MP);
    let mut corpus = Vec::new();
    // The reported cases, and the same in the most bytes per pixel, in
    // both orientations of the longest side, and interlaced.
    let flat: [(&str, png::ColorType, u8, u32, u32, bool); 7] = [
        ("gray-alpha", GrayscaleAlpha, 8, square, square, false),
        ("rgba", Rgba, 8, square, square, false),
        ("rgba16", Rgba, 16, 10_000, 4_000, false),
        ("rgba16", Rgba, 16, 4_000, 10_000, false),
        ("rgba16-interlaced", Rgba, 16, square, square, true),
        ("palette-trns", Indexed, 8, square, square, false),
        ("rgba", Rgba, 8, 10_000, 32, false),
    ];
    for (label, colour, depth, width, height, interlaced) in flat {
        corpus.push(entry(
            format!("{label}-{width}x{height}-flat.png"),
            flat_png(width, height, colour, depth, interlaced),
            Expected::Accepted,
        ));
    }
    corpus.push(entry(
        format!("rgba-{square}x{square}-noisy.png"),
        noisy_png(square, square, Rgba, false),
        Expected::Accepted,
    ));
    corpus.push(entry(
        format!("rgba-{square}x{square}-noisy-interlaced.png"),
        noisy_png(square, square, Rgba, true),
        Expected::Accepted,
    ));

    // The reported CPU case: 200,000 empty IDAT chunks in 2.4 MB.
    let small = flat_png(64, 64, Rgba, 8, false);
    corpus.push(entry("idat-flood.png", with_chunks_before_data(&small, b"IDAT", &[], 200_000), TOO_COMPLEX));
    corpus.push(entry(
        "ancillary-chunk-flood.png",
        with_chunks_before_data(&small, b"prVt", &[0; 4], 150_000),
        TOO_COMPLEX,
    ));
    // As many chunks as allowed is fine.
    corpus.push(entry(
        "idat-chunks-at-the-limit.png",
        with_chunks_before_data(&small, b"IDAT", &[], budget::MAX_PNG_CHUNKS - 3),
        Expected::Accepted,
    ));
    corpus
}

/// The side of the largest square progressive JPEG of `colour` whose
/// coefficients (2 bytes each) fit the memory budget with room for the
/// rest of the decode.
pub fn largest_progressive_square(colour: BlockColour) -> u16 {
    let coefficients_per_pixel = match colour {
        BlockColour::Gray => 1.0,
        BlockColour::YCbCr420 => 1.5,
        BlockColour::YCbCr444 => 3.0,
        BlockColour::Cmyk => 4.0,
    };
    let room = (budget::DECODE_BUDGET_BYTES - budget::JPEG_WORKING_BYTES) as f64 * 0.97;
    let side = (room / (2.0 * coefficients_per_pixel)).sqrt();
    // Whole 4:2:0 MCUs, and no more than 40 MP.
    ((side as u16) / 16 * 16).min(SQUARE_40MP / 16 * 16)
}

/// Bytes that do not compress: xorshift64.
fn noise(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(length + 8);
    while bytes.len() < length {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend(state.to_le_bytes());
    }
    bytes.truncate(length);
    bytes
}

/// Mid-grey with a band of noise across the middle, sized so the file
/// lands just under 2.5 MiB.
fn noisy_jpeg(width: u16, height: u16, format: turbojpeg::PixelFormat, arithmetic: bool) -> Vec<u8> {
    let (width, height) = (usize::from(width), usize::from(height));
    let pitch = width * format.size();
    let mut pixels = vec![128u8; pitch * height];
    let mut compressor = turbojpeg::Compressor::new().expect("TurboJPEG");
    compressor.set_quality(90).expect("quality");
    compressor.set_subsamp(turbojpeg::Subsamp::None).expect("4:4:4");
    compressor.set_arithmetic(arithmetic).expect("arithmetic");
    fill_to_byte_limit(height, |rows| {
        pixels.fill(128);
        let top = (height - rows) / 2 * pitch;
        pixels[top..top + rows * pitch].copy_from_slice(&noise(rows * pitch, 7));
        let image = turbojpeg::Image { pixels: &pixels[..], width, pitch, height, format };
        compressor.compress_to_vec(image).expect("compress")
    })
}

/// The file `make(rows)` gives for the number of noisy rows (at most
/// `height`) that brings it closest under 2.5 MiB: noise costs about the
/// same per row, so a few proportional corrections get there.
fn fill_to_byte_limit(height: usize, mut make: impl FnMut(usize) -> Vec<u8>) -> Vec<u8> {
    const TARGET: usize = 2_500_000;
    let mut rows = height.min(64);
    let mut best = None;
    for _ in 0..4 {
        let bytes = make(rows);
        let next = (rows * TARGET / bytes.len().max(1)).clamp(1, height);
        if bytes.len() <= 2_600_000 {
            let done = bytes.len() > 2_300_000 || rows == height;
            best = Some(bytes);
            if done {
                break;
            }
        }
        rows = next;
    }
    best.expect("some band of noise fits in 2.5 MiB")
}

/// A flat grey lossless JPEG: at least one bit per sample, so 2.5 MiB
/// holds about 20 megapixels.
fn lossless_gray_jpeg(width: u16, height: u16) -> Vec<u8> {
    let (width, height) = (usize::from(width), usize::from(height));
    let pixels = vec![90u8; width * height];
    let mut compressor = turbojpeg::Compressor::new().expect("TurboJPEG");
    compressor.set_lossless(true).expect("lossless");
    compressor.set_subsamp(turbojpeg::Subsamp::Gray).expect("gray");
    let format = turbojpeg::PixelFormat::GRAY;
    let image = turbojpeg::Image { pixels: &pixels[..], width, pitch: width, height, format };
    compressor.compress_to_vec(image).expect("compress")
}

/// A small JPEG with 2.5 MB of empty COM segments after its header.
fn jpeg_marker_flood() -> Vec<u8> {
    let jpeg = block_jpeg(64, 64, 8, BlockColour::YCbCr444, BlockScans::Sequential);
    let mut bytes = jpeg[..2].to_vec();
    for _ in 0..(2_500_000 / 4) {
        bytes.extend([0xFF, 0xFE, 0x00, 0x02]);
    }
    bytes.extend_from_slice(&jpeg[2..]);
    bytes
}

/// The raw bytes of one pixel of the flat colour, in `colour` at `depth`.
fn flat_pixel(colour: png::ColorType, depth: u8) -> Vec<u8> {
    let samples: &[u8] = match colour {
        png::ColorType::Grayscale => &[120],
        png::ColorType::GrayscaleAlpha => &[120, 200],
        png::ColorType::Rgb => &[40, 90, 160],
        png::ColorType::Rgba => &[40, 90, 160, 200],
        png::ColorType::Indexed => &[1],
    };
    samples.iter().flat_map(|&sample| if depth == 16 { vec![sample, sample] } else { vec![sample] }).collect()
}

fn layout(width: u32, height: u32, colour: png::ColorType, depth: u8, interlaced: bool) -> RowPng {
    let indexed = colour == png::ColorType::Indexed;
    RowPng {
        width,
        height,
        colour,
        depth,
        interlaced,
        palette: indexed.then(|| vec![0, 0, 0, 40, 90, 160]),
        transparency: indexed.then(|| vec![0, 180]),
    }
}

/// One colour everywhere, with partial transparency where the colour type
/// has alpha.
pub fn flat_png(width: u32, height: u32, colour: png::ColorType, depth: u8, interlaced: bool) -> Vec<u8> {
    let row = flat_pixel(colour, depth).repeat(width as usize);
    layout(width, height, colour, depth, interlaced).encode(|_| Cow::Borrowed(&row[..]))
}

/// Flat, with a band of noise across the middle as large as fits.
fn noisy_png(width: u32, height: u32, colour: png::ColorType, interlaced: bool) -> Vec<u8> {
    let flat = flat_pixel(colour, 8).repeat(width as usize);
    // Noise barely compresses: 4 MB of it is more than ever fits.
    let most_rows = (4_000_000 / flat.len()).clamp(1, height as usize);
    let noise = noise(most_rows * flat.len(), 11);
    fill_to_byte_limit(most_rows, |rows| {
        let band = rows as u32;
        let top = (height - band) / 2;
        layout(width, height, colour, 8, interlaced).encode(|y| {
            if (top..top + band).contains(&y) {
                let start = (y - top) as usize * flat.len();
                Cow::Borrowed(&noise[start..start + flat.len()])
            } else {
                Cow::Borrowed(&flat[..])
            }
        })
    })
}
