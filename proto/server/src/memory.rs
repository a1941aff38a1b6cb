//! Allocator tuning for both servers: blocks of a few MiB and more (request
//! messages, decoded images) go back to the kernel as soon as they are freed.
//!
//! contacts-svc receives request messages of up to MAX_REQUEST_MESSAGE_BYTES
//! (16 MiB): tonic assembles each in a buffer and prost copies the picture
//! out of it, two such blocks per call, which must not outlive it for
//! MAX_INFLIGHT_REQUEST_BYTES to bound memory. Without this setting glibc
//! raised its threshold after the first such block was freed and kept the
//! next ones in its arenas: a flood of 16 messages at the limit grew
//! contacts-svc by 170 MiB against a 64 MiB budget (`tests/tests/e2e/pictures.rs`).
//!
//! In media-svc:
//! Each image may add its memory budget (`pipeline::budget`) to media-svc,
//! and media-svc must stay within its baseline plus one budget per worker.
//! That holds only if what one image freed is not kept on the side. glibc
//! keeps freed heap blocks in the malloc arena of the thread that freed
//! them, and images run on tokio's blocking threads, which are not the
//! workers and come and go: each got its own arena (up to 8 per CPU), and
//! the blocks kept in all of them added up. With blocks of up to 32 MiB
//! kept (this module's former setting), the hostile-image test measured
//! 301 MiB at its peak over a 31 MiB baseline with two workers; with every
//! block over 4 MiB mapped and unmapped on its own, 124 MiB.
//!
//! The cost is page faults when an image touches fresh memory, about 1 ms
//! of system time per 3 MB: 23 ms for the 73 MB coefficient buffer of a
//! 12-megapixel progressive 4:4:4 JPEG, 3 ms for a 2-megapixel PNG, and
//! nothing for a baseline JPEG of up to 12 megapixels, whose decoded frame
//! (2.3 MB at the 1/4 scale its renditions need) stays under the threshold.
//! A fixed threshold also stops glibc from raising it by itself (up to
//! 32 MiB) after the first large block is freed.

/// Smallest allocation that glibc serves with its own `mmap` (and returns
/// with `munmap` when freed) instead of from an arena.
const MMAP_THRESHOLD_BYTES: i32 = 4 << 20;

/// Sets the allocator up as described above. Call first thing in `main`,
/// before any other thread exists.
pub fn release_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes allocator parameters; it is called before
    // any other thread runs, and the value is in glibc's documented range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}
