//! JPEG files written marker by marker, for what no encoder makes on
//! request: 12-bit samples, hundreds of progressive scans, a baseline file
//! with one scan per component, 40 megapixels in a few hundred kilobytes.
//!
//! Every 8x8 block is flat (only its DC coefficient is non-zero), so the
//! files stay tiny and quick to write in unoptimized test builds, while a
//! decoder still does all of its per-block work: entropy decoding, the
//! coefficient buffer, the inverse DCT and colour conversion.

/// How the colour components are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockColour {
    Gray,
    /// YCbCr with chroma halved both ways (4:2:0), as cameras write.
    YCbCr420,
    /// YCbCr at full resolution (4:4:4), as high-quality exports write.
    YCbCr444,
    /// CMYK with the Adobe marker, stored inverted, as print workflows write.
    Cmyk,
}

/// How the coefficients are split into scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockScans {
    /// One interleaved scan: baseline (8-bit) or extended sequential (12-bit).
    Sequential,
    /// Sequential, one scan per component: a decoder must keep every
    /// coefficient until the last scan, as for a progressive file.
    NonInterleaved,
    /// DC first, then one scan of all AC coefficients per component.
    Progressive,
    /// DC first, then `ac_scans` scans of one AC coefficient and one bit
    /// plane each: a valid file with as many scans as one can have.
    ProgressiveBitByBit { ac_scans: u32 },
}

/// A JPEG made of flat 8x8 blocks.
#[derive(Debug, Clone, Copy)]
pub struct BlockJpeg {
    pub width: u16,
    pub height: u16,
    /// Bits per sample: 8 or 12.
    pub precision: u8,
    pub colour: BlockColour,
    pub scans: BlockScans,
}

/// One component: id, horizontal and vertical sampling factors.
struct Component {
    id: u8,
    h: u32,
    v: u32,
}

impl BlockJpeg {
    /// The file, each block taking the colour of `pixel` (8-bit RGB) at its
    /// centre. `pixel` is called once per block, not per pixel.
    pub fn encode(&self, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        assert!(matches!(self.precision, 8 | 12), "8 or 12 bits per sample");
        let components = self.components();
        let (h_max, v_max) = (
            components.iter().map(|c| c.h).max().expect("components"),
            components.iter().map(|c| c.v).max().expect("components"),
        );
        let (width, height) = (u32::from(self.width), u32::from(self.height));
        let mcu_columns = width.div_ceil(8 * h_max);
        let mcu_rows = height.div_ceil(8 * v_max);

        // DC coefficient of every block of every component, on the MCU grid
        // (padded), row-major per component.
        let centre = 1i32 << (self.precision - 1);
        let scale = 1i32 << (self.precision - 8);
        let grids: Vec<Grid> = components
            .iter()
            .enumerate()
            .map(|(index, component)| {
                let columns = mcu_columns * component.h;
                let rows = mcu_rows * component.v;
                let mut dc = Vec::with_capacity((columns * rows) as usize);
                // Blocks of one colour repeat: convert each colour once.
                let mut last: Option<([u8; 3], i32)> = None;
                for row in 0..rows {
                    for column in 0..columns {
                        let x = ((column * 8 + 4) * h_max / component.h).min(width - 1);
                        let y = ((row * 8 + 4) * v_max / component.v).min(height - 1);
                        let rgb = pixel(x, y);
                        let value = match last {
                            Some((seen, value)) if seen == rgb => value,
                            _ => {
                                let value = self.sample(rgb, index);
                                last = Some((rgb, value));
                                value
                            }
                        };
                        dc.push(8 * (value * scale - centre));
                    }
                }
                // Non-interleaved scans cover only the blocks inside the image.
                let used_columns = (width * component.h).div_ceil(h_max).div_ceil(8);
                let used_rows = (height * component.v).div_ceil(v_max).div_ceil(8);
                Grid { columns, dc, used_columns, used_rows }
            })
            .collect();

        let mut out = vec![0xFF, 0xD8];
        match self.colour {
            // JFIF: libjpeg reads three components as YCbCr.
            BlockColour::Gray | BlockColour::YCbCr420 | BlockColour::YCbCr444 => {
                segment(&mut out, 0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
            }
            // Adobe, transform 0: four components are CMYK.
            BlockColour::Cmyk => segment(&mut out, 0xEE, b"Adobe\0\x64\0\0\0\0\0"),
        }
        let mut quantization = vec![0u8];
        quantization.extend([1u8; 64]);
        segment(&mut out, 0xDB, &quantization);
        let sof = match (self.scans, self.precision) {
            (BlockScans::Sequential | BlockScans::NonInterleaved, 8) => 0xC0,
            (BlockScans::Sequential | BlockScans::NonInterleaved, _) => 0xC1,
            _ => 0xC2,
        };
        let mut frame = vec![self.precision];
        frame.extend(self.height.to_be_bytes());
        frame.extend(self.width.to_be_bytes());
        frame.push(components.len() as u8);
        for component in &components {
            frame.extend([component.id, (component.h << 4 | component.v) as u8, 0]);
        }
        segment(&mut out, sof, &frame);
        // DC: category 0 (no change) in one bit, 1 to 15 in five.
        let mut dc_table = vec![0x00, 1, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        dc_table.extend(0..=15u8);
        segment(&mut out, 0xC4, &dc_table);
        // AC: only end-of-band symbols, EOB0 to EOB14, in four bits each
        // (EOB0 is the sequential end of block).
        let mut ac_table = vec![0x10, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        ac_table.extend((0..15u8).map(|n| n << 4));
        segment(&mut out, 0xC4, &ac_table);

        let all: Vec<usize> = (0..components.len()).collect();
        match self.scans {
            BlockScans::Sequential => {
                scan_header(&mut out, &components, &all, (0, 63, 0, 0));
                interleaved(&mut out, &components, &grids, (mcu_columns, mcu_rows), true);
            }
            BlockScans::NonInterleaved => {
                for index in all {
                    scan_header(&mut out, &components, &[index], (0, 63, 0, 0));
                    let mut bits = BitWriter::default();
                    let grid = &grids[index];
                    let mut previous = 0;
                    for row in 0..grid.used_rows {
                        for column in 0..grid.used_columns {
                            let dc = grid.dc[(row * grid.columns + column) as usize];
                            bits.dc(dc - previous);
                            previous = dc;
                            bits.put(0, 4); // end of block
                        }
                    }
                    bits.finish(&mut out);
                }
            }
            BlockScans::Progressive => {
                scan_header(&mut out, &components, &all, (0, 0, 0, 0));
                interleaved(&mut out, &components, &grids, (mcu_columns, mcu_rows), false);
                for index in all {
                    scan_header(&mut out, &components, &[index], (1, 63, 0, 0));
                    end_of_band_runs(&mut out, &grids[index]);
                }
            }
            BlockScans::ProgressiveBitByBit { ac_scans } => {
                scan_header(&mut out, &components, &all, (0, 0, 0, 0));
                interleaved(&mut out, &components, &grids, (mcu_columns, mcu_rows), false);
                // Each coefficient's first bit plane (13), then every
                // refinement down to plane 0: the order a decoder accepts.
                let count = components.len();
                let planes = (0..=13u8).rev();
                let scans = planes
                    .flat_map(|plane| (1..=63u8).flat_map(move |k| (0..count).map(move |index| (plane, k, index))));
                for (plane, k, index) in scans.take(ac_scans as usize) {
                    let previous_plane = if plane == 13 { 0 } else { plane + 1 };
                    scan_header(&mut out, &components, &[index], (k, k, previous_plane, plane));
                    end_of_band_runs(&mut out, &grids[index]);
                }
            }
        }
        out.extend([0xFF, 0xD9]);
        out
    }

    fn components(&self) -> Vec<Component> {
        let flat = |count: u8| (1..=count).map(|id| Component { id, h: 1, v: 1 }).collect();
        match self.colour {
            BlockColour::Gray => flat(1),
            BlockColour::YCbCr444 => flat(3),
            BlockColour::YCbCr420 => {
                vec![Component { id: 1, h: 2, v: 2 }, Component { id: 2, h: 1, v: 1 }, Component { id: 3, h: 1, v: 1 }]
            }
            BlockColour::Cmyk => flat(4),
        }
    }

    /// Component `index` of an 8-bit RGB colour, in 8-bit units.
    fn sample(&self, [r, g, b]: [u8; 3], index: usize) -> i32 {
        let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
        let value = match (self.colour, index) {
            (BlockColour::Gray, _) | (BlockColour::YCbCr420 | BlockColour::YCbCr444, 0) => {
                0.299 * r + 0.587 * g + 0.114 * b
            }
            (BlockColour::YCbCr420 | BlockColour::YCbCr444, 1) => 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b,
            (BlockColour::YCbCr420 | BlockColour::YCbCr444, _) => 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b,
            // Inverted CMYK: 255 is no ink; the key is the brightest channel.
            (BlockColour::Cmyk, _) => {
                let key = r.max(g).max(b);
                match index {
                    3 => key,
                    _ if key == 0.0 => 255.0,
                    0 => r * 255.0 / key,
                    1 => g * 255.0 / key,
                    _ => b * 255.0 / key,
                }
            }
        };
        value.round().clamp(0.0, 255.0) as i32
    }
}

/// DC coefficients of one component on the padded MCU grid.
struct Grid {
    columns: u32,
    dc: Vec<i32>,
    /// Blocks inside the image, which is what a one-component scan covers.
    used_columns: u32,
    used_rows: u32,
}

fn segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
    out.extend([0xFF, marker]);
    out.extend(u16::try_from(payload.len() + 2).expect("short segment").to_be_bytes());
    out.extend_from_slice(payload);
}

/// SOS for `indices` with spectral selection and successive approximation
/// `(ss, se, ah, al)`; every component uses tables 0.
fn scan_header(out: &mut Vec<u8>, components: &[Component], indices: &[usize], (ss, se, ah, al): (u8, u8, u8, u8)) {
    let mut header = vec![indices.len() as u8];
    for &index in indices {
        header.extend([components[index].id, 0x00]);
    }
    header.extend([ss, se, ah << 4 | al]);
    segment(out, 0xDA, &header);
}

/// An interleaved scan of every component: DC, plus an end of block when
/// `with_ac` (sequential); DC alone for a progressive first scan.
fn interleaved(
    out: &mut Vec<u8>,
    components: &[Component],
    grids: &[Grid],
    (columns, rows): (u32, u32),
    with_ac: bool,
) {
    let mut bits = BitWriter::default();
    let mut previous = vec![0; components.len()];
    for mcu_row in 0..rows {
        for mcu_column in 0..columns {
            for (index, component) in components.iter().enumerate() {
                let grid = &grids[index];
                for y in 0..component.v {
                    for x in 0..component.h {
                        let row = mcu_row * component.v + y;
                        let column = mcu_column * component.h + x;
                        let dc = grid.dc[(row * grid.columns + column) as usize];
                        bits.dc(dc - previous[index]);
                        previous[index] = dc;
                        if with_ac {
                            bits.put(0, 4);
                        }
                    }
                }
            }
        }
    }
    bits.finish(out);
}

/// An AC scan of one component whose coefficients are all zero: runs of
/// up to 32,767 empty blocks per symbol.
fn end_of_band_runs(out: &mut Vec<u8>, grid: &Grid) {
    let mut bits = BitWriter::default();
    let mut remaining = grid.used_columns * grid.used_rows;
    while remaining > 0 {
        let run = remaining.min(32_767);
        let n = 31 - run.leading_zeros();
        bits.put(n, 4); // EOBn, coded as n in four bits
        bits.put(run - (1 << n), n);
        remaining -= run;
    }
    bits.finish(out);
}

/// Entropy-coded bits, most significant first, with 0xFF byte stuffing.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    pending: u64,
    count: u32,
}

impl BitWriter {
    fn put(&mut self, code: u32, length: u32) {
        self.pending = (self.pending << length) | u64::from(code);
        self.count += length;
        while self.count >= 8 {
            self.count -= 8;
            let byte = (self.pending >> self.count) as u8;
            self.bytes.push(byte);
            if byte == 0xFF {
                self.bytes.push(0);
            }
        }
        self.pending &= (1 << self.count) - 1;
    }

    /// A DC difference: its category's code, then its bits.
    fn dc(&mut self, difference: i32) {
        if difference == 0 {
            return self.put(0, 1);
        }
        let category = 32 - difference.unsigned_abs().leading_zeros();
        self.put(0b10000 + category - 1, 5);
        let bits = if difference > 0 { difference } else { difference + (1 << category) - 1 };
        self.put(bits as u32, category);
    }

    /// Pads the last byte with ones, as the standard asks.
    fn finish(mut self, out: &mut Vec<u8>) {
        if self.count > 0 {
            let padding = 8 - self.count;
            self.put((1 << padding) - 1, padding);
        }
        out.append(&mut self.bytes);
    }
}
