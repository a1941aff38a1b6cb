//! PNG files written chunk by chunk from rows, for what the png crate's
//! encoder does not make: Adam7 interlacing, 40 megapixels without a
//! 160 MB frame in memory, noise exactly where we want it, floods of
//! chunks.

use std::borrow::Cow;

use super::zlib::ZlibWriter;

/// What the IHDR declares, and the palette chunks when there is one.
#[derive(Debug, Clone)]
pub struct RowPng {
    pub width: u32,
    pub height: u32,
    pub colour: png::ColorType,
    /// 8 or 16 (8 for palettes).
    pub depth: u8,
    pub interlaced: bool,
    /// PLTE (RGB triples) for [`png::ColorType::Indexed`].
    pub palette: Option<Vec<u8>>,
    /// tRNS (alpha per palette entry).
    pub transparency: Option<Vec<u8>>,
}

impl RowPng {
    fn bytes_per_pixel(&self) -> usize {
        self.colour.samples() * usize::from(self.depth / 8)
    }

    /// The file, with `row(y)` giving every full row (unfiltered, as the
    /// IHDR describes). Rows equal to the previous one cost nothing: they
    /// are stored as Paeth residuals, all zero, which a decoder still has
    /// to unfilter in full.
    pub fn encode<'a>(&self, mut row: impl FnMut(u32) -> Cow<'a, [u8]>) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut header = Vec::with_capacity(13);
        header.extend(self.width.to_be_bytes());
        header.extend(self.height.to_be_bytes());
        header.extend([self.depth, self.colour as u8, 0, 0, u8::from(self.interlaced)]);
        chunk(&mut out, b"IHDR", &header);
        if let Some(palette) = &self.palette {
            chunk(&mut out, b"PLTE", palette);
        }
        if let Some(transparency) = &self.transparency {
            chunk(&mut out, b"tRNS", transparency);
        }

        let bpp = self.bytes_per_pixel();
        let mut deflate = ZlibWriter::new();
        // (x offset, x step, y offset, y step) per pass; one pass when not interlaced.
        let passes: &[(u32, u32, u32, u32)] = if self.interlaced {
            &[(0, 8, 0, 8), (4, 8, 0, 8), (0, 4, 4, 8), (2, 4, 0, 4), (0, 2, 2, 4), (1, 2, 0, 2), (0, 1, 1, 2)]
        } else {
            &[(0, 1, 0, 1)]
        };
        let mut previous_full: Vec<u8> = Vec::new();
        for &(x0, dx, y0, dy) in passes {
            let columns = self.width.saturating_sub(x0).div_ceil(dx) as usize;
            if columns == 0 {
                continue;
            }
            let mut first_in_pass = true;
            for y in (y0..self.height).step_by(dy as usize) {
                let full = row(y);
                if !first_in_pass && *full == *previous_full {
                    deflate.literals(&[4]);
                    deflate.zeros(columns * bpp);
                } else {
                    let line: Cow<'_, [u8]> = if dx == 1 {
                        Cow::Borrowed(&full[..])
                    } else {
                        Cow::Owned(
                            (0..columns)
                                .flat_map(|column| {
                                    let start = (x0 as usize + column * dx as usize) * bpp;
                                    full[start..start + bpp].iter().copied()
                                })
                                .collect(),
                        )
                    };
                    deflate.literals(&[0]);
                    deflate.literals(&line);
                    previous_full.clear();
                    previous_full.extend_from_slice(&full);
                }
                first_in_pass = false;
            }
            // The next pass starts over: its first row is written as is.
            previous_full.clear();
        }
        let data = deflate.finish();
        for part in data.chunks(1 << 20) {
            chunk(&mut out, b"IDAT", part);
        }
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

/// Appends a chunk: length, type, data, CRC of type and data.
pub(super) fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend(u32::try_from(data.len()).expect("chunk fits").to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend(crc.to_be_bytes());
}

/// Inserts `count` copies of the chunk `kind` with `data` right before the
/// first IDAT of a PNG.
pub fn with_chunks_before_data(png: &[u8], kind: &[u8; 4], data: &[u8], count: u32) -> Vec<u8> {
    let idat = png.windows(4).position(|window| window == b"IDAT").expect("an IDAT chunk") - 4;
    let mut one = Vec::new();
    chunk(&mut one, kind, data);
    let mut out = Vec::with_capacity(png.len() + one.len() * count as usize);
    out.extend_from_slice(&png[..idat]);
    for _ in 0..count {
        out.extend_from_slice(&one);
    }
    out.extend_from_slice(&png[idat..]);
    out
}
