//! The memory and CPU budgets: what they refuse (before decoding, with a
//! reason and a message naming the limit), and the valid files they must
//! not refuse, 12-bit and arithmetic-coded JPEGs included.

use super::super::{budget, jpeg, jpeg_header, *};
use crate::samples::{self, BlockColour, BlockJpeg, BlockScans, QUADRANT_COLOURS};

fn pipeline() -> Pipeline {
    Pipeline::default()
}

fn block_jpeg(width: u16, height: u16, precision: u8, colour: BlockColour, scans: BlockScans) -> Vec<u8> {
    BlockJpeg { width, height, precision, colour, scans }.encode(|x, y| quadrant_colour(x, y, width, height))
}

fn quadrant_colour(x: u32, y: u32, width: u16, height: u16) -> [u8; 3] {
    QUADRANT_COLOURS[usize::from(x >= u32::from(width) / 2) + 2 * usize::from(y >= u32::from(height) / 2)]
}

/// The refusal of `bytes`, which must come from the header alone.
fn refusal(bytes: &[u8]) -> Rejection {
    let from_header = pipeline().inspect(bytes).expect_err("refused from the header");
    assert_eq!(pipeline().normalize(bytes).expect_err("refused"), from_header, "inspect and normalize agree");
    from_header
}

/// The four quadrants of the 512 px rendition are their colours.
fn assert_quadrants(name: &str, bytes: &[u8]) {
    let normalized = pipeline().normalize(bytes).unwrap_or_else(|rejection| panic!("{name}: {rejection}"));
    let rendition = normalized.renditions.last().expect("renditions");
    let output = image::load_from_memory(&rendition.bytes).expect("decodes").to_rgb8();
    let (w, h) = output.dimensions();
    for (quadrant, (x, y)) in
        [(w / 4, h / 4), (3 * w / 4, h / 4), (w / 4, 3 * h / 4), (3 * w / 4, 3 * h / 4)].into_iter().enumerate()
    {
        let pixel = output.get_pixel(x, y).0;
        let expected = QUADRANT_COLOURS[quadrant];
        assert!(
            pixel.iter().zip(expected).all(|(a, b)| a.abs_diff(b) < 12),
            "{name}, quadrant {quadrant}: {pixel:?} instead of {expected:?}"
        );
    }
}

#[test]
fn a_progressive_jpeg_beyond_the_memory_budget_is_refused_before_decoding_naming_the_limit() {
    // The reported case: 0.4 MB of file, 320 MB of coefficients.
    let bytes = block_jpeg(6_324, 6_324, 8, BlockColour::Cmyk, BlockScans::Progressive);
    assert!(bytes.len() < 500_000, "{} bytes", bytes.len());
    let rejection = refusal(&bytes);
    assert_eq!(rejection.reason(), "IMAGE_TOO_COMPLEX");
    let Rejection::TooComplex { cost: Cost::Memory { needed, limit, .. }, .. } = rejection else {
        panic!("a memory refusal: {rejection:?}")
    };
    assert_eq!(limit, budget::DECODE_BUDGET_BYTES);
    assert!(needed > 300 << 20, "{needed} bytes: the coefficient buffer of 4 x 40 MP");
    assert_eq!(
        rejection.to_string(),
        format!(
            "the progressive JPEG needs {} MiB of memory to decode; the limit is 80 MiB per image: \
             save it as a baseline (non-progressive) JPEG, or with fewer pixels",
            needed.div_ceil(1 << 20)
        )
    );
}

#[test]
fn the_largest_progressive_jpegs_the_budget_admits_are_decoded() {
    // A 12 MP camera-size image without chroma subsampling (what
    // high-quality exports write) is what the budget is sized for.
    let twelve_megapixels = block_jpeg(4_032, 3_024, 8, BlockColour::YCbCr444, BlockScans::Progressive);
    assert_quadrants("12 MP progressive 4:4:4", &twelve_megapixels);
    for colour in [BlockColour::Gray, BlockColour::YCbCr420, BlockColour::YCbCr444, BlockColour::Cmyk] {
        let side = samples::largest_progressive_square(colour);
        let bytes = block_jpeg(side, side, 8, colour, BlockScans::Progressive);
        pipeline().normalize(&bytes).unwrap_or_else(|rejection| panic!("{colour:?} {side}x{side}: {rejection}"));
    }
}

#[test]
fn the_memory_estimate_is_libjpegs_coefficient_buffer_plus_the_frame() {
    // 4:2:0: luma 2 x 2 blocks per MCU, chroma one; 3000 rows are 375
    // luma blocks (padded to 376), 188 chroma blocks.
    let bytes = block_jpeg(4_000, 3_000, 8, BlockColour::YCbCr420, BlockScans::Progressive);
    let layout = jpeg_header::read(&bytes).expect("layout");
    let plan = jpeg::Plan::new(&layout, decode::Target::ShortSide(512));
    assert_eq!((plan.scale, plan.width, plan.height), (2, 1000, 750), "1/4 scale keeps 750 rows");
    let coefficients = (500 * 376 + 2 * 250 * 188) * 128;
    let frame = 1000 * 750 * 3;
    assert_eq!(plan.memory_bytes(&layout), coefficients + frame + budget::JPEG_WORKING_BYTES);
    // A baseline file needs no coefficient buffer.
    let baseline = block_jpeg(4_000, 3_000, 8, BlockColour::YCbCr420, BlockScans::Sequential);
    let layout = jpeg_header::read(&baseline).expect("layout");
    assert_eq!(plan.memory_bytes(&layout), frame + budget::JPEG_WORKING_BYTES);
}

#[test]
fn one_scan_per_component_needs_the_coefficient_buffer_too() {
    let large = block_jpeg(6_324, 6_324, 8, BlockColour::YCbCr444, BlockScans::NonInterleaved);
    let rejection = refusal(&large);
    assert!(
        rejection.to_string().starts_with("the JPEG with one scan per colour component needs 235 MiB"),
        "{rejection}"
    );
    assert_quadrants(
        "small non-interleaved",
        &block_jpeg(800, 600, 8, BlockColour::YCbCr420, BlockScans::NonInterleaved),
    );
}

#[test]
fn jpegs_with_more_scans_than_allowed_are_refused() {
    let scans = |ac_scans| block_jpeg(256, 256, 8, BlockColour::YCbCr444, BlockScans::ProgressiveBitByBit { ac_scans });
    pipeline().normalize(&scans(budget::MAX_JPEG_SCANS - 1)).expect("at the limit");
    let rejection = refusal(&scans(budget::MAX_JPEG_SCANS));
    assert_eq!(
        rejection,
        Rejection::TooComplex { format: Format::Jpeg, cost: Cost::JpegScans { count: 101, limit: 100 } }
    );
    assert_eq!(
        rejection.to_string(),
        "the JPEG has 101 scans; the limit is 100: save it as a baseline (non-progressive) JPEG, or with fewer pixels"
    );
}

#[test]
fn scans_that_read_too_many_blocks_are_refused_however_small_the_file() {
    // 4096 x 4096 grey: 262,144 blocks; 77 scans read 20.2 million.
    let bytes = block_jpeg(4_096, 4_096, 8, BlockColour::Gray, BlockScans::ProgressiveBitByBit { ac_scans: 76 });
    assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
    let rejection = refusal(&bytes);
    assert_eq!(
        rejection,
        Rejection::TooComplex {
            format: Format::Jpeg,
            cost: Cost::JpegScanBlocks { count: 77 * 262_144, limit: budget::MAX_JPEG_SCAN_BLOCKS }
        }
    );
    assert!(
        rejection.to_string().contains("read 20.2 million 8x8 blocks in all; the limit is 20 million"),
        "{rejection}"
    );
    let fewer = block_jpeg(4_096, 4_096, 8, BlockColour::Gray, BlockScans::ProgressiveBitByBit { ac_scans: 75 });
    pipeline().normalize(&fewer).expect("76 scans read 19.9 million blocks");
}

#[test]
fn pngs_with_more_chunks_than_allowed_are_refused() {
    let small = samples::flat_png(64, 64, png::ColorType::Rgba, 8, false);
    let chunks = |count| samples::with_chunks_before_data(&small, b"IDAT", &[], count);
    // Signature aside, the file has IHDR, IDAT and IEND already.
    pipeline().normalize(&chunks(budget::MAX_PNG_CHUNKS - 3)).expect("at the limit");
    let rejection = refusal(&chunks(budget::MAX_PNG_CHUNKS - 2));
    assert_eq!(
        rejection,
        Rejection::TooComplex { format: Format::Png, cost: Cost::PngChunks { count: 10_001, limit: 10_000 } }
    );
    assert!(rejection.to_string().starts_with("the PNG has 10001 chunks; the limit is 10000"), "{rejection}");
}

#[test]
fn twelve_bit_jpegs_are_decoded_and_reduced_to_eight_bits() {
    // What libjpeg-turbo's monkey12.jpg is: extended sequential, 12-bit.
    for colour in [BlockColour::YCbCr420, BlockColour::Gray, BlockColour::Cmyk] {
        let bytes = block_jpeg(640, 480, 12, colour, BlockScans::Sequential);
        assert_eq!(jpeg_header::read(&bytes).expect("layout").precision, 12);
        if colour == BlockColour::Gray {
            let normalized = pipeline().normalize(&bytes).expect("12-bit grey");
            let output = image::load_from_memory(&normalized.renditions[1].bytes).unwrap().to_luma8();
            // The top-left quadrant's luma: 0.587 x 200.
            assert!(output.get_pixel(100, 100)[0].abs_diff(117) < 4, "{:?}", output.get_pixel(100, 100));
        } else {
            assert_quadrants(&format!("12-bit {colour:?}"), &bytes);
        }
    }
    let progressive = block_jpeg(640, 480, 12, BlockColour::YCbCr444, BlockScans::Progressive);
    assert_quadrants("12-bit progressive", &progressive);
}

#[test]
fn arithmetic_coded_jpegs_are_decoded() {
    // What libjpeg-turbo's testimgari.jpg is: arithmetic entropy coding.
    let image = samples::quadrants(640, 480);
    for progressive in [false, true] {
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_arithmetic(true).unwrap();
        compressor.set_progressive(progressive).unwrap();
        compressor.set_quality(90).unwrap();
        let bytes = compressor.compress_to_vec(turbojpeg::Image {
            pixels: image.as_raw().as_slice(),
            width: 640,
            pitch: 640 * 3,
            height: 480,
            format: turbojpeg::PixelFormat::RGB,
        });
        let bytes = bytes.unwrap();
        assert!(jpeg_header::read(&bytes).expect("layout").arithmetic);
        assert_quadrants(&format!("arithmetic, progressive {progressive}"), &bytes);
    }
}

#[test]
fn lossless_jpegs_are_decoded_whole() {
    let image = samples::quadrants(320, 240);
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_lossless(true).unwrap();
    let bytes = compressor
        .compress_to_vec(turbojpeg::Image {
            pixels: image.as_raw().as_slice(),
            width: 320,
            pitch: 320 * 3,
            height: 240,
            format: turbojpeg::PixelFormat::RGB,
        })
        .unwrap();
    assert_quadrants("lossless", &bytes);
}

#[test]
fn valid_jpegs_we_cannot_decode_are_unsupported_naming_the_feature_not_corrupt() {
    // Hierarchical coding: SOF5 instead of SOF0.
    let mut hierarchical = block_jpeg(64, 64, 8, BlockColour::Gray, BlockScans::Sequential);
    let sof = hierarchical.windows(2).position(|pair| pair == [0xFF, 0xC0]).expect("SOF0");
    hierarchical[sof + 1] = 0xC5;
    let rejection = refusal(&hierarchical);
    assert_eq!(rejection.reason(), "IMAGE_FORMAT_UNSUPPORTED");
    assert_eq!(
        rejection.to_string(),
        "the JPEG uses hierarchical coding, which is not supported; save it as a baseline JPEG or a PNG"
    );
}
