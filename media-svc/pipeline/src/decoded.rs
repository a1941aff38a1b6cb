//! What a decoder is asked for and what it returns: shared by the JPEG and
//! PNG decoders and by the steps after them, so it depends on none of them.

/// How many pixels the caller needs.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Only proof that the data decodes completely: the cheapest scale.
    ValidateOnly,
    /// The shorter side must keep at least this many pixels (or all it has).
    ShortSide(u32),
}

/// Decoded 8-bit pixels, RGB or RGBA, row-major without padding. A JPEG
/// comes out whole (scaled); a PNG as its centre square, reduced.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
    /// True when `pixels` is RGBA with at least one pixel not fully opaque.
    /// Opaque RGBA input is reduced to RGB, so it becomes a JPEG.
    pub has_transparency: bool,
    /// Whether RGBA colour is already multiplied by alpha (as the box
    /// reduction leaves it), which spares the resize a premultiplied copy.
    pub premultiplied: bool,
}
