//! Pictures for the tests, made by code (`media_svc::samples`).

use media_svc::samples::{self, JpegOptions};

/// A photo-like JPEG of `width` x `height`; `seed` makes it unique.
pub fn jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    samples::jpeg(&samples::photo(width, height, seed), JpegOptions::default())
}

/// A small photo (300 x 300), unique by `seed`.
pub fn photo(seed: u32) -> Vec<u8> {
    jpeg(300, 300, seed)
}

/// A camera's JPEG: rotated by its EXIF orientation (6: turn 90 degrees
/// clockwise) and carrying a GPS position, both of which must not survive.
pub fn camera_photo(width: u32, height: u32, seed: u32) -> Vec<u8> {
    samples::jpeg(
        &samples::photo(width, height, seed),
        JpegOptions { exif_orientation: Some(6), gps: true, ..Default::default() },
    )
}
