//! Center crop, resize and orientation, in the order that does the least work.
//!
//! The center square of an image maps to the center square of any of its
//! eight EXIF orientations, and Lanczos resizing is symmetric, so we crop
//! and resize in stored orientation and rotate only the small result.

use fast_image_resize::{
    FilterType, MulDiv, PixelType, ResizeAlg, ResizeOptions, Resizer,
    images::{Image, ImageRef},
};
use image::{DynamicImage, RgbImage, RgbaImage};

use super::{decoded::Decoded, header::Orientation};

/// A square of 8-bit pixels, RGB or RGBA.
#[derive(Debug, Clone)]
pub struct Square {
    /// The nominal rendition size it was made for.
    pub size: u32,
    /// Its actual edge length: `size`, or less when the source was smaller.
    pub side: u32,
    pub pixels: Vec<u8>,
    pub has_alpha: bool,
}

/// The squares for every size in `sizes` (ascending): the largest from the
/// decoded image, the smaller ones from the largest. Never upscales.
pub fn renditions(decoded: &Decoded, orientation: Orientation, sizes: &[u32]) -> Vec<Square> {
    let largest_size = *sizes.last().expect("at least one rendition size");
    let pixel_type = if decoded.has_transparency { PixelType::U8x4 } else { PixelType::U8x3 };
    let crop_side = decoded.width.min(decoded.height);
    let source = ImageRef::new(decoded.width, decoded.height, &decoded.pixels, pixel_type)
        .expect("decoder output matches its dimensions");
    let crop = Crop { left: (decoded.width - crop_side) / 2, top: (decoded.height - crop_side) / 2, side: crop_side };
    let largest_side = crop_side.min(largest_size);
    let largest = oriented(
        Square {
            size: largest_size,
            side: largest_side,
            pixels: resize(&source, crop, largest_side, decoded.has_transparency && decoded.premultiplied),
            has_alpha: decoded.has_transparency,
        },
        orientation,
    );

    let mut squares: Vec<Square> = sizes[..sizes.len() - 1]
        .iter()
        .map(|&size| {
            let side = size.min(largest.side);
            Square { size, side, pixels: largest.shrunk(side), has_alpha: largest.has_alpha }
        })
        .collect();
    squares.push(largest);
    squares
}

impl Square {
    /// Its pixels resized to `side` x `side`.
    pub fn shrunk(&self, side: u32) -> Vec<u8> {
        shrink(self.side, &self.pixels, self.has_alpha, side)
    }
}

/// The `side` x `side` square of RGB or RGBA (not premultiplied) `pixels`
/// resized to `to` x `to` (never larger), alpha-aware as every resize here.
pub fn shrink(side: u32, pixels: &[u8], has_alpha: bool, to: u32) -> Vec<u8> {
    let pixel_type = if has_alpha { PixelType::U8x4 } else { PixelType::U8x3 };
    let source = ImageRef::new(side, side, pixels, pixel_type).expect("square matches its dimensions");
    resize(&source, Crop { left: 0, top: 0, side }, to.min(side), false)
}

#[derive(Debug, Clone, Copy)]
struct Crop {
    left: u32,
    top: u32,
    side: u32,
}

/// Lanczos3 resize of the `crop` square of `source` to `side` x `side`.
/// Colour is resized multiplied by alpha, so transparent edges do not
/// darken: the resizer premultiplies a copy of the source itself, unless
/// the source is `premultiplied` already.
fn resize(source: &ImageRef<'_>, crop: Crop, side: u32, premultiplied: bool) -> Vec<u8> {
    let mut destination = Image::new(side, side, source.pixel_type());
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(f64::from(crop.left), f64::from(crop.top), f64::from(crop.side), f64::from(crop.side))
        .use_alpha(!premultiplied);
    Resizer::new().resize(source, &mut destination, &options).expect("crop lies inside the source and types match");
    if premultiplied {
        MulDiv::default().divide_alpha_inplace(&mut destination).expect("premultiplied sources are RGBA");
    }
    destination.into_vec()
}

fn oriented(square: Square, orientation: Orientation) -> Square {
    if orientation == Orientation::NoTransforms {
        return square;
    }
    let Square { size, side, pixels, has_alpha } = square;
    let mut image = if has_alpha {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(side, side, pixels).expect("RGBA square"))
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(side, side, pixels).expect("RGB square"))
    };
    image.apply_orientation(orientation);
    Square { size, side, pixels: image.into_bytes(), has_alpha }
}
