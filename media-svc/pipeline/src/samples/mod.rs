//! Synthetic images made by code, for tests, the hostile-image corpus and
//! benchmarks: nothing is downloaded and every property (size, orientation,
//! metadata, colour model) is chosen on purpose.

mod block_jpeg;
mod row_png;
mod worst;
mod zlib;

use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage, metadata::Orientation};

pub use block_jpeg::{BlockColour, BlockJpeg, BlockScans};
pub use row_png::{RowPng, with_chunks_before_data};
pub use worst::{flat_png, largest_progressive_square};

/// Colours of the four quadrants of [`quadrants`] as a person sees them:
/// top-left, top-right, bottom-left, bottom-right.
pub const QUADRANT_COLOURS: [[u8; 3]; 4] = [[0, 200, 0], [220, 0, 0], [0, 0, 220], [250, 250, 250]];

/// An image whose four quadrants have distinct colours, so that any wrong
/// rotation or flip shows.
pub fn quadrants(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let index = usize::from(x >= width / 2) + 2 * usize::from(y >= height / 2);
        Rgb(QUADRANT_COLOURS[index])
    })
}

/// A photo-like image: smooth gradients plus fine detail, so encoders and
/// resizers do realistic work (flat colours compress unrealistically well).
/// Different seeds give different pixels (and so different files).
pub fn photo(width: u32, height: u32, seed: u32) -> RgbImage {
    // The seed shifts the gradients, so even tiny images differ by seed.
    let offset = seed.wrapping_mul(37);
    RgbImage::from_fn(width, height, |x, y| {
        let noise = (x.wrapping_mul(1_103_515_245) ^ y.wrapping_mul(12_345) ^ seed.wrapping_mul(2_654_435_761)) >> 27;
        let channel = |base: u32, scale: u32| ((base % scale.max(1)) * 255 / scale.max(1)) as u8;
        let shifted = |base: u32, scale: u32| channel(base.wrapping_add(offset), scale).wrapping_add(noise as u8);
        Rgb([shifted(x, width), shifted(y, height), shifted((x + y) / 2, (width + height) / 2)])
    })
}

/// A logo-like image: an opaque disc on a fully transparent background.
pub fn logo(width: u32, height: u32) -> RgbaImage {
    let (cx, cy, radius) = (width as f32 / 2.0, height as f32 / 2.0, width.min(height) as f32 / 3.0);
    RgbaImage::from_fn(width, height, |x, y| {
        let inside = (x as f32 - cx).hypot(y as f32 - cy) <= radius;
        if inside { Rgba([200, 30, 30, 255]) } else { Rgba([0, 0, 0, 0]) }
    })
}

/// Pixels stored so that applying `orientation` shows `upright`: what a
/// camera writes when it was held sideways.
pub fn stored_for(upright: &RgbImage, orientation: Orientation) -> RgbImage {
    let inverse = match orientation {
        Orientation::Rotate90 => Orientation::Rotate270,
        Orientation::Rotate270 => Orientation::Rotate90,
        other => other,
    };
    let mut image = DynamicImage::ImageRgb8(upright.clone());
    image.apply_orientation(inverse);
    image.into_rgb8()
}

/// How [`jpeg`] encodes.
#[derive(Debug, Clone, Copy)]
pub struct JpegOptions {
    pub quality: u8,
    pub progressive: bool,
    /// EXIF orientation to record (1 to 8); `None` writes no EXIF at all.
    pub exif_orientation: Option<u8>,
    /// Whether the EXIF carries a GPS position, as phone photos do.
    pub gps: bool,
}

impl Default for JpegOptions {
    fn default() -> Self {
        Self { quality: 90, progressive: false, exif_orientation: None, gps: false }
    }
}

pub fn jpeg(image: &RgbImage, options: JpegOptions) -> Vec<u8> {
    encode_jpeg(image.as_raw(), image.width(), image.height(), jpeg_encoder::ColorType::Rgb, options)
}

/// A grayscale JPEG of the image's luma.
pub fn jpeg_gray(image: &RgbImage) -> Vec<u8> {
    let luma: Vec<u8> =
        image.pixels().map(|p| ((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3) as u8).collect();
    encode_jpeg(&luma, image.width(), image.height(), jpeg_encoder::ColorType::Luma, JpegOptions::default())
}

/// A CMYK JPEG (as print workflows produce), with the Adobe marker.
pub fn jpeg_cmyk(image: &RgbImage) -> Vec<u8> {
    let cmyk: Vec<u8> = image
        .pixels()
        .flat_map(|p| {
            let key = 255 - p[0].max(p[1]).max(p[2]);
            let ink = |channel: u8| {
                if key == 255 { 0 } else { ((255 - channel - key) as u32 * 255 / (255 - key as u32)) as u8 }
            };
            [ink(p[0]), ink(p[1]), ink(p[2]), key]
        })
        .collect();
    encode_jpeg(&cmyk, image.width(), image.height(), jpeg_encoder::ColorType::Cmyk, JpegOptions::default())
}

fn encode_jpeg(
    pixels: &[u8],
    width: u32,
    height: u32,
    color: jpeg_encoder::ColorType,
    options: JpegOptions,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, options.quality);
    encoder.set_progressive(options.progressive);
    if options.exif_orientation.is_some() || options.gps {
        encoder.add_app_segment(1, exif(options.exif_orientation.unwrap_or(1), options.gps)).expect("small EXIF");
    }
    let (width, height) = (u16::try_from(width).expect("JPEG width"), u16::try_from(height).expect("JPEG height"));
    encoder.encode(pixels, width, height, color).expect("encode sample JPEG");
    bytes
}

/// Marker text planted in EXIF by [`exif`], to prove it does not survive.
pub const EXIF_MARKER: &[u8] = b"AccommadorTestCamera";

/// An APP1 EXIF payload: orientation, a camera make, and optionally a GPS IFD.
pub fn exif(orientation: u8, gps: bool) -> Vec<u8> {
    // Little-endian TIFF: header, IFD0 at offset 8.
    let entries: u16 = if gps { 3 } else { 2 };
    let ifd0_size = 2 + 12 * u32::from(entries) + 4;
    let make_offset = 8 + ifd0_size;
    let gps_offset = make_offset + EXIF_MARKER.len() as u32 + 1;
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend(entries.to_le_bytes());
    let mut entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        tiff.extend(tag.to_le_bytes());
        tiff.extend(kind.to_le_bytes());
        tiff.extend(count.to_le_bytes());
        tiff.extend(value);
    };
    entry(0x010F, 2, EXIF_MARKER.len() as u32 + 1, make_offset.to_le_bytes()); // Make (ASCII)
    entry(0x0112, 3, 1, [orientation, 0, 0, 0]); // Orientation (SHORT)
    if gps {
        entry(0x8825, 4, 1, gps_offset.to_le_bytes()); // GPS IFD pointer
    }
    tiff.extend(0u32.to_le_bytes()); // no next IFD
    tiff.extend(EXIF_MARKER);
    tiff.push(0);
    if gps {
        // GPS IFD: GPSLatitudeRef = "N".
        tiff.extend(1u16.to_le_bytes());
        tiff.extend(0x0001u16.to_le_bytes());
        tiff.extend(2u16.to_le_bytes());
        tiff.extend(2u32.to_le_bytes());
        tiff.extend(*b"N\0\0\0");
        tiff.extend(0u32.to_le_bytes());
    }
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    app1
}

/// How [`png`] encodes.
#[derive(Debug, Clone, Default)]
pub struct PngOptions {
    /// Write 16 bits per channel instead of 8.
    pub sixteen_bit: bool,
    /// Write the image as two APNG frames; the second differs.
    pub animated: bool,
    /// A zTXt chunk with this many bytes of text (highly compressible): a
    /// "text bomb" that a careless decoder inflates.
    pub ztxt_bytes: usize,
}

/// A PNG of an RGBA image (colour type RGBA).
pub fn png_rgba(image: &RgbaImage, options: &PngOptions) -> Vec<u8> {
    encode_png(image.as_raw(), image.width(), image.height(), png::ColorType::Rgba, options, None)
}

/// A PNG of an RGB image (colour type RGB).
pub fn png_rgb(image: &RgbImage, options: &PngOptions) -> Vec<u8> {
    encode_png(image.as_raw(), image.width(), image.height(), png::ColorType::Rgb, options, None)
}

/// A grayscale PNG.
pub fn png_gray(image: &RgbImage) -> Vec<u8> {
    let luma: Vec<u8> = image.pixels().map(|p| p[1]).collect();
    encode_png(&luma, image.width(), image.height(), png::ColorType::Grayscale, &PngOptions::default(), None)
}

/// A palette PNG with the four quadrant colours.
pub fn png_palette(image: &RgbImage) -> Vec<u8> {
    let palette: Vec<u8> = QUADRANT_COLOURS.iter().flatten().copied().collect();
    let indices: Vec<u8> =
        image.pixels().map(|p| QUADRANT_COLOURS.iter().position(|c| c == &p.0).unwrap_or(0) as u8).collect();
    encode_png(&indices, image.width(), image.height(), png::ColorType::Indexed, &PngOptions::default(), Some(palette))
}

fn encode_png(
    pixels: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
    options: &PngOptions,
    palette: Option<Vec<u8>>,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(color);
    let widened: Vec<u8>;
    let data = if options.sixteen_bit {
        encoder.set_depth(png::BitDepth::Sixteen);
        widened = pixels.iter().flat_map(|&v| [v, v]).collect();
        &widened
    } else {
        encoder.set_depth(png::BitDepth::Eight);
        pixels
    };
    if let Some(palette) = palette {
        encoder.set_palette(palette);
    }
    if options.ztxt_bytes > 0 {
        encoder.add_ztxt_chunk("Comment".into(), "a".repeat(options.ztxt_bytes)).expect("zTXt");
    }
    if options.animated {
        encoder.set_animated(2, 0).expect("APNG");
    }
    let mut writer = encoder.write_header().expect("PNG header");
    writer.write_image_data(data).expect("first frame");
    if options.animated {
        let inverted: Vec<u8> = data.iter().map(|v| 255 - v).collect();
        writer.write_image_data(&inverted).expect("second frame");
    }
    writer.finish().expect("finish PNG");
    bytes
}

/// A PNG whose header declares `width` x `height` but whose data is a few
/// bytes: a decompression bomb that must be refused before allocation.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png_rgb(&quadrants(32, 32), &PngOptions::default());
    // IHDR data starts after the 8-byte signature, 4-byte length and 4-byte type.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32fast::hash(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A small JPEG whose frame header declares `width` x `height`.
pub fn jpeg_bomb(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(&quadrants(64, 64), JpegOptions::default());
    let sof = bytes.windows(2).position(|pair| pair == [0xFF, 0xC0]).expect("baseline SOF0");
    // SOF0: marker, length (2), precision (1), height (2), width (2).
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

/// What the pipeline must do with a corpus entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Valid: normalized into metadata-free renditions.
    Accepted,
    /// Refused with this `ErrorInfo.reason`.
    Refused(&'static str),
}

/// One file of the hostile-image corpus.
#[derive(Debug, Clone)]
pub struct CorpusEntry {
    pub name: String,
    pub bytes: Vec<u8>,
    pub expected: Expected,
}

/// The hostile-image corpus, made by code: decompression and text bombs,
/// truncations at many offsets, bad checksums, foreign formats with image
/// names, an oversized file, polyglots, EXIF with GPS in every orientation,
/// and the most expensive files the limits accept next to the cheapest
/// ones the memory and CPU budgets refuse (see `worst.rs`). (An empty file
/// is not here: to CreateContact, no bytes means no picture; media-svc's
/// own tests refuse it.)
pub fn hostile_corpus() -> Vec<CorpusEntry> {
    let mut corpus = Vec::new();
    let mut add = |name: String, bytes: Vec<u8>, expected: Expected| corpus.push(CorpusEntry { name, bytes, expected });
    const FORMAT: &str = "IMAGE_FORMAT_UNSUPPORTED";
    const CORRUPT: &str = "IMAGE_CORRUPT";

    add(
        "png-bomb-65535x65535.png".into(),
        png_bomb(65_535, 65_535),
        Expected::Refused("IMAGE_DIMENSIONS_OUT_OF_RANGE"),
    );
    add("jpeg-bomb-100mp.jpg".into(), jpeg_bomb(10_000, 10_000), Expected::Refused("IMAGE_DIMENSIONS_OUT_OF_RANGE"));
    let text_bomb = PngOptions { ztxt_bytes: 32 << 20, ..PngOptions::default() };
    add("ztxt-bomb.png".into(), png_rgb(&photo(200, 200, 1), &text_bomb), Expected::Accepted);
    add("itxt-bomb.png".into(), png_with_itxt_bomb(), Expected::Accepted);

    let jpeg_source = jpeg(&photo(320, 240, 2), JpegOptions::default());
    let png_source = png_rgb(&photo(320, 240, 3), &PngOptions::default());
    for (label, source) in [("jpeg", &jpeg_source), ("png", &png_source)] {
        for step in 1..=12 {
            let cut = 100 + (source.len() - 101) * step / 12;
            if cut < source.len() {
                add(format!("truncated-{label}-at-{cut}.{label}"), source[..cut].to_vec(), Expected::Refused(CORRUPT));
            }
        }
    }
    let mut bad_crc = png_source.clone();
    let idat = bad_crc.windows(4).position(|w| w == b"IDAT").expect("IDAT");
    bad_crc[idat + 10] ^= 0xA5;
    add("bad-crc.png".into(), bad_crc, Expected::Refused(CORRUPT));

    let foreign: [(&str, &[u8]); 8] = [
        ("gif-named.jpg", b"GIF89a\x20\x00\x20\x00\x80\x00\x00"),
        ("webp-named.png", b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"),
        ("tiff-named.jpg", b"II*\x00\x08\x00\x00\x00"),
        ("bmp-named.png", b"BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00"),
        ("svg-named.png", b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"),
        ("html-named.jpg", b"<!doctype html><html><script>alert(1)</script></html>"),
        ("pdf-named.jpg", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
        ("heic-named.jpg", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
    ];
    for (name, bytes) in foreign {
        add(name.into(), bytes.to_vec(), Expected::Refused(FORMAT));
    }
    let mut oversized = jpeg_source.clone();
    oversized.resize(2_621_441, 0);
    add("oversized-by-one-byte.jpg".into(), oversized, Expected::Refused("IMAGE_TOO_LARGE"));

    let mut jpeg_zip = jpeg(&photo(300, 300, 4), JpegOptions::default());
    jpeg_zip.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x08\x00payload.html<script>alert(1)</script>");
    add("polyglot-jpeg-zip.jpg".into(), jpeg_zip, Expected::Accepted);
    let mut png_html = png_rgb(&photo(300, 300, 5), &PngOptions::default());
    png_html.extend_from_slice(b"<html><script>alert(1)</script></html>");
    add("polyglot-png-html.png".into(), png_html, Expected::Accepted);

    for orientation in 1..=8u8 {
        let options = JpegOptions { exif_orientation: Some(orientation), gps: true, ..JpegOptions::default() };
        add(
            format!("exif-gps-orientation-{orientation}.jpg"),
            jpeg(&photo(400, 300, 10 + u32::from(orientation)), options),
            Expected::Accepted,
        );
    }
    corpus.extend(worst::entries());
    corpus
}

/// A PNG whose iTXt chunk inflates to 32 MiB (compression flag set).
fn png_with_itxt_bomb() -> Vec<u8> {
    use png::text_metadata::{EncodableTextChunk, ITXtChunk};
    let mut chunk = ITXtChunk::new("Comment", "a".repeat(32 << 20));
    chunk.compressed = true;
    let mut encoded = Vec::new();
    chunk.encode(&mut encoded).expect("iTXt chunk");
    let mut bytes = png_rgb(&photo(64, 64, 6), &PngOptions::default());
    // Right after the signature (8 bytes) and the IHDR chunk (25 bytes).
    bytes.splice(33..33, encoded);
    bytes
}
