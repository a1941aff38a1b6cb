//! The few TurboJPEG calls the `turbojpeg` crate does not offer, behind a
//! safe interface: decoding 12- and 16-bit samples (`tj3Decompress12/16`)
//! and libjpeg's own memory limit (`TJPARAM_MAXMEMORY`), which need the
//! handle that crate keeps private. The C library is the one the crate
//! builds (libjpeg-turbo 3.1, vendored by turbojpeg-sys).
#![allow(unsafe_code)]

use std::{ffi::CStr, ptr::NonNull};

use turbojpeg::{libc, raw};

/// A TurboJPEG decompression instance.
pub struct Decompressor {
    handle: NonNull<libc::c_void>,
    /// The scaling factor's numerator over 8, as last set.
    scale: u8,
}

/// What `tj3DecompressHeader` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub width: usize,
    pub height: usize,
    /// Bits per sample.
    pub precision: u8,
}

/// The layout of decoded pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Gray,
    Rgb,
    Cmyk,
}

impl PixelFormat {
    pub fn channels(self) -> usize {
        match self {
            Self::Gray => 1,
            Self::Rgb => 3,
            Self::Cmyk => 4,
        }
    }

    fn raw(self) -> libc::c_int {
        (match self {
            Self::Gray => raw::TJPF_TJPF_GRAY,
            Self::Rgb => raw::TJPF_TJPF_RGB,
            Self::Cmyk => raw::TJPF_TJPF_CMYK,
        }) as libc::c_int
    }
}

/// A TurboJPEG error or warning (libjpeg's warnings about corrupt data
/// make a decode fail too), with libjpeg's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl Decompressor {
    pub fn new() -> Result<Self, Error> {
        // SAFETY: tj3Init has no preconditions; it returns NULL on failure.
        let handle = unsafe { raw::tj3Init(raw::TJINIT_TJINIT_DECOMPRESS as libc::c_int) };
        NonNull::new(handle)
            .map(|handle| Self { handle, scale: 8 })
            .ok_or_else(|| Error("TurboJPEG could not create a decompressor".into()))
    }

    /// Stop decoding after `scans` scans (`TJPARAM_SCANLIMIT`).
    pub fn set_scan_limit(&mut self, scans: u32) -> Result<(), Error> {
        self.set(raw::TJPARAM_TJPARAM_SCANLIMIT, scans)
    }

    /// Fail instead of allocating more than `mebibytes` for libjpeg's
    /// whole-image buffers (`TJPARAM_MAXMEMORY`).
    pub fn set_memory_limit(&mut self, mebibytes: u32) -> Result<(), Error> {
        self.set(raw::TJPARAM_TJPARAM_MAXMEMORY, mebibytes)
    }

    /// Fail on images with more than `pixels` pixels (`TJPARAM_MAXPIXELS`).
    pub fn set_pixel_limit(&mut self, pixels: u32) -> Result<(), Error> {
        self.set(raw::TJPARAM_TJPARAM_MAXPIXELS, pixels)
    }

    /// Decode at `num / 8` of the size (libjpeg scales by eighths).
    pub fn set_scale_eighths(&mut self, num: u8) -> Result<(), Error> {
        // TurboJPEG takes its factors in lowest terms (4/8 as 1/2).
        let common = [8, 4, 2, 1].into_iter().find(|&d| num.is_multiple_of(d)).unwrap_or(1);
        let factor =
            raw::tjscalingfactor { num: libc::c_int::from(num / common), denom: libc::c_int::from(8 / common) };
        // SAFETY: the handle is live; the factor is passed by value.
        let status = unsafe { raw::tj3SetScalingFactor(self.handle.as_ptr(), factor) };
        self.check(status)?;
        self.scale = num;
        Ok(())
    }

    fn set(&mut self, parameter: raw::TJPARAM, value: u32) -> Result<(), Error> {
        let value = libc::c_int::try_from(value).map_err(|_| Error(format!("{value} is out of range")))?;
        // SAFETY: the handle is live; tj3Set validates the parameter and value.
        let status = unsafe { raw::tj3Set(self.handle.as_ptr(), parameter as libc::c_int, value) };
        self.check(status)
    }

    fn get(&mut self, parameter: raw::TJPARAM) -> libc::c_int {
        // SAFETY: the handle is live; unknown parameters return -1.
        unsafe { raw::tj3Get(self.handle.as_ptr(), parameter as libc::c_int) }
    }

    pub fn read_header(&mut self, jpeg: &[u8]) -> Result<Header, Error> {
        // SAFETY: the handle is live; libjpeg reads at most `jpeg.len()` bytes.
        let status =
            unsafe { raw::tj3DecompressHeader(self.handle.as_ptr(), jpeg.as_ptr(), jpeg.len() as raw::size_t) };
        self.check(status)?;
        let dimension = |value: libc::c_int| usize::try_from(value).map_err(|_| Error("no dimensions".into()));
        Ok(Header {
            width: dimension(self.get(raw::TJPARAM_TJPARAM_JPEGWIDTH))?,
            height: dimension(self.get(raw::TJPARAM_TJPARAM_JPEGHEIGHT))?,
            precision: u8::try_from(self.get(raw::TJPARAM_TJPARAM_PRECISION)).unwrap_or(0),
        })
    }

    /// Decodes 8-bit samples into `output`, `width` x `height` pixels of
    /// `format` without padding: the dimensions [`Decompressor::read_header`]
    /// gives, scaled as set.
    pub fn decompress8(
        &mut self,
        jpeg: &[u8],
        output: &mut [u8],
        width: usize,
        height: usize,
        format: PixelFormat,
    ) -> Result<(), Error> {
        let pitch = self.checked_pitch(jpeg, output.len(), width, height, format)?;
        // SAFETY: the handle is live; `checked_pitch` proved that `output`
        // holds the `height` rows of `pitch` samples libjpeg will write.
        let status = unsafe {
            raw::tj3Decompress8(
                self.handle.as_ptr(),
                jpeg.as_ptr(),
                jpeg.len() as raw::size_t,
                output.as_mut_ptr(),
                pitch,
                format.raw(),
            )
        };
        self.check(status)
    }

    /// Like [`Decompressor::decompress8`], for 9- to 12-bit samples.
    pub fn decompress12(
        &mut self,
        jpeg: &[u8],
        output: &mut [i16],
        width: usize,
        height: usize,
        format: PixelFormat,
    ) -> Result<(), Error> {
        let pitch = self.checked_pitch(jpeg, output.len(), width, height, format)?;
        // SAFETY: as in decompress8, with 16-bit storage for each sample.
        let status = unsafe {
            raw::tj3Decompress12(
                self.handle.as_ptr(),
                jpeg.as_ptr(),
                jpeg.len() as raw::size_t,
                output.as_mut_ptr(),
                pitch,
                format.raw(),
            )
        };
        self.check(status)
    }

    /// Like [`Decompressor::decompress8`], for 13- to 16-bit samples
    /// (lossless JPEG only).
    pub fn decompress16(
        &mut self,
        jpeg: &[u8],
        output: &mut [u16],
        width: usize,
        height: usize,
        format: PixelFormat,
    ) -> Result<(), Error> {
        let pitch = self.checked_pitch(jpeg, output.len(), width, height, format)?;
        // SAFETY: as in decompress8, with 16-bit storage for each sample.
        let status = unsafe {
            raw::tj3Decompress16(
                self.handle.as_ptr(),
                jpeg.as_ptr(),
                jpeg.len() as raw::size_t,
                output.as_mut_ptr(),
                pitch,
                format.raw(),
            )
        };
        self.check(status)
    }

    /// The row pitch in samples, once the output is known to hold what
    /// libjpeg will write: it re-reads the header from `jpeg` and writes
    /// `scaled height` rows of `scaled width` pixels, so those must be the
    /// caller's `height` and `width` (or less), and `output` must hold them.
    fn checked_pitch(
        &mut self,
        jpeg: &[u8],
        samples: usize,
        width: usize,
        height: usize,
        format: PixelFormat,
    ) -> Result<libc::c_int, Error> {
        let header = self.read_header(jpeg)?;
        // As libjpeg's jpeg_calc_output_dimensions: scaled sizes round up.
        let scaled = |side: usize| (side * usize::from(self.scale)).div_ceil(8);
        let pitch = width.checked_mul(format.channels()).ok_or_else(|| Error("output too large".into()))?;
        let fits = scaled(header.width) <= width
            && scaled(header.height) <= height
            && pitch.checked_mul(height).is_some_and(|needed| needed <= samples);
        if !fits {
            return Err(Error(format!(
                "the output holds {width}x{height} pixels, the image decodes to {}x{}",
                scaled(header.width),
                scaled(header.height)
            )));
        }
        libc::c_int::try_from(pitch).map_err(|_| Error("output too large".into()))
    }

    fn check(&mut self, status: libc::c_int) -> Result<(), Error> {
        if status == 0 {
            return Ok(());
        }
        // SAFETY: the handle is live; the message is a NUL-terminated string
        // owned by the instance, copied before any other call.
        let message = unsafe { CStr::from_ptr(raw::tj3GetErrorStr(self.handle.as_ptr())) };
        Err(Error(message.to_string_lossy().into_owned()))
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once.
        unsafe { raw::tj3Destroy(self.handle.as_ptr()) }
    }
}
