//! The row-by-row PNG path against a full decode: every colour type,
//! bit depth and interlacing gives the renditions the whole frame gives.

use image::RgbaImage;

use super::super::{
    decode::{self, Decoded},
    downscale,
    header::Orientation,
    png_rows,
    transform::{self, Square},
};
use crate::samples::{self, RowPng};

/// The rendition sizes of these tests: small, so that images of about a
/// megapixel already go through the box reduction (which keeps twice the
/// largest size), and the tests stay quick in debug builds.
const SIZES: [u32; 2] = [64, 128];

/// What the pipeline made before it decoded PNGs row by row: the whole
/// frame (decoded by the `image` crate), its centre square resized with
/// Lanczos3.
fn full_frame_squares(bytes: &[u8]) -> Vec<Square> {
    let frame =
        image::load_from_memory_with_format(bytes, image::ImageFormat::Png).expect("reference decode").to_rgba8();
    let decoded = Decoded {
        width: frame.width(),
        height: frame.height(),
        pixels: frame.into_raw(),
        has_transparency: true,
        premultiplied: false,
    };
    transform::renditions(&decoded, Orientation::NoTransforms, &SIZES)
}

/// The same through the row-by-row decoder and the box reduction.
fn row_by_row_squares(bytes: &[u8]) -> Vec<Square> {
    let decoded = png_rows::decode(bytes, decode::Target::ShortSide(SIZES[1])).expect("row-by-row decode");
    transform::renditions(&decoded, Orientation::NoTransforms, &SIZES)
}

/// Premultiplied RGBA, so transparent pixels compare equal whatever colour
/// they hide.
fn premultiplied(square: &Square) -> Vec<[u32; 4]> {
    let channels = if square.has_alpha { 4 } else { 3 };
    square
        .pixels
        .chunks_exact(channels)
        .map(|p| {
            let a = if square.has_alpha { u32::from(p[3]) } else { 255 };
            [u32::from(p[0]) * a / 255, u32::from(p[1]) * a / 255, u32::from(p[2]) * a / 255, a]
        })
        .collect()
}

/// Mean and largest difference per channel.
fn difference(new: &Square, reference: &Square) -> (f64, u32) {
    let (new, reference) = (premultiplied(new), premultiplied(reference));
    assert_eq!(new.len(), reference.len(), "same size");
    let mut total = 0u64;
    let mut largest = 0;
    for (a, b) in new.iter().zip(&reference) {
        for channel in 0..4 {
            let d = a[channel].abs_diff(b[channel]);
            total += u64::from(d);
            largest = largest.max(d);
        }
    }
    (total as f64 / (new.len() * 4) as f64, largest)
}

/// `image` in the PNG colour type, bit depth and interlacing given.
fn encode(image: &RgbaImage, colour: png::ColorType, depth: u8, interlaced: bool) -> Vec<u8> {
    let (width, height) = image.dimensions();
    let mut palette: Vec<[u8; 4]> = Vec::new();
    if colour == png::ColorType::Indexed {
        palette = image.pixels().map(|p| p.0).collect();
        palette.sort_unstable();
        palette.dedup();
        assert!(palette.len() <= 256, "palette images use at most 256 colours");
    }
    let layout = RowPng {
        width,
        height,
        colour,
        depth,
        interlaced,
        palette: (!palette.is_empty()).then(|| palette.iter().flat_map(|c| [c[0], c[1], c[2]]).collect()),
        transparency: (!palette.is_empty()).then(|| palette.iter().map(|c| c[3]).collect()),
    };
    let rows: Vec<Vec<u8>> = image
        .rows()
        .map(|row| {
            let mut bytes = Vec::with_capacity(width as usize * 8);
            for pixel in row {
                let [r, g, b, a] = pixel.0;
                let samples: &[u8] = match colour {
                    png::ColorType::Rgba => &[r, g, b, a],
                    png::ColorType::Rgb => &[r, g, b],
                    png::ColorType::GrayscaleAlpha => &[g, a],
                    png::ColorType::Grayscale => &[g],
                    png::ColorType::Indexed => {
                        bytes.push(palette.binary_search(&pixel.0).expect("in the palette") as u8);
                        continue;
                    }
                };
                for &sample in samples {
                    bytes.push(sample);
                    if depth == 16 {
                        bytes.push(sample.wrapping_mul(7));
                    }
                }
            }
            bytes
        })
        .collect();
    layout.encode(|y| std::borrow::Cow::Borrowed(&rows[y as usize][..]))
}

/// A photo-like image with a transparent band and a soft-edged hole, so
/// both colour and alpha averaging show; hard-quantized for palettes.
fn test_image(width: u32, height: u32, palette: bool) -> RgbaImage {
    let photo = samples::photo(width, height, 9);
    RgbaImage::from_fn(width, height, |x, y| {
        let [r, g, b] = photo.get_pixel(x, y).0;
        let (dx, dy) = (x as f32 - width as f32 / 2.0, y as f32 - height as f32 / 2.0);
        let distance = dx.hypot(dy) / (height as f32 / 6.0);
        let alpha = if x < width / 4 { 0 } else { (distance.clamp(0.0, 1.0) * 255.0) as u8 };
        if palette {
            let q = |v: u8| (v / 64) * 85;
            image::Rgba([q(r), q(g), q(b), if alpha > 127 { 255 } else { 0 }])
        } else {
            image::Rgba([r, g, b, alpha])
        }
    })
}

#[test]
fn row_by_row_decoding_matches_a_full_frame_decode_for_every_png_variant() {
    // 1000 px: cells of 3 x 3 for a 128 px rendition, cut by every Adam7 pass.
    let (width, height) = (1100, 1000);
    let image = test_image(width, height, false);
    let palette_image = test_image(width, height, true);
    let cases = [
        ("RGBA", png::ColorType::Rgba, 8),
        ("RGBA 16-bit", png::ColorType::Rgba, 16),
        ("RGB 16-bit", png::ColorType::Rgb, 16),
        ("grey+alpha", png::ColorType::GrayscaleAlpha, 8),
        ("grey 16-bit", png::ColorType::Grayscale, 16),
        ("palette+tRNS", png::ColorType::Indexed, 8),
    ];
    for (name, colour, depth) in cases {
        let source = if colour == png::ColorType::Indexed { &palette_image } else { &image };
        let sequential = encode(source, colour, depth, false);
        let squares = row_by_row_squares(&sequential);
        for (new, reference) in squares.iter().zip(full_frame_squares(&sequential)) {
            let (mean, largest) = difference(new, &reference);
            // A box then Lanczos against Lanczos alone, on fine noise: about
            // one level on average; single pixels differ more.
            assert!(mean < 1.5 && largest < 48, "{name}, {}px: mean difference {mean:.2}, largest {largest}", new.size);
        }
        // Adam7 passes fill the same cells: the same result, up to the
        // rounding of premultiplied colour to 8 bits.
        let interlaced = row_by_row_squares(&encode(source, colour, depth, true));
        for (interlaced, sequential) in interlaced.iter().zip(&squares) {
            let (mean, largest) = difference(interlaced, sequential);
            assert!(
                mean < 0.05 && largest <= 2,
                "{name} interlaced, {}px: mean {mean:.3}, largest {largest}",
                interlaced.size
            );
        }
    }
}

#[test]
fn pngs_reduce_their_centre_square_without_a_full_frame() {
    // 40 MP RGBA: a full frame would be 160 MB; the reduction keeps cells
    // of 6 x 6 pixels, 1054 per side, 4.4 MB as RGBA.
    let bytes = samples::flat_png(6_324, 6_324, png::ColorType::Rgba, 8, false);
    let decoded = png_rows::decode(&bytes, decode::Target::ShortSide(512)).expect("decodes");
    assert_eq!((decoded.width, decoded.height), (1054, 1054));
    assert!(decoded.has_transparency && decoded.premultiplied, "the flat colour is partly transparent");
    // (40, 90, 160) at alpha 200, premultiplied.
    assert_eq!(&decoded.pixels[..4], &[31, 71, 125, 200], "averages keep the colour");
}

#[test]
fn any_png_decodes_in_under_32_mib() {
    // The largest result is just under 2 x 1024 per side (cells of one
    // pixel), RGBA; interlaced files with cells of 2 x 2 add 16-bit sums
    // for the 1535 x 1535 cells of a 3070-pixel square.
    for interlaced in [false, true] {
        let worst = (32..=10_000)
            .map(|side| downscale::BoxReducer::memory_bytes(side, 10_000, 512, 4, interlaced))
            .max()
            .expect("sizes");
        let total = worst + png_rows::PNG_DECODER_BYTES as u64;
        assert!(total < 32 << 20, "interlaced {interlaced}: {:.1} MiB", total as f64 / f64::from(1 << 20));
    }
}
