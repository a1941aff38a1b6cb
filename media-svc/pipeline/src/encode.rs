//! Fresh encodes into memory: nothing of the upload's metadata survives.

use super::{Format, JPEG_QUALITY, Rendition, transform::Square};

pub fn encode(square: &Square) -> Rendition {
    let (format, bytes) =
        if square.has_alpha { (Format::Png, png_rgba(square)) } else { (Format::Jpeg, jpeg_rgb(square)) };
    Rendition { size: square.size, width: square.side, height: square.side, format, bytes }
}

fn jpeg_rgb(square: &Square) -> Vec<u8> {
    let side = u16::try_from(square.side).expect("rendition sides fit JPEG's 16-bit dimensions");
    let mut bytes = Vec::with_capacity(square.pixels.len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, JPEG_QUALITY);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(&square.pixels, side, side, jpeg_encoder::ColorType::Rgb)
        .expect("encoding into memory cannot fail for a well-formed buffer");
    bytes
}

fn png_rgba(square: &Square) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(square.pixels.len() / 2);
    let mut encoder = png::Encoder::new(&mut bytes, square.side, square.side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().expect("writing into memory cannot fail");
    writer.write_image_data(&square.pixels).expect("buffer matches the header");
    writer.finish().expect("writing into memory cannot fail");
    bytes
}
