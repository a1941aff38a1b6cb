//! What a client shows while a picture loads, computed at upload from the
//! smallest rendition's pixels while they are still in memory (nothing is
//! decoded twice) and stored with the image.
//!
//! - A ThumbHash (<https://evanw.github.io/thumbhash/>): a blurred preview,
//!   alpha included, in about 25 bytes. It keeps at most 7 frequencies
//!   across, which 32 pixels carry in full, so the rendition is shrunk to
//!   [`THUMBHASH_SIDE`] first: the encoder takes at most 100 pixels a side
//!   and its cost grows with the pixels it is given.
//! - A dominant colour: every pixel of the rendition goes into a coarse
//!   histogram of 8 levels per channel (512 buckets, 32 values wide: a
//!   photo's noise and gradients fall into a few buckets instead of
//!   thousands of near-equal colours), counted by its alpha, so
//!   transparent pixels do not count and half-transparent ones half. The
//!   answer is the alpha-weighted mean colour of the heaviest bucket (the
//!   lowest bucket on a tie): a flat colour comes back exactly, and a
//!   picture of two colours gives the one with the larger area. A fully
//!   transparent image has nothing to show and answers [`Rgb::BLACK`].
//!
//! Cost (`examples/preview_cost.rs`, one core of the 2-core dev machine):
//! about 160 µs per image, 90 of them the ThumbHash of 32 px (930 at 100
//! px), against 27 to 93 ms for normalizing a 12 MP phone JPEG of 1.6 to
//! 2.4 MB: 0.2 to 0.6% of an upload's CPU.

use std::{fmt, str::FromStr};

use crate::transform;

/// The side the rendition is shrunk to for ThumbHash (see the module header).
pub const THUMBHASH_SIDE: u32 = 32;

/// Levels kept per channel by the dominant colour's histogram.
const LEVEL_BITS: u32 = 3;
const BUCKETS: usize = 1 << (3 * LEVEL_BITS);

/// The placeholders of one image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Preview {
    /// A ThumbHash of the upright square; hex in JSON.
    #[serde(with = "hex")]
    pub thumbhash: Vec<u8>,
    pub dominant_color: Rgb,
}

impl Preview {
    /// The placeholders of a `side` x `side` square of RGB or RGBA pixels
    /// (`has_alpha`), colour not multiplied by alpha, as renditions are.
    pub fn of(side: u32, pixels: &[u8], has_alpha: bool) -> Self {
        let small_side = THUMBHASH_SIDE.min(side);
        let small = transform::shrink(side, pixels, has_alpha, small_side);
        let rgba = if has_alpha {
            small
        } else {
            small.chunks_exact(3).flat_map(|rgb| [rgb[0], rgb[1], rgb[2], u8::MAX]).collect()
        };
        let small_side = small_side as usize;
        Self {
            thumbhash: thumbhash::rgba_to_thumb_hash(small_side, small_side, &rgba),
            dominant_color: dominant_color(pixels, has_alpha),
        }
    }
}

/// See the module header.
fn dominant_color(pixels: &[u8], has_alpha: bool) -> Rgb {
    #[derive(Clone, Copy, Default)]
    struct Bucket {
        weight: u64,
        sums: [u64; 3],
    }
    let mut buckets = [Bucket::default(); BUCKETS];
    let channels = if has_alpha { 4 } else { 3 };
    for pixel in pixels.chunks_exact(channels) {
        let alpha = if has_alpha { u64::from(pixel[3]) } else { u64::from(u8::MAX) };
        let index =
            pixel[..3].iter().fold(0, |index, &value| (index << LEVEL_BITS) | usize::from(value >> (8 - LEVEL_BITS)));
        let bucket = &mut buckets[index];
        bucket.weight += alpha;
        for (sum, &value) in bucket.sums.iter_mut().zip(&pixel[..3]) {
            *sum += alpha * u64::from(value);
        }
    }
    // `max_by_key` keeps the last of equal keys; reversed, that is the lowest bucket.
    let heaviest = buckets.iter().rev().max_by_key(|bucket| bucket.weight).expect("there are buckets");
    if heaviest.weight == 0 {
        return Rgb::BLACK;
    }
    let mean = |sum: u64| ((sum + heaviest.weight / 2) / heaviest.weight) as u8;
    Rgb(heaviest.sums.map(mean))
}

/// An sRGB colour; `#rrggbb` (lowercase) as text and in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub [u8; 3]);

impl Rgb {
    pub const BLACK: Self = Self([0, 0, 0]);
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

impl FromStr for Rgb {
    type Err = String;

    /// Exactly what [`Rgb`]'s `Display` writes: `#` and six lowercase hex digits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("colour {text:?} is not #rrggbb in lowercase hex");
        let digits = text.strip_prefix('#').filter(|digits| {
            digits.len() == 6 && digits.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
        });
        let mut rgb = [0; 3];
        hex::decode_to_slice(digits.ok_or_else(invalid)?, &mut rgb).map_err(|_| invalid())?;
        Ok(Self(rgb))
    }
}

impl serde::Serialize for Rgb {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Rgb {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
