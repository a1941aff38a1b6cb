//! Every validation and rendition rule, on images made here.

mod budget;
mod png_rows;
mod preview;

use image::{GenericImageView, metadata::Orientation};

use super::*;
use crate::samples::{self, JpegOptions, PngOptions, QUADRANT_COLOURS};

fn pipeline() -> Pipeline {
    Pipeline::default()
}

fn photo_jpeg(width: u32, height: u32) -> Vec<u8> {
    samples::jpeg(&samples::photo(width, height, 1), JpegOptions::default())
}

fn decode_output(rendition: &Rendition) -> image::DynamicImage {
    let format = match rendition.format {
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Png => image::ImageFormat::Png,
    };
    image::load_from_memory_with_format(&rendition.bytes, format).expect("renditions decode")
}

fn sizes(normalized: &Normalized) -> Vec<(u32, u32, u32, Format)> {
    normalized.renditions.iter().map(|r| (r.size, r.width, r.height, r.format)).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn refuses_every_format_but_jpeg_and_png_by_magic_bytes() {
    let inputs: &[(&str, &[u8])] = &[
        ("GIF", b"GIF89a\x20\x00\x20\x00\x80\x00\x00"),
        ("WebP", b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"),
        ("HEIC", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
        ("TIFF", b"MM\x00\x2a\x00\x00\x00\x08"),
        ("BMP", b"BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00"),
        ("SVG", b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"512\" height=\"512\"/>"),
        ("PDF", b"%PDF-1.4\n1 0 obj\n"),
        ("text", b"just some text, named photo.jpg"),
        ("empty", b""),
    ];
    for (name, bytes) in inputs {
        let rejection = pipeline().normalize(bytes).expect_err(name);
        assert!(matches!(rejection, Rejection::FormatUnsupported { .. }), "{name}: {rejection:?}");
        assert_eq!(rejection.reason(), "IMAGE_FORMAT_UNSUPPORTED");
        assert!(rejection.to_string().contains("only JPEG and PNG are accepted"), "{name}: {rejection}");
    }
}

#[test]
fn refuses_files_over_the_byte_limit_naming_both_numbers() {
    let bytes = photo_jpeg(64, 64);
    let limits = Limits { max_bytes: bytes.len() - 1, ..Limits::default() };
    let rejection = Pipeline::new(limits).validate(&bytes).expect_err("over the limit");
    assert_eq!(rejection, Rejection::TooLarge { size: bytes.len(), limit: bytes.len() - 1 });
    let message = rejection.to_string();
    assert!(
        message.contains(&bytes.len().to_string()) && message.contains(&(bytes.len() - 1).to_string()),
        "{message}"
    );
    // At the limit exactly, the file is fine.
    Pipeline::new(Limits { max_bytes: bytes.len(), ..Limits::default() }).validate(&bytes).expect("at the limit");
}

#[test]
fn default_byte_limit_is_two_and_a_half_mebibytes() {
    assert_eq!(Limits::default().max_bytes, 2_621_440);
    let mut padded = photo_jpeg(64, 64);
    padded.resize(2_621_441, 0);
    let rejection = pipeline().validate(&padded).expect_err("one byte too many");
    assert_eq!(rejection.to_string(), "the picture is 2.5 MiB (2621441 bytes); the limit is 2.5 MiB (2621440 bytes)");
    // Whatever the bytes hold: the size is checked first, as contacts-svc does.
    let mut gif = b"GIF89a".to_vec();
    gif.resize(4_404_019, 0);
    let rejection = pipeline().inspect(&gif).expect_err("too large");
    assert_eq!(rejection, Rejection::TooLarge { size: 4_404_019, limit: 2_621_440 });
}

#[test]
fn refuses_sides_outside_32_to_10000_and_areas_over_the_limit() {
    for (width, height) in [(31, 100), (100, 31)] {
        let rejection = pipeline().validate(&photo_jpeg(width, height)).expect_err("too small");
        assert_eq!(rejection.reason(), "IMAGE_DIMENSIONS_OUT_OF_RANGE", "{width}x{height}");
    }
    pipeline().validate(&photo_jpeg(32, 32)).expect("32 px is the minimum");

    let rejection = pipeline().validate(&samples::jpeg_bomb(10_001, 100)).expect_err("too wide");
    assert!(rejection.to_string().contains("10001x100"), "{rejection}");

    let limits = Limits { max_pixels: 64 * 63, ..Limits::default() };
    let rejection = Pipeline::new(limits).validate(&photo_jpeg(64, 64)).expect_err("area over the limit");
    assert_eq!(rejection.reason(), "IMAGE_DIMENSIONS_OUT_OF_RANGE");
}

#[test]
fn refuses_decompression_bombs_from_the_header() {
    let png = samples::png_bomb(65_535, 65_535);
    assert!(png.len() < 1000, "the bomb is tiny: {} bytes", png.len());
    let rejection = pipeline().normalize(&png).expect_err("PNG bomb");
    assert!(
        matches!(rejection, Rejection::DimensionsOutOfRange { width: 65_535, height: 65_535, .. }),
        "{rejection:?}"
    );

    // 10,000 x 10,000 passes the side limits but not the 40-megapixel area.
    let rejection = pipeline().normalize(&samples::jpeg_bomb(10_000, 10_000)).expect_err("JPEG bomb");
    assert!(
        matches!(rejection, Rejection::DimensionsOutOfRange { width: 10_000, height: 10_000, .. }),
        "{rejection:?}"
    );
}

#[test]
fn png_text_chunks_are_never_inflated() {
    // 64 MiB of text compresses to ~64 KiB; inflating it would exceed the
    // decoder's memory limit and fail the upload.
    let options = PngOptions { ztxt_bytes: 64 << 20, ..PngOptions::default() };
    let bytes = samples::png_rgb(&samples::quadrants(64, 64), &options);
    assert!(bytes.len() < 1 << 20, "bomb is small: {}", bytes.len());
    pipeline().normalize(&bytes).expect("text chunks are skipped");
}

#[test]
fn truncated_files_are_corrupt_at_every_offset() {
    let jpeg = photo_jpeg(200, 150);
    let png = samples::png_rgb(&samples::photo(200, 150, 2), &PngOptions::default());
    for bytes in [&jpeg, &png] {
        let header_end = 64;
        for cut in (header_end..bytes.len() - 1).step_by((bytes.len() / 25).max(1)).chain([bytes.len() - 1]) {
            let rejection = pipeline().validate(&bytes[..cut]).expect_err("truncated");
            assert_eq!(rejection.reason(), "IMAGE_CORRUPT", "cut at {cut} of {}: {rejection}", bytes.len());
        }
    }
}

#[test]
fn bad_png_checksums_are_corrupt() {
    let mut png = samples::png_rgb(&samples::photo(64, 64, 3), &PngOptions::default());
    let idat = png.windows(4).position(|w| w == b"IDAT").expect("IDAT chunk");
    png[idat + 8] ^= 0x55; // flip bits inside the compressed data, not the CRC
    let rejection = pipeline().validate(&png).expect_err("CRC mismatch");
    assert_eq!(rejection.reason(), "IMAGE_CORRUPT", "{rejection}");
}

#[test]
fn garbage_entropy_data_in_a_jpeg_is_corrupt() {
    let mut jpeg = photo_jpeg(128, 128);
    let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).expect("SOS");
    let scan_header_len = usize::from(u16::from_be_bytes([jpeg[scan + 2], jpeg[scan + 3]]));
    let data_start = scan + 2 + scan_header_len;
    let end = jpeg.len() - 2;
    // 0xFF followed by a non-zero, non-RST byte is an invalid marker inside a scan.
    for (offset, byte) in jpeg[data_start..end].iter_mut().enumerate() {
        *byte = if offset % 2 == 0 { 0xFF } else { 0x12 };
    }
    let rejection = pipeline().validate(&jpeg).expect_err("garbage scan");
    assert_eq!(rejection.reason(), "IMAGE_CORRUPT", "{rejection}");
}

#[test]
fn accepts_every_colour_model_and_encoding_variant() {
    let upright = samples::quadrants(96, 80);
    let rgba = samples::logo(96, 80);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("grayscale JPEG", samples::jpeg_gray(&upright)),
        ("CMYK JPEG", samples::jpeg_cmyk(&upright)),
        ("progressive JPEG", samples::jpeg(&upright, JpegOptions { progressive: true, ..JpegOptions::default() })),
        ("grayscale PNG", samples::png_gray(&upright)),
        ("palette PNG", samples::png_palette(&upright)),
        ("16-bit PNG", samples::png_rgb(&upright, &PngOptions { sixteen_bit: true, ..PngOptions::default() })),
        ("16-bit RGBA PNG", samples::png_rgba(&rgba, &PngOptions { sixteen_bit: true, ..PngOptions::default() })),
        ("animated PNG", samples::png_rgb(&upright, &PngOptions { animated: true, ..PngOptions::default() })),
        ("RGBA PNG", samples::png_rgba(&rgba, &PngOptions::default())),
    ];
    for (name, bytes) in cases {
        let normalized = pipeline().normalize(&bytes).unwrap_or_else(|rejection| panic!("{name}: {rejection}"));
        assert_eq!(sizes(&normalized).len(), 2, "{name}");
        assert_eq!((normalized.info.width, normalized.info.height), (96, 80), "{name}");
    }
}

#[test]
fn cmyk_jpeg_colours_come_out_right() {
    let normalized = pipeline().normalize(&samples::jpeg_cmyk(&samples::quadrants(200, 200))).unwrap();
    let output = decode_output(&normalized.renditions[1]).to_rgb8();
    let top_left = output.get_pixel(10, 10).0;
    let expected = QUADRANT_COLOURS[0];
    assert!(top_left.iter().zip(expected).all(|(a, b)| a.abs_diff(b) < 40), "{top_left:?} vs {expected:?}");
}

#[test]
fn crops_to_a_centered_square_in_two_sizes_without_upscaling() {
    let normalized = pipeline().normalize(&photo_jpeg(1200, 800)).unwrap();
    assert_eq!(sizes(&normalized), [(128, 128, 128, Format::Jpeg), (512, 512, 512, Format::Jpeg)]);

    let small = pipeline().normalize(&photo_jpeg(300, 450)).unwrap();
    assert_eq!(sizes(&small), [(128, 128, 128, Format::Jpeg), (512, 300, 300, Format::Jpeg)]);

    let tiny = pipeline().normalize(&photo_jpeg(100, 40)).unwrap();
    assert_eq!(sizes(&tiny), [(128, 40, 40, Format::Jpeg), (512, 40, 40, Format::Jpeg)]);
}

#[test]
fn center_crop_keeps_the_middle_of_a_wide_image() {
    // Wide image: left third blue, middle third green, right third red.
    let wide = image::RgbImage::from_fn(900, 300, |x, _| match x / 300 {
        0 => image::Rgb([0, 0, 255]),
        1 => image::Rgb([0, 255, 0]),
        _ => image::Rgb([255, 0, 0]),
    });
    let normalized = pipeline().normalize(&samples::jpeg(&wide, JpegOptions::default())).unwrap();
    let output = decode_output(&normalized.renditions[1]).to_rgb8();
    for (x, y) in [(5, 5), (295, 150), (150, 295)] {
        let pixel = output.get_pixel(x, y).0;
        assert!(
            pixel[1] > 200 && pixel[0] < 60 && pixel[2] < 60,
            "pixel ({x},{y}) = {pixel:?} is not the green middle"
        );
    }
}

#[test]
fn applies_every_exif_orientation() {
    let upright = samples::quadrants(640, 480);
    for exif in 1..=8u8 {
        let orientation = Orientation::from_exif(exif).unwrap();
        let stored = samples::stored_for(&upright, orientation);
        let bytes = samples::jpeg(&stored, JpegOptions { exif_orientation: Some(exif), ..JpegOptions::default() });
        let normalized = pipeline().normalize(&bytes).unwrap();
        assert_eq!(normalized.info.orientation, orientation);
        for rendition in &normalized.renditions {
            let output = decode_output(rendition).to_rgb8();
            let (w, h) = output.dimensions();
            let probes = [(w / 4, h / 4), (3 * w / 4, h / 4), (w / 4, 3 * h / 4), (3 * w / 4, 3 * h / 4)];
            for (quadrant, (x, y)) in probes.into_iter().enumerate() {
                let pixel = output.get_pixel(x, y).0;
                let expected = QUADRANT_COLOURS[quadrant];
                let close = pixel.iter().zip(expected).all(|(a, b)| a.abs_diff(b) < 40);
                assert!(
                    close,
                    "orientation {exif}, {}px, quadrant {quadrant}: {pixel:?} != {expected:?}",
                    rendition.size
                );
            }
        }
    }
}

#[test]
fn outputs_carry_no_metadata() {
    let bytes = samples::jpeg(
        &samples::photo(800, 600, 4),
        JpegOptions { exif_orientation: Some(6), gps: true, ..JpegOptions::default() },
    );
    assert!(contains(&bytes, samples::EXIF_MARKER), "the input has EXIF");
    let normalized = pipeline().normalize(&bytes).unwrap();
    for rendition in &normalized.renditions {
        assert!(!contains(&rendition.bytes, b"Exif"), "{}px has an EXIF segment", rendition.size);
        assert!(!contains(&rendition.bytes, samples::EXIF_MARKER), "{}px leaks the camera make", rendition.size);
        assert!(!contains(&rendition.bytes, &[0xFF, 0xE1]), "{}px has an APP1 segment", rendition.size);
        assert!(!contains(&rendition.bytes, &[0xFF, 0xFE]), "{}px has a comment", rendition.size);
    }
}

#[test]
fn polyglot_tails_do_not_survive() {
    let mut jpeg_zip = photo_jpeg(300, 300);
    jpeg_zip.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00evil.html<script>alert(1)</script>");
    let mut png_html = samples::png_rgb(&samples::photo(300, 300, 5), &PngOptions::default());
    png_html.extend_from_slice(b"<html><script>alert(1)</script></html>");
    for bytes in [jpeg_zip, png_html] {
        let normalized = pipeline().normalize(&bytes).expect("appended data is ignored");
        for rendition in &normalized.renditions {
            assert!(!contains(&rendition.bytes, b"<script>"), "{}px carries the payload", rendition.size);
            assert!(!contains(&rendition.bytes, b"PK\x03\x04"), "{}px carries the ZIP", rendition.size);
        }
    }
}

#[test]
fn real_transparency_stays_png_and_opaque_alpha_becomes_jpeg() {
    let logo = pipeline().normalize(&samples::png_rgba(&samples::logo(600, 600), &PngOptions::default())).unwrap();
    assert!(logo.info.has_alpha);
    for rendition in &logo.renditions {
        assert_eq!(rendition.format, Format::Png, "{}px", rendition.size);
        let output = decode_output(rendition);
        assert!(output.color().has_alpha());
        assert_eq!(output.get_pixel(1, 1)[3], 0, "corner stays transparent");
        let centre = output.width() / 2;
        assert_eq!(output.get_pixel(centre, centre)[3], 255, "disc stays opaque");
    }

    let opaque = image::RgbaImage::from_fn(100, 100, |x, _| image::Rgba([x as u8, 0, 0, 255]));
    let normalized = pipeline().normalize(&samples::png_rgba(&opaque, &PngOptions::default())).unwrap();
    assert!(normalized.info.has_alpha, "declared alpha is reported");
    assert!(normalized.renditions.iter().all(|r| r.format == Format::Jpeg), "all-opaque alpha becomes JPEG");
}

#[test]
fn large_jpegs_are_decoded_scaled_not_at_full_resolution() {
    let bytes = photo_jpeg(4000, 3000);
    let limits = Limits { max_bytes: bytes.len(), ..Limits::default() };
    let (_, layout) = Pipeline::new(limits).examine(&bytes).unwrap();
    let decoded = decode::decode(&layout, &bytes, decode::Target::ShortSide(512)).unwrap();
    // 1/4 scale keeps 750 rows, the smallest scale with at least 512.
    assert_eq!((decoded.width, decoded.height), (1000, 750));
}

#[test]
fn reports_what_the_header_declares() {
    let bytes = samples::jpeg(
        &samples::photo(640, 480, 6),
        JpegOptions { exif_orientation: Some(8), ..JpegOptions::default() },
    );
    let info = pipeline().validate(&bytes).unwrap();
    assert_eq!(
        info,
        ImageInfo {
            format: Format::Jpeg,
            width: 640,
            height: 480,
            size_bytes: bytes.len() as u64,
            has_alpha: false,
            orientation: Orientation::Rotate270,
        }
    );
}

#[test]
fn the_hostile_corpus_gets_exactly_its_expected_verdicts() {
    let check = |entry: &samples::CorpusEntry| match (pipeline().normalize(&entry.bytes), entry.expected) {
        (Ok(normalized), samples::Expected::Accepted) => {
            for rendition in &normalized.renditions {
                assert!(!contains(&rendition.bytes, b"Exif"), "{}: metadata survived", entry.name);
                assert!(!contains(&rendition.bytes, b"<script>"), "{}: payload survived", entry.name);
            }
        }
        (Err(rejection), samples::Expected::Refused(reason)) => {
            assert_eq!(rejection.reason(), reason, "{}: {rejection}", entry.name);
        }
        (outcome, expected) => panic!("{}: expected {expected:?}, got {outcome:?}", entry.name),
    };
    // Its 40-megapixel images take seconds each in unoptimized builds: use every core.
    let corpus = samples::hostile_corpus();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    std::thread::scope(|scope| {
        for share in 0..threads {
            let corpus = &corpus;
            scope.spawn(move || corpus.iter().skip(share).step_by(threads).for_each(check));
        }
    });
}

#[test]
fn sample_photos_differ_by_seed() {
    let files: std::collections::HashSet<Vec<u8>> =
        (0..64).map(|seed| samples::jpeg(&samples::photo(64, 48, seed), JpegOptions::default())).collect();
    assert_eq!(files.len(), 64, "64 seeds give 64 different files");
}

/// CI replays the fuzz seed corpus (and anything a fuzz run found and was
/// saved there): no input may panic the pipeline.
#[test]
fn the_fuzz_corpus_replays_without_panics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut replayed = 0;
    for folder in std::fs::read_dir(&root).expect("media-svc/fuzz/corpus exists") {
        for file in std::fs::read_dir(folder.unwrap().path()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            let _ = pipeline().validate(&bytes);
            let _ = pipeline().normalize(&bytes);
            replayed += 1;
        }
    }
    assert!(replayed >= 14, "the seed corpus is there: {replayed} files");
}
