//! Pictures and tenants shared by the suites.

use accommador_proto::tenant::TenantId;
use media_svc::samples::{self, JpegOptions};

pub fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

/// A small plain JPEG: for tests about the bucket, not the pixels.
pub fn photo(seed: u32) -> Vec<u8> {
    samples::jpeg(&samples::photo(200, 200, seed), JpegOptions::default())
}

/// A phone's picture: rotated by EXIF and carrying GPS, which the stored
/// renditions must not.
pub fn phone_photo(seed: u32) -> Vec<u8> {
    let options = JpegOptions { exif_orientation: Some(6), gps: true, ..JpegOptions::default() };
    samples::jpeg(&samples::photo(900, 700, seed), options)
}
