//! What one image may cost to decode, in memory and in CPU, checked from
//! the header before any pixel buffer exists.
//!
//! The limits on the file (2.5 MiB, sides 32 to 10,000, 40 megapixels) do
//! not bound the cost by themselves: a flat 40-megapixel image compresses
//! to a few hundred kilobytes, and a decoder's memory and work depend on
//! how the file is coded. So each decoder path is built to a budget:
//!
//! - PNG is decoded row by row into a box-filter downscale
//!   ([`crate::downscale`]): no frame of the full image ever exists, and
//!   memory stays under 32 MiB whatever the size, colour type and
//!   interlacing.
//! - JPEG is decoded by libjpeg-turbo scaled in the DCT domain, so the
//!   decoded frame is small. But a progressive file, or one with a scan per
//!   colour component, makes libjpeg keep every DCT coefficient of the
//!   image until the last scan: 2 bytes per pixel and component, 320 MB for
//!   a flat 40-megapixel CMYK file of 0.4 MB. No decoder avoids that
//!   buffer, so we compute it from the header and refuse what would not fit
//!   [`DECODE_BUDGET_BYTES`], before decoding anything.
//! - CPU: pixels are bounded by the dimension limits. What is not is the
//!   work a file can ask for per pixel: the scans of a progressive JPEG
//!   ([`MAX_JPEG_SCAN_BLOCKS`], [`MAX_JPEG_SCANS`]) and the chunks of a PNG
//!   ([`MAX_PNG_CHUNKS`]).
//!
//! With `MEDIA_WORKERS` images processed at once, media-svc stays within
//! its baseline plus `workers x MEMORY_BUDGET_BYTES`, which is the decode
//! budget plus room for the upload's bytes (the hostile-image test asserts
//! it on the worst files the limits accept).

use std::fmt;

/// What one image may add to media-svc's resident memory while it is
/// processed: 96 MiB. With `MEDIA_WORKERS` images processed at once,
/// media-svc stays within its baseline plus `workers x` this.
///
/// It is [`DECODE_BUDGET_BYTES`] for the pipeline, plus 16 MiB for the
/// upload's bytes on their way through the service (the request, the
/// stored original, the renditions: a few copies of up to 2.5 MiB) and for
/// what the allocator keeps of blocks under its mmap threshold (see
/// `accommador_server::memory`). Measured: at most 75 MiB over the baseline
/// for the most expensive files the limits accept.
pub const MEMORY_BUDGET_BYTES: u64 = 96 << 20;

/// What decoding, resizing and encoding one image may allocate: 80 MiB,
/// computed from the header and refused beyond, before decoding.
///
/// Sized for the largest common case that needs a coefficient buffer: a
/// 12-megapixel progressive JPEG without chroma subsampling (what
/// high-quality exports write, and what `bench/avatars.sh` measures),
/// which needs 76 MiB. Any PNG the limits accept needs under 32 MiB, any
/// single-scan lossy JPEG under 50 (lossless JPEGs, which cannot be scaled
/// while decoding, up to 78). Progressive JPEGs that fit: grey up to 39
/// megapixels, 4:2:0 colour up to 25, 4:4:4 up to 12.8, CMYK up to 9.6.
pub const DECODE_BUDGET_BYTES: u64 = 80 << 20;

/// Memory of a JPEG decode besides libjpeg's whole-image buffer and the
/// decoded frame: libjpeg's row buffers and tables, and the resize and
/// encode of the renditions (measured under 1 MiB for the largest
/// progressive files the budget admits; row buffers grow with the width).
pub const JPEG_WORKING_BYTES: u64 = 4 << 20;

/// The most scans a JPEG may have. Encoders write 1 (baseline) to a dozen
/// or so (libjpeg's standard progressive script has 10); libjpeg-turbo's
/// guard against the "progressive JPEG" denial of service stops at this
/// count too.
pub const MAX_JPEG_SCANS: u32 = 100;

/// The most 8x8 blocks entropy decoding may read over all scans of a JPEG
/// (a block of a component counts once per scan that covers it).
///
/// Reading a block costs libjpeg about 10 ns even when the scan codes it
/// in a fraction of a bit: a 99 KB progressive file with 100 scans over a
/// 38-megapixel grey image took 0.8 s of CPU. The largest progressive
/// files the memory budget admits read about 6 million blocks with a
/// standard scan script (each block 4 to 10 times); at 20 million the
/// costliest file takes 0.17 s.
pub const MAX_JPEG_SCAN_BLOCKS: u64 = 20_000_000;

/// The most chunks a PNG may have. libpng writes its image data in 8 KiB
/// chunks, about 320 in 2.5 MiB. Every chunk costs the decoder some work
/// whatever its size, the one cost of a PNG its pixels do not bound, and
/// 2.4 MB of empty chunks make 200,000 of them.
pub const MAX_PNG_CHUNKS: u32 = 10_000;

/// What refusing an image because of its cost says: what it would take,
/// and the limit it exceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Bytes of memory the decode needs, against [`DECODE_BUDGET_BYTES`].
    Memory { needed: u64, limit: u64, image: &'static str },
    /// Scans in a JPEG, against [`MAX_JPEG_SCANS`].
    JpegScans { count: u32, limit: u32 },
    /// Blocks read over all scans of a JPEG, against [`MAX_JPEG_SCAN_BLOCKS`].
    JpegScanBlocks { count: u64, limit: u64 },
    /// Chunks in a PNG, against [`MAX_PNG_CHUNKS`].
    PngChunks { count: u32, limit: u32 },
}

impl Cost {
    /// The resource, as a stable name for `ErrorInfo` metadata.
    pub fn resource(&self) -> &'static str {
        match self {
            Self::Memory { .. } => "memory_bytes",
            Self::JpegScans { .. } => "jpeg_scans",
            Self::JpegScanBlocks { .. } => "jpeg_scan_blocks",
            Self::PngChunks { .. } => "png_chunks",
        }
    }

    /// How much of the resource the image needs.
    pub fn needed(&self) -> u64 {
        match *self {
            Self::Memory { needed, .. } | Self::JpegScanBlocks { count: needed, .. } => needed,
            Self::JpegScans { count, .. } | Self::PngChunks { count, .. } => u64::from(count),
        }
    }

    /// The limit it exceeds.
    pub fn limit(&self) -> u64 {
        match *self {
            Self::Memory { limit, .. } | Self::JpegScanBlocks { limit, .. } => limit,
            Self::JpegScans { limit, .. } | Self::PngChunks { limit, .. } => u64::from(limit),
        }
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ADVICE: &str = "save it as a baseline (non-progressive) JPEG, or with fewer pixels";
        match *self {
            Self::Memory { needed, limit, image } => write!(
                f,
                "the {image} needs {} MiB of memory to decode; the limit is {} MiB per image: {ADVICE}",
                needed.div_ceil(1 << 20),
                limit >> 20
            ),
            Self::JpegScans { count, limit } => {
                write!(f, "the JPEG has {count} scans; the limit is {limit}: {ADVICE}")
            }
            Self::JpegScanBlocks { count, limit } => write!(
                f,
                "the JPEG's scans read {:.1} million 8x8 blocks in all; the limit is {} million: {ADVICE}",
                count as f64 / 1e6,
                limit / 1_000_000
            ),
            Self::PngChunks { count, limit } => write!(
                f,
                "the PNG has {count} chunks; the limit is {limit} (encoders write a few hundred): save it again"
            ),
        }
    }
}
