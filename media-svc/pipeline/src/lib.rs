//! The image pipeline: untrusted bytes in, square metadata-free renditions out.
//!
//! Order matters for safety and speed:
//! 1. the size limit: a file over it is refused whatever it holds, as
//!    contacts-svc refuses it before sending it on (IMAGE_TOO_LARGE).
//! 2. [`sniff`]: the format from magic bytes; anything but JPEG/PNG stops
//!    here. Then [`header`]: dimensions from the header, checked before
//!    any pixel buffer exists, so a tiny file declaring 65535x65535 never
//!    allocates; then what decoding it would cost, against the [`budget`]
//!    (memory per image, JPEG scans, PNG chunks).
//! 3. [`decode`]: JPEGs are decoded DCT-scaled to just enough pixels for the
//!    largest rendition ([`jpeg`]); PNGs row by row into a box reduction of
//!    their centre square ([`png_rows`], [`downscale`]), first frame only.
//!    Incomplete data is corrupt.
//! 4. [`transform`]: center-crop to a square and resize (SIMD), then apply
//!    the EXIF orientation to the small result (crop and orientation commute).
//! 5. [`encode`]: fresh JPEG (opaque) or PNG (real transparency) into memory,
//!    which drops every byte of metadata and anything appended to the file;
//!    and, from the smallest square before it is encoded, the [`preview`]
//!    (ThumbHash and dominant colour).
//!
//! This crate knows nothing of gRPC or storage; media-svc re-exports it as
//! `media_svc::pipeline`, and it is also what `media-svc process` runs
//! offline, the fuzz target drives, and [`samples`] feeds.

pub mod budget;
pub mod samples;

mod decode;
mod decoded;
mod downscale;
mod encode;
mod header;
mod jpeg;
mod jpeg_header;
mod png_rows;
mod preview;
mod rejection;
mod sniff;
mod transform;
mod turbo;

use std::fmt;

pub use budget::Cost;
pub use header::Orientation;
pub use preview::{Preview, Rgb, THUMBHASH_SIDE};
pub use rejection::Rejection;
use sniff::Sniffed;

/// An accepted input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    /// The format's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }
}

/// The limits an upload must respect; all configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file.
    pub max_bytes: usize,
    /// Shortest accepted side: smaller images make useless avatars.
    pub min_side: u32,
    /// Longest accepted side.
    pub max_side: u32,
    /// Largest accepted area: bounds decode memory and CPU.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 2_621_440, min_side: 32, max_side: 10_000, max_pixels: 40_000_000 }
    }
}

/// The edge lengths of the renditions, smallest first.
pub const RENDITION_SIZES: [u32; 2] = [128, 512];

/// The largest rendition: what decoding must leave pixels for.
const LARGEST_RENDITION: u32 = RENDITION_SIZES[RENDITION_SIZES.len() - 1];

/// JPEG quality of the renditions: visually clean at avatar sizes.
pub const JPEG_QUALITY: u8 = 85;

/// What an accepted file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageInfo {
    pub format: Format,
    /// Width as stored, before orientation.
    pub width: u32,
    /// Height as stored, before orientation.
    pub height: u32,
    pub size_bytes: u64,
    /// Whether the file declares an alpha channel (or PNG transparency).
    pub has_alpha: bool,
    /// How to turn the stored pixels upright; serialized as its EXIF number 1 to 8.
    #[serde(with = "exif_orientation")]
    pub orientation: Orientation,
}

/// Orientation as its EXIF number (1 to 8) in JSON.
mod exif_orientation {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::Orientation;

    pub fn serialize<S: Serializer>(orientation: &Orientation, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(orientation.to_exif())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Orientation, D::Error> {
        let value = u8::deserialize(deserializer)?;
        Orientation::from_exif(value).ok_or_else(|| D::Error::custom(format!("EXIF orientation {value} is not 1 to 8")))
    }
}

/// One encoded rendition.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendition {
    /// Nominal size (128 or 512).
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub format: Format,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Rendition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendition")
            .field("size", &self.size)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("format", &self.format)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A validated upload and its renditions, smallest first.
#[derive(Debug, Clone)]
pub struct Normalized {
    pub info: ImageInfo,
    pub renditions: Vec<Rendition>,
    /// What a client shows while the renditions load.
    pub preview: Preview,
}

/// The pipeline with its limits. Cheap to copy; CPU-bound: run it off the
/// async runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pipeline {
    limits: Limits,
}

impl Pipeline {
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Format, size, dimensions and what decoding would cost, from the
    /// header and the file's structure only: cheap (one pass over the
    /// bytes), allocates nothing in proportion to the declared dimensions.
    pub fn inspect(&self, bytes: &[u8]) -> Result<ImageInfo, Rejection> {
        self.examine(bytes).map(|(info, _)| info)
    }

    /// Everything [`Pipeline::inspect`] checks, plus a complete decode (at the
    /// smallest useful scale) so that corrupt data is caught.
    pub fn validate(&self, bytes: &[u8]) -> Result<ImageInfo, Rejection> {
        let (info, layout) = self.examine(bytes)?;
        decode::decode(&layout, bytes, decode::Target::ValidateOnly)?;
        Ok(info)
    }

    /// Validates and produces every rendition.
    pub fn normalize(&self, bytes: &[u8]) -> Result<Normalized, Rejection> {
        let (info, layout) = self.examine(bytes)?;
        let decoded = decode::decode(&layout, bytes, decode::Target::ShortSide(LARGEST_RENDITION))?;
        let squares = transform::renditions(&decoded, info.orientation, &RENDITION_SIZES);
        let smallest = &squares[0];
        let preview = Preview::of(smallest.side, &smallest.pixels, smallest.has_alpha);
        let renditions = squares.iter().map(encode::encode).collect();
        Ok(Normalized { info, renditions, preview })
    }

    /// What [`Pipeline::inspect`] checks, and the layout the decoder then
    /// follows (read once, so the checks and the decode agree).
    fn examine(&self, bytes: &[u8]) -> Result<(ImageInfo, header::Layout), Rejection> {
        if bytes.len() > self.limits.max_bytes {
            return Err(Rejection::TooLarge { size: bytes.len(), limit: self.limits.max_bytes });
        }
        let format = match sniff::sniff(bytes) {
            Sniffed::Accepted(format) => format,
            Sniffed::Refused(name) => return Err(Rejection::FormatUnsupported { detected: Some(name) }),
            Sniffed::Unknown => return Err(Rejection::FormatUnsupported { detected: None }),
        };
        let (info, layout) = header::read(format, bytes)?;
        self.check_dimensions(info.width, info.height)?;
        match &layout {
            header::Layout::Jpeg(jpeg) => jpeg::check_budget(jpeg, LARGEST_RENDITION)?,
            header::Layout::Png { chunks } if *chunks > budget::MAX_PNG_CHUNKS => {
                let cost = Cost::PngChunks { count: *chunks, limit: budget::MAX_PNG_CHUNKS };
                return Err(Rejection::TooComplex { format: Format::Png, cost });
            }
            // Row-by-row decoding keeps every PNG within the memory budget.
            header::Layout::Png { .. } => {}
        }
        Ok((info, layout))
    }

    fn check_dimensions(&self, width: u32, height: u32) -> Result<(), Rejection> {
        let limits = self.limits;
        let sides_ok = (limits.min_side..=limits.max_side).contains(&width)
            && (limits.min_side..=limits.max_side).contains(&height);
        if sides_ok && u64::from(width) * u64::from(height) <= limits.max_pixels {
            Ok(())
        } else {
            Err(Rejection::DimensionsOutOfRange { width, height, limits })
        }
    }
}

#[cfg(test)]
mod tests;
