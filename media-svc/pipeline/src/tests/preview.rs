//! The placeholders: dominant colour and ThumbHash, alone and through the pipeline.

use image::{Rgb as Pixel, RgbImage, Rgba, RgbaImage};

use crate::{
    Pipeline, Preview, Rgb,
    samples::{self, PngOptions},
};

const SIDE: u32 = 128;

fn rgb_preview(image: &RgbImage) -> Preview {
    Preview::of(image.width(), image.as_raw(), false)
}

fn rgba_preview(image: &RgbaImage) -> Preview {
    Preview::of(image.width(), image.as_raw(), true)
}

/// The average colour and alpha a ThumbHash decodes to, 0 to 255.
fn decoded_average(hash: &[u8]) -> [f32; 4] {
    let (width, height, rgba) = thumbhash::thumb_hash_to_rgba(hash).expect("the hash decodes");
    assert_eq!(rgba.len(), width * height * 4);
    let mut sums = [0.0f32; 4];
    let mut alpha_sum = 0.0f32;
    for pixel in rgba.chunks_exact(4) {
        let alpha = f32::from(pixel[3]);
        for channel in 0..3 {
            sums[channel] += f32::from(pixel[channel]) * alpha;
        }
        alpha_sum += alpha;
    }
    let count = (width * height) as f32;
    let colour = |channel: usize| if alpha_sum > 0.0 { sums[channel] / alpha_sum } else { 0.0 };
    [colour(0), colour(1), colour(2), alpha_sum / count]
}

fn assert_close(actual: [f32; 3], expected: [f32; 3], tolerance: f32, what: &str) {
    let off = actual.iter().zip(expected).any(|(a, e)| (a - e).abs() > tolerance);
    assert!(!off, "{what}: {actual:?} is not within {tolerance} of {expected:?}");
}

#[test]
fn a_solid_colour_is_its_own_dominant_colour_and_thumbhash_average() {
    for colour in [[0, 0, 0], [255, 255, 255], [13, 200, 77], [128, 127, 129], [250, 5, 130]] {
        let preview = rgb_preview(&RgbImage::from_pixel(SIDE, SIDE, Pixel(colour)));
        assert_eq!(preview.dominant_color, Rgb(colour));
        let [r, g, b, alpha] = decoded_average(&preview.thumbhash);
        // ThumbHash quantizes its average colour to 6 bits of luminance and 6 of each chroma.
        assert_close([r, g, b], colour.map(f32::from), 6.0, &format!("the ThumbHash of {colour:?}"));
        assert_eq!(alpha, 255.0, "an opaque image's ThumbHash is opaque");
    }
}

#[test]
fn of_two_colours_the_larger_area_is_dominant_whichever_comes_first() {
    let (teal, orange) = ([0, 128, 128], [255, 140, 0]);
    for (major, minor) in [(teal, orange), (orange, teal)] {
        // 60% to 40%: columns left of the split are `major`; the split crosses rows, not buckets.
        let split = SIDE * 6 / 10;
        let image = RgbImage::from_fn(SIDE, SIDE, |x, _| Pixel(if x < split { major } else { minor }));
        assert_eq!(rgb_preview(&image).dominant_color, Rgb(major), "{major:?} covers 60%");
        let flipped = RgbImage::from_fn(SIDE, SIDE, |x, _| Pixel(if x >= SIDE - split { major } else { minor }));
        assert_eq!(rgb_preview(&flipped).dominant_color, Rgb(major), "{major:?} covers 60%, on the right");
    }
}

#[test]
fn a_photo_gives_a_colour_of_its_own_and_a_thumbhash_of_its_average_in_at_most_30_bytes() {
    let image = samples::photo(SIDE, SIDE, 3);
    let preview = rgb_preview(&image);
    assert!(preview.thumbhash.len() <= 30, "{} bytes", preview.thumbhash.len());
    let count = (SIDE * SIDE) as f32;
    let mut average = [0.0f32; 3];
    for pixel in image.pixels() {
        for channel in 0..3 {
            average[channel] += f32::from(pixel[channel]) / count;
        }
    }
    let [r, g, b, _] = decoded_average(&preview.thumbhash);
    assert_close([r, g, b], average, 12.0, "the photo's ThumbHash");
    // The dominant colour is a colour the photo has: its bucket holds pixels.
    let Rgb(dominant) = preview.dominant_color;
    let near = image.pixels().filter(|p| p.0.iter().zip(dominant).all(|(&a, b)| a.abs_diff(b) < 32)).count();
    assert!(near > 0, "no pixel of the photo is near {}", preview.dominant_color);
}

#[test]
fn transparent_pixels_do_not_count_whatever_colour_they_hold() {
    // A small red disc on a larger background, transparent but blue underneath.
    let red = [200, 30, 30];
    let image = RgbaImage::from_fn(SIDE, SIDE, |x, y| {
        let inside = (x as f32 - 64.0).hypot(y as f32 - 64.0) <= 30.0;
        if inside { Rgba([red[0], red[1], red[2], 255]) } else { Rgba([0, 0, 255, 0]) }
    });
    let preview = rgba_preview(&image);
    assert_eq!(preview.dominant_color, Rgb(red), "the blue under alpha 0 covers 83% and must not count");
    let [r, g, b, alpha] = decoded_average(&preview.thumbhash);
    assert_close([r, g, b], red.map(f32::from), 12.0, "the visible colour of the ThumbHash");
    assert!(alpha < 200.0, "the ThumbHash keeps the transparency: mean alpha {alpha}");

    // Half-transparent pixels count half: 40% opaque green beats 60% green-blue at alpha 100.
    let (green, cyan) = ([0, 200, 0], [0, 200, 200]);
    let image = RgbaImage::from_fn(SIDE, SIDE, |x, _| {
        if x < SIDE * 4 / 10 {
            Rgba([green[0], green[1], green[2], 255])
        } else {
            Rgba([cyan[0], cyan[1], cyan[2], 100])
        }
    });
    assert_eq!(rgba_preview(&image).dominant_color, Rgb(green));
}

#[test]
fn a_fully_transparent_image_is_black_and_its_thumbhash_transparent() {
    let preview = rgba_preview(&RgbaImage::from_pixel(SIDE, SIDE, Rgba([90, 180, 250, 0])));
    assert_eq!(preview.dominant_color, Rgb::BLACK);
    assert_eq!(decoded_average(&preview.thumbhash)[3], 0.0);
}

#[test]
fn the_pipeline_previews_the_upright_smallest_rendition_with_its_transparency() {
    let logo =
        Pipeline::default().normalize(&samples::png_rgba(&samples::logo(600, 600), &PngOptions::default())).unwrap();
    let Rgb(colour) = logo.preview.dominant_color;
    // The disc's colour (resizing may leave its edge pixels a unit off).
    assert!(colour.iter().zip([200u8, 30, 30]).all(|(&a, b)| a.abs_diff(b) <= 1), "{colour:?}");
    assert!(decoded_average(&logo.preview.thumbhash)[3] < 200.0, "the logo's ThumbHash is partly transparent");

    // Quadrants stored sideways (EXIF 6): the ThumbHash shows them upright.
    let upright = samples::quadrants(400, 400);
    let stored = samples::stored_for(&upright, image::metadata::Orientation::from_exif(6).unwrap());
    let options = samples::JpegOptions { exif_orientation: Some(6), ..samples::JpegOptions::default() };
    let photo = Pipeline::default().normalize(&samples::jpeg(&stored, options)).unwrap();
    let (width, height, rgba) = thumbhash::thumb_hash_to_rgba(&photo.preview.thumbhash).unwrap();
    let top_left = &rgba[(height / 8 * width + width / 8) * 4..][..3];
    let [green, red, blue] = [top_left[1], top_left[0], top_left[2]];
    assert!(green > red && green > blue, "the top-left quadrant is green upright, not {top_left:?}");
}

#[test]
fn colours_read_back_only_as_lowercase_hash_rrggbb() {
    assert_eq!(Rgb([13, 200, 77]).to_string(), "#0dc84d");
    assert_eq!("#0dc84d".parse::<Rgb>(), Ok(Rgb([13, 200, 77])));
    for bad in ["0dc84d", "#0DC84D", "#0dc84", "#0dc84d0", "#0dc8+d", "", "#ğğğ"] {
        assert!(bad.parse::<Rgb>().is_err(), "{bad:?} was accepted");
    }
}
