//! Why a file is refused: what the caller needs to correct the upload, and
//! the stable reason code each refusal maps to.

use std::fmt;

use super::{Cost, Format, Limits};

/// Why a file was refused. Each variant carries what the caller needs to
/// correct the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not JPEG or PNG; `detected` names the format when we recognised it.
    FormatUnsupported {
        detected: Option<&'static str>,
    },
    TooLarge {
        size: usize,
        limit: usize,
    },
    DimensionsOutOfRange {
        width: u32,
        height: u32,
        limits: Limits,
    },
    /// A JPEG or PNG coded in a way we do not decode (`feature` says how,
    /// e.g. "hierarchical coding"): valid, so not corrupt.
    FeatureUnsupported {
        format: Format,
        feature: &'static str,
    },
    /// Valid, but decoding it would cost more memory or work than one image
    /// may (see [`crate::budget`]).
    TooComplex {
        format: Format,
        cost: Cost,
    },
    /// Does not decode completely: truncated, bad checksum, bad entropy data...
    Corrupt {
        format: Format,
        detail: String,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FormatUnsupported { detected: Some(name) } => {
                write!(f, "the image is {name}; only JPEG and PNG are accepted")
            }
            Self::FormatUnsupported { detected: None } => {
                write!(
                    f,
                    "the data is not a JPEG or PNG image (checked by its first bytes); only JPEG and PNG are accepted"
                )
            }
            // The sentence contacts-svc writes for the same refusal
            // (`accommador_proto::status::picture_too_large`; a media-svc test
            // keeps the two equal: this crate has no protobuf dependency).
            Self::TooLarge { size, limit } => {
                write!(f, "the picture is {}; the limit is {}", ByteSize(*size), ByteSize(*limit))
            }
            Self::DimensionsOutOfRange { width, height, limits } => write!(
                f,
                "the image is {width}x{height} pixels; each side must be {} to {} pixels and the area at most {} megapixels",
                limits.min_side,
                limits.max_side,
                limits.max_pixels as f64 / 1e6
            ),
            Self::FeatureUnsupported { format, feature } => write!(
                f,
                "the {} uses {feature}, which is not supported; save it as a baseline JPEG or a PNG",
                format.name()
            ),
            Self::TooComplex { cost, .. } => write!(f, "{cost}"),
            Self::Corrupt { format, detail } => {
                write!(f, "the {} data is corrupt or incomplete: {detail}", format.content_type())
            }
        }
    }
}

impl std::error::Error for Rejection {}

/// A byte count in the unit of the limits, and exactly: `4.2 MiB (4404019 bytes)`.
struct ByteSize(usize);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: f64 = 1024.0;
        let (bytes, n) = (self.0, self.0 as f64);
        if n >= KIB * KIB {
            write!(f, "{:.1} MiB ({bytes} bytes)", n / (KIB * KIB))
        } else if n >= KIB {
            write!(f, "{:.1} KiB ({bytes} bytes)", n / KIB)
        } else {
            write!(f, "{bytes} bytes")
        }
    }
}

impl Rejection {
    /// The stable machine-readable reason (ErrorInfo.reason).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::FormatUnsupported { .. } | Self::FeatureUnsupported { .. } => "IMAGE_FORMAT_UNSUPPORTED",
            Self::TooComplex { .. } => "IMAGE_TOO_COMPLEX",
            Self::TooLarge { .. } => "IMAGE_TOO_LARGE",
            Self::DimensionsOutOfRange { .. } => "IMAGE_DIMENSIONS_OUT_OF_RANGE",
            Self::Corrupt { .. } => "IMAGE_CORRUPT",
        }
    }
}
