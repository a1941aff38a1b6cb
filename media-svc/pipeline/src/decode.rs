//! Pixel decoding, to no more pixels than the renditions need: JPEG scaled
//! in the DCT domain ([`crate::jpeg`]), PNG reduced row by row
//! ([`crate::png_rows`]).

pub use super::decoded::{Decoded, Target};
use super::{Rejection, header::Layout, jpeg, png_rows};

pub fn decode(layout: &Layout, bytes: &[u8], target: Target) -> Result<Decoded, Rejection> {
    match layout {
        Layout::Jpeg(layout) => jpeg::decode(layout, bytes, target),
        Layout::Png { .. } => png_rows::decode(bytes, target),
    }
}
