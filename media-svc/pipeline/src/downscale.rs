//! Box-filter reduction by a whole factor, fed rows as a PNG decoder gives
//! them: what lets a PNG be decoded row by row (or pass by pass, when
//! interlaced) without a frame of the full image ever existing.
//!
//! It plays the part DCT scaling plays for JPEG: the centre square of the
//! image is averaged in `factor` x `factor` cells, and the Lanczos resize
//! in [`crate::transform`] takes it from there. The cells leave at least
//! twice the pixels of the largest rendition (as libvips' and Pillow's
//! "reducing gap" of 2 does): against a Lanczos resize of the full frame,
//! renditions then differ by under half a level on average, where a box
//! straight down to the rendition size differs by two to three.
//!
//! Colour is averaged premultiplied by alpha, so transparent pixels lend
//! no colour to their neighbours and edges do not darken; the result stays
//! premultiplied, which is what the resize works in anyway.

use fast_image_resize::{MulDiv, PixelType, images::Image};

use super::decoded::Decoded;

/// How many times the largest rendition's side the cells keep, at least.
const GAP: u32 = 2;

/// Accumulates the centre square of a `width` x `height` image of 8-bit
/// samples (`channels` per pixel, the last one alpha when `alpha`) into
/// RGB, or premultiplied RGBA when there is alpha.
#[derive(Debug)]
pub struct BoxReducer {
    /// Source pixels per cell side: at most 10,000 / 1,024, so 9.
    factor: u32,
    /// Cells per side of the result.
    side: u32,
    /// The square's top-left corner in the source.
    left: u32,
    top: u32,
    channels: usize,
    alpha: bool,
    sums: Sums,
    /// The result: 3 or 4 bytes per cell, row-major.
    pixels: Vec<u8>,
    /// Whether some pixel so far was not fully opaque.
    transparent: bool,
}

#[derive(Debug)]
enum Sums {
    /// One source pixel per cell: pixels go straight to the result.
    None,
    /// Rows arrive in order: the sums of the row of cells being filled,
    /// written out when its last source row came. Colour sums are of
    /// colour x alpha, up to 81 x 255 x 255.
    Row(Vec<u32>),
    /// Rows arrive in Adam7 passes, a cell's last pixel in the last pass:
    /// sums for every cell, colour premultiplied to 8 bits first so that
    /// 16 bits hold the 81 pixels of a cell.
    Grid(Vec<u16>),
}

impl BoxReducer {
    /// A reducer for `width` x `height` whose result keeps at least
    /// `GAP x short_side` pixels on a side (or every pixel of the square,
    /// when it is smaller), for rows in order or, when `interlaced`, in
    /// Adam7 passes.
    pub fn new(width: u32, height: u32, short_side: u32, channels: usize, alpha: bool, interlaced: bool) -> Self {
        let (factor, side) = cells(width, height, short_side);
        let used = side * factor;
        let cells = side as usize * side as usize;
        let sums = match (factor, interlaced) {
            (1, _) => Sums::None,
            (_, false) => Sums::Row(vec![0; side as usize * channels]),
            (_, true) => Sums::Grid(vec![0; cells * channels]),
        };
        Self {
            factor,
            side,
            left: (width - used) / 2,
            top: (height - used) / 2,
            channels,
            alpha,
            sums,
            pixels: vec![0; cells * if alpha { 4 } else { 3 }],
            transparent: false,
        }
    }

    /// Bytes it allocates for a `width` x `height` image.
    #[cfg(test)]
    pub fn memory_bytes(width: u32, height: u32, short_side: u32, channels: usize, interlaced: bool) -> u64 {
        let (factor, side) = cells(width, height, short_side);
        let cells = u64::from(side) * u64::from(side);
        let sums = match (factor, interlaced) {
            (1, _) => 0,
            (_, false) => u64::from(side) * channels as u64 * 4,
            (_, true) => cells * channels as u64 * 2,
        };
        sums + cells * 4
    }

    /// Adds the source row `y`: `samples` holds pixels at x = `x0`,
    /// `x0 + step`, `x0 + 2 step`... (every pixel from 0 when the image is
    /// not interlaced; one Adam7 pass's share of the row when it is).
    pub fn add_row(&mut self, y: u32, x0: u32, step: u32, samples: &[u8]) {
        let used = self.side * self.factor;
        if !(self.top..self.top + used).contains(&y) {
            return;
        }
        let cell_row = ((y - self.top) / self.factor) as usize;
        let side = self.side as usize;
        let out_channels = if self.alpha { 4 } else { 3 };
        if (x0, step) == (0, 1) {
            let start = self.left as usize * self.channels;
            let pixels = &samples[start..start + used as usize * self.channels];
            let factor = self.factor as usize;
            match &mut self.sums {
                Sums::None => {
                    let out = &mut self.pixels[cell_row * side * out_channels..(cell_row + 1) * side * out_channels];
                    self.transparent |= match (self.channels, self.alpha) {
                        (1, false) => copy_pixels::<1, 3, false>(out, pixels),
                        (2, true) => copy_pixels::<2, 4, true>(out, pixels),
                        (3, false) => copy_pixels::<3, 3, false>(out, pixels),
                        (4, true) => copy_pixels::<4, 4, true>(out, pixels),
                        (channels, alpha) => unreachable!("{channels} channels, alpha {alpha}"),
                    };
                    return;
                }
                Sums::Row(sums) => {
                    match (self.channels, self.alpha) {
                        (1, false) => add_cells::<1, false>(sums, pixels, factor),
                        (2, true) => add_cells::<2, true>(sums, pixels, factor),
                        (3, false) => add_cells::<3, false>(sums, pixels, factor),
                        (4, true) => add_cells::<4, true>(sums, pixels, factor),
                        (channels, alpha) => unreachable!("{channels} channels, alpha {alpha}"),
                    }
                    if (y - self.top) % self.factor == self.factor - 1 {
                        let mut sums = std::mem::replace(&mut self.sums, Sums::None);
                        if let Sums::Row(row) = &mut sums {
                            // Colour sums carry alpha as a factor of up to 255.
                            self.write_cells(cell_row, row, 255);
                            row.fill(0);
                        }
                        self.sums = sums;
                    }
                    return;
                }
                Sums::Grid(_) => {}
            }
        }
        // Interlaced: pixels one by one, wherever their cell is.
        for (index, pixel) in samples.chunks_exact(self.channels).enumerate() {
            let x = x0 + index as u32 * step;
            if !(self.left..self.left + used).contains(&x) {
                continue;
            }
            let cell = cell_row * side + ((x - self.left) / self.factor) as usize;
            let (colour, a) = if self.alpha {
                let (colour, alpha) = pixel.split_at(self.channels - 1);
                (colour, u32::from(alpha[0]))
            } else {
                (pixel, 255)
            };
            let premultiply = |sample: u8| ((u32::from(sample) * a + 127) / 255) as u16;
            match &mut self.sums {
                Sums::None => {
                    let out = &mut self.pixels[cell * out_channels..(cell + 1) * out_channels];
                    match colour {
                        [gray] => out[..3].fill(*gray),
                        _ => out[..3].copy_from_slice(&colour[..3]),
                    }
                    if self.alpha {
                        out[3] = a as u8;
                        self.transparent |= a != 255;
                    }
                }
                Sums::Grid(sums) => {
                    let sums = &mut sums[cell * self.channels..(cell + 1) * self.channels];
                    for (sum, &sample) in sums.iter_mut().zip(colour) {
                        *sum += premultiply(sample);
                    }
                    if self.alpha {
                        sums[self.channels - 1] += a as u16;
                    }
                }
                Sums::Row(_) => unreachable!("rows in order are whole rows"),
            }
        }
    }

    /// Averages one row of cells into the result: colour premultiplied,
    /// its sums carrying alpha as a factor of up to `alpha_scale`.
    fn write_cells<T: Copy + Into<u32>>(&mut self, cell_row: usize, sums: &[T], alpha_scale: u32) {
        let count = self.factor * self.factor;
        let out_channels = if self.alpha { 4 } else { 3 };
        let colours = if self.alpha { self.channels - 1 } else { self.channels };
        // Every mean divides by a constant: multiply by its reciprocal.
        let colour_scale = 1.0 / (count * if self.alpha { alpha_scale } else { 1 }) as f32;
        let alpha_mean = 1.0 / count as f32;
        let side = self.side as usize;
        let row = &mut self.pixels[cell_row * side * out_channels..(cell_row + 1) * side * out_channels];
        for (cell, out) in sums.chunks_exact(self.channels).zip(row.chunks_exact_mut(out_channels)) {
            let mean = |sum: T| (sum.into() as f32 * colour_scale + 0.5) as u8;
            let rgb = match colours {
                1 => [mean(cell[0]); 3],
                _ => [mean(cell[0]), mean(cell[1]), mean(cell[2])],
            };
            out[..3].copy_from_slice(&rgb);
            if self.alpha {
                let alpha_sum: u32 = cell[colours].into();
                self.transparent |= alpha_sum != 255 * count;
                out[3] = (alpha_sum as f32 * alpha_mean + 0.5) as u8;
            }
        }
    }

    /// The result: RGB, or premultiplied RGBA when some pixel of the
    /// square is not fully opaque (an alpha channel that is all 255 is not
    /// transparency).
    pub fn finish(mut self) -> Decoded {
        match std::mem::replace(&mut self.sums, Sums::None) {
            Sums::Grid(sums) => {
                let cells_per_row = self.side as usize * self.channels;
                for (cell_row, row) in sums.chunks_exact(cells_per_row).enumerate() {
                    // Grid sums are premultiplied to 8 bits already.
                    self.write_cells(cell_row, row, 1);
                }
            }
            // Pixels were copied as they were: premultiply them in place
            // (SIMD), rather than have the resize premultiply a copy.
            Sums::None if self.transparent => {
                let side = self.side;
                let mut image =
                    Image::from_slice_u8(side, side, &mut self.pixels, PixelType::U8x4).expect("a square of RGBA");
                MulDiv::default().multiply_alpha_inplace(&mut image).expect("RGBA");
            }
            _ => {}
        }
        let mut pixels = self.pixels;
        if self.alpha && !self.transparent {
            // RGBA to RGB in place: each pixel moves to or before where it was.
            let count = pixels.len() / 4;
            for index in 0..count {
                pixels.copy_within(4 * index..4 * index + 3, 3 * index);
            }
            pixels.truncate(count * 3);
        }
        Decoded { width: self.side, height: self.side, pixels, has_transparency: self.transparent, premultiplied: true }
    }
}

/// The cell factor and the result's side for the centre square of
/// `width` x `height`.
fn cells(width: u32, height: u32, short_side: u32) -> (u32, u32) {
    let square = width.min(height);
    let factor = (square / (GAP * short_side).max(1)).max(1);
    (factor, square / factor)
}

/// Copies a row of pixels to RGB or (straight) RGBA; whether some pixel
/// was not opaque. The channel counts are known to the compiler, as every
/// pixel of a PNG of ordinary size goes through here.
fn copy_pixels<const C: usize, const OUT: usize, const ALPHA: bool>(out: &mut [u8], pixels: &[u8]) -> bool {
    if C == OUT {
        out.copy_from_slice(pixels);
    } else {
        for (out, pixel) in out.chunks_exact_mut(OUT).zip(pixels.chunks_exact(C)) {
            out[..3].fill(pixel[0]);
            if ALPHA {
                out[3] = pixel[C - 1];
            }
        }
    }
    ALPHA && pixels.chunks_exact(C).any(|pixel| pixel[C - 1] != 255)
}

/// Adds a row of pixels to a row of cells, `factor` pixels per cell, colour
/// multiplied by alpha; the channel count known to the compiler, as every
/// pixel of a large PNG goes through here.
fn add_cells<const C: usize, const ALPHA: bool>(sums: &mut [u32], pixels: &[u8], factor: usize) {
    for (cell, block) in sums.chunks_exact_mut(C).zip(pixels.chunks_exact(C * factor)) {
        let mut acc = [0u32; C];
        for pixel in block.chunks_exact(C) {
            if ALPHA {
                let a = u32::from(pixel[C - 1]);
                for channel in 0..C - 1 {
                    acc[channel] += u32::from(pixel[channel]) * a;
                }
                acc[C - 1] += a;
            } else {
                for channel in 0..C {
                    acc[channel] += u32::from(pixel[channel]);
                }
            }
        }
        for (sum, value) in cell.iter_mut().zip(acc) {
            *sum += value;
        }
    }
}
