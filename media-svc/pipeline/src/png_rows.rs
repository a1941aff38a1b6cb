//! PNG decoding row by row (the png crate's row reader) into the box
//! reduction of [`crate::downscale`]: a 40-megapixel PNG never exists as
//! one frame. Interlaced files arrive as seven Adam7 passes of partial
//! rows, which the reduction takes in any order.

use super::{
    Format, Rejection,
    decoded::{Decoded, Target},
    downscale::BoxReducer,
    header::png_reader,
};

/// Memory the png crate may use besides the rows we hand it: palette,
/// transparency, EXIF and its own buffers (a few rows and the inflate
/// window, well under 1 MiB), with text chunks ignored.
pub const PNG_DECODER_BYTES: usize = 4 << 20;

/// Adam7 passes: (x offset, x step, y offset, y step), in file order.
const ADAM7: [(u32, u32, u32, u32); 7] =
    [(0, 8, 0, 8), (4, 8, 0, 8), (0, 4, 4, 8), (2, 4, 0, 4), (0, 2, 2, 4), (1, 2, 0, 2), (0, 1, 1, 2)];

pub fn decode(bytes: &[u8], target: Target) -> Result<Decoded, Rejection> {
    let corrupt = |detail: String| Rejection::Corrupt { format: Format::Png, detail };
    let mut reader = png_reader(bytes, PNG_DECODER_BYTES)?;
    // Palettes are expanded, 16-bit samples cut to 8 (normalize_to_color8).
    let (colour, _) = reader.output_color_type();
    let channels = colour.samples();
    let alpha = matches!(colour, png::ColorType::GrayscaleAlpha | png::ColorType::Rgba);
    let (width, height) = reader.info().size();
    let interlaced = reader.info().interlaced;
    let passes: &[(u32, u32, u32, u32)] = if interlaced { &ADAM7 } else { &[(0, 1, 0, 1)] };
    let mut reducer = match target {
        // Every row is still read: that is what proves the data complete.
        Target::ValidateOnly => None,
        Target::ShortSide(side) => Some(BoxReducer::new(width, height, side, channels, alpha, interlaced)),
    };
    let line_bytes = reader.output_line_size(width).ok_or_else(|| corrupt("image too large".into()))?;
    let mut row = vec![0; line_bytes];
    for &(x0, step, y0, y_step) in passes {
        // The png crate skips passes without pixels; so do we.
        let columns = width.saturating_sub(x0).div_ceil(step);
        let lines = height.saturating_sub(y0).div_ceil(y_step);
        if columns == 0 || lines == 0 {
            continue;
        }
        for line in 0..lines {
            reader
                .read_row(&mut row)
                .map_err(|error| corrupt(error.to_string()))?
                .ok_or_else(|| corrupt("the image data ends early".into()))?;
            if let Some(reducer) = &mut reducer {
                reducer.add_row(y0 + line * y_step, x0, step, &row[..columns as usize * channels]);
            }
        }
    }
    // No row is left: this consumes the rest of the image data and its
    // checksum. For an animated PNG that image is the first frame.
    if reader.read_row(&mut row).map_err(|error| corrupt(error.to_string()))?.is_some() {
        return Err(corrupt("more image rows than the header declares".into()));
    }
    // Insist on the IEND chunk: a file cut after its last IDAT is still incomplete.
    reader.finish().map_err(|error| corrupt(error.to_string()))?;
    Ok(reducer.map_or(
        Decoded { width: 0, height: 0, pixels: Vec::new(), has_transparency: false, premultiplied: false },
        BoxReducer::finish,
    ))
}
