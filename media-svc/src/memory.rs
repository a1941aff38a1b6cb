//! Allocator tuning for the image pipeline.
//!
//! Decoding a progressive 12 MP JPEG needs its whole coefficient buffer,
//! about 36 MB allocated by libjpeg-turbo through `malloc` and freed when the
//! image is done. With glibc's defaults those blocks are `mmap`ed and
//! returned to the kernel after every image, so the next image page-faults
//! 36 MB of zeroed pages back in: measured at 40 ms of system time per
//! image, more than the decode itself. Keeping freed blocks up to 32 MB in
//! the heap (and not trimming the heap below 128 MB of free space) makes
//! the pages stay mapped and reused.
//!
//! The cost is resident memory that is not given back between uploads:
//! about one decode's worth per worker thread (see `MEDIA_WORKERS`).

/// Largest allocation that glibc serves from the heap instead of `mmap`
/// (glibc caps this at 32 MiB on 64-bit targets).
const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// Free memory at the top of a heap that glibc keeps instead of returning.
const TRIM_THRESHOLD_BYTES: i32 = 128 << 20;

/// Call first thing in `main`, before any other thread exists.
pub fn retain_decode_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes allocator parameters; it is called before
    // any other thread runs, and both values are in glibc's documented range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
    }
}
