//! The benchmark corpus, made by code so every machine measures the same
//! bytes: camera-like 12 MP JPEGs and 1 to 4 MP PNGs.
//!
//! Synthetic gradients compress far better than photographs, and JPEG decode
//! cost grows with the entropy-coded size, so the photos here are fractal
//! noise with film grain, tuned to land in the 1.5 to 2.5 MB a 12 MP phone
//! photo weighs.

use accommador_pipeline::samples::{self, JpegOptions, PngOptions};
use image::{Rgb, RgbImage, Rgba, RgbaImage};

/// One corpus file.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub description: String,
}

/// 24 JPEGs: 4000x3000 and 4032x3024, baseline and progressive, with EXIF
/// orientations 1, 6 and 8 as phones write them.
pub fn jpegs() -> Vec<CorpusFile> {
    (0..24u32)
        .map(|index| {
            let (width, height) = if index % 3 == 2 { (4032, 3024) } else { (4000, 3000) };
            let progressive = index % 2 == 1;
            let orientation = [1, 6, 8, 1][(index / 2 % 4) as usize];
            let photo = camera_photo(width, height, index, 4 + index / 2 % 2);
            let options =
                JpegOptions { quality: 90, progressive, exif_orientation: Some(orientation), gps: index % 4 == 0 };
            let kind = if progressive { "progressive" } else { "baseline" };
            CorpusFile {
                name: format!("photo-{index:02}.jpg"),
                bytes: samples::jpeg(&photo, options),
                description: format!("{width}x{height} {kind} JPEG, EXIF orientation {orientation}"),
            }
        })
        .collect()
}

/// 10 PNGs of 1 to 4 MP: opaque screenshots and photos, and logos with alpha.
pub fn pngs() -> Vec<CorpusFile> {
    // (width, height, kind): 1 to 4 MP, each kind at several sizes.
    const IMAGES: [(u32, u32, PngKind); 10] = [
        (1000, 1000, PngKind::Logo),
        (1280, 960, PngKind::Screenshot),
        (1600, 1200, PngKind::Photo),
        (2000, 1500, PngKind::Logo),
        (2000, 2000, PngKind::Screenshot),
        (1000, 1000, PngKind::Photo),
        (1280, 960, PngKind::Logo),
        (1600, 1200, PngKind::Screenshot),
        (1400, 1050, PngKind::Photo),
        (2000, 2000, PngKind::Logo),
    ];
    IMAGES
        .iter()
        .zip(0u32..)
        .map(|(&(width, height, kind), index)| {
            let options = PngOptions::default();
            let (bytes, description) = match kind {
                PngKind::Logo => {
                    (samples::png_rgba(&logo(width, height, index), &options), "RGBA logo with transparency")
                }
                PngKind::Screenshot => {
                    (samples::png_rgb(&screenshot(width, height, index), &options), "RGB screenshot")
                }
                // Lossless photos are big: light grain keeps them under the 2.5 MiB limit.
                PngKind::Photo => (samples::png_rgb(&camera_photo(width, height, index, 1), &options), "RGB photo"),
            };
            CorpusFile {
                name: format!("image-{index:02}.png"),
                bytes,
                description: format!("{width}x{height} {description}"),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum PngKind {
    Logo,
    Screenshot,
    Photo,
}

/// Fractal value noise (structure at every scale, like a scene) plus
/// per-pixel grain of amplitude `grain` (like a sensor).
pub fn camera_photo(width: u32, height: u32, seed: u32, grain: u32) -> RgbImage {
    let luma = Fractal::new(seed, 7);
    let tint = Fractal::new(seed ^ 0x5bd1_e995, 3);
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let light = luma.sample(fx, fy, 512.0);
        let warm = tint.sample(fx, fy, 1024.0) - 0.5;
        let noise = |channel: u32| {
            if grain == 0 {
                0.0
            } else {
                (hash(x, y, seed.wrapping_add(channel)) % (2 * grain + 1)) as f32 - grain as f32
            }
        };
        let level = 30.0 + 190.0 * light;
        let pixel = |shift: f32, channel: u32| (level + shift + noise(channel)).clamp(0.0, 255.0) as u8;
        Rgb([pixel(60.0 * warm, 0), pixel(10.0 * warm, 1), pixel(-50.0 * warm, 2)])
    })
}

/// Flat panels, text-like strokes and a gradient header: what a PNG
/// screenshot looks like to a compressor.
fn screenshot(width: u32, height: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        if y < height / 10 {
            let shade = (x * 120 / width) as u8;
            return Rgb([20 + shade, 60 + shade / 2, 160]);
        }
        let column = x / (width / 4).max(1);
        let stroke = hash(x / 3, y / 4, seed ^ column).is_multiple_of(7) && y % 24 < 14 && x % (width / 4) > 16;
        if stroke { Rgb([40, 40, 48]) } else { Rgb([248 - (column * 6) as u8, 248, 250]) }
    })
}

/// A logo: a shaded disc and a ring on full transparency, with soft edges.
fn logo(width: u32, height: u32, seed: u32) -> RgbaImage {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let radius = width.min(height) as f32 * 0.4;
    let hue = (seed * 53 % 200) as f32;
    RgbaImage::from_fn(width, height, |x, y| {
        let distance = (x as f32 - cx).hypot(y as f32 - cy);
        let alpha = ((radius - distance) * 0.5 + 0.5).clamp(0.0, 1.0);
        let ring = ((distance - radius * 0.6).abs() < radius * 0.08) as u8 as f32;
        let shade = 1.0 - 0.4 * (y as f32 / height as f32);
        let red = (hue + 40.0) * shade + ring * 50.0;
        Rgba([red.min(255.0) as u8, (90.0 * shade) as u8, (255.0 - hue) as u8, (alpha * 255.0) as u8])
    })
}

/// Octaves of bilinear value noise, each half the period and 0.55 of the
/// amplitude of the previous one.
struct Fractal {
    seed: u32,
    octaves: u32,
}

impl Fractal {
    fn new(seed: u32, octaves: u32) -> Self {
        Self { seed, octaves }
    }

    /// A value in 0..=1 at (x, y) for a base period of `period` pixels.
    fn sample(&self, x: f32, y: f32, period: f32) -> f32 {
        let (mut total, mut weight, mut amplitude, mut period) = (0.0, 0.0, 1.0, period);
        for octave in 0..self.octaves {
            total += amplitude * value_noise(x / period, y / period, self.seed.wrapping_add(octave * 7919));
            weight += amplitude;
            amplitude *= 0.55;
            period /= 2.0;
        }
        total / weight
    }
}

fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (tx, ty) = (x - x0, y - y0);
    let (ix, iy) = (x0 as u32, y0 as u32);
    let corner = |dx: u32, dy: u32| (hash(ix + dx, iy + dy, seed) & 0xFFFF) as f32 / 65535.0;
    let top = corner(0, 0) + (corner(1, 0) - corner(0, 0)) * tx;
    let bottom = corner(0, 1) + (corner(1, 1) - corner(0, 1)) * tx;
    top + (bottom - top) * ty
}

/// A well-mixed 32-bit hash of a lattice point (a few rounds of xorshift-multiply).
fn hash(x: u32, y: u32, seed: u32) -> u32 {
    let mut h = x.wrapping_mul(0x27d4_eb2d) ^ y.wrapping_mul(0x1656_67b1) ^ seed.wrapping_mul(0x9e37_79b9);
    h ^= h >> 15;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}
