//! A zlib stream of literals and runs of zeros, in one block of deflate's
//! fixed Huffman codes: all the row PNGs need (Paeth residuals of repeated
//! rows are zeros, everything else is stored as literals), written fast
//! enough for unoptimized test builds, where a general compressor's
//! generic code runs unoptimized over hundreds of megabytes of zeros.

/// Adler-32's modulus.
const BASE: u64 = 65_521;

pub struct ZlibWriter {
    out: Vec<u8>,
    /// Bits not yet written, least significant first, as deflate packs them.
    pending: u64,
    count: u32,
    /// Adler-32 of everything written so far.
    a: u64,
    b: u64,
}

impl ZlibWriter {
    pub fn new() -> Self {
        let mut writer = Self { out: vec![0x78, 0x01], pending: 0, count: 0, a: 1, b: 0 };
        writer.bits(1, 1); // the final block
        writer.bits(1, 2); // fixed Huffman codes
        writer
    }

    pub fn literals(&mut self, data: &[u8]) {
        for &byte in data {
            match byte {
                0..=143 => self.code(0x30 + u32::from(byte), 8),
                _ => self.code(0x190 + u32::from(byte) - 144, 9),
            }
            self.a = (self.a + u64::from(byte)) % BASE;
            self.b = (self.b + self.a) % BASE;
        }
    }

    /// `length` zero bytes: one literal, then copies of the byte before.
    pub fn zeros(&mut self, length: usize) {
        if length < 4 {
            return self.literals(&[0; 3][..length]);
        }
        self.literals(&[0]);
        let mut left = length - 1;
        while left > 0 {
            let copy = if left > 258 && left < 261 { left - 3 } else { left.min(258) };
            self.copy_previous(copy);
            left -= copy;
        }
        // Zeros leave the first sum alone and add it to the second once each.
        self.b = (self.b + (length as u64 - 1) * self.a) % BASE;
    }

    /// A match of `length` (3 to 258) at distance 1.
    fn copy_previous(&mut self, length: usize) {
        const BASES: [usize; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
            227, 258,
        ];
        let index = BASES.iter().rposition(|&base| base <= length).expect("length of 3 or more");
        let symbol = 257 + index as u32;
        match symbol {
            ..=279 => self.code(symbol - 256, 7),
            _ => self.code(0xC0 + symbol - 280, 8),
        }
        let extra = match index {
            0..8 | 28 => 0,
            _ => (index as u32 - 4) / 4,
        };
        self.bits((length - BASES[index]) as u64, extra);
        self.code(0, 5); // distance 1
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, length: u32) {
        self.bits(u64::from(code.reverse_bits() >> (32 - length)), length);
    }

    fn bits(&mut self, value: u64, length: u32) {
        self.pending |= value << self.count;
        self.count += length;
        while self.count >= 8 {
            self.out.push(self.pending as u8);
            self.pending >>= 8;
            self.count -= 8;
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.code(0, 7); // end of block
        if self.count > 0 {
            self.bits(0, 8 - self.count);
        }
        let adler = (self.b << 16 | self.a) as u32;
        self.out.extend(adler.to_be_bytes());
        self.out
    }
}
