//! Conversions between protobuf messages and media-svc's domain types: the
//! only place that knows both.

use std::time::{Duration, SystemTime};

use accommador_proto::{accommador::media::v1 as pb, status::Violations};

use crate::{
    error::Error,
    images::{
        ImageId, MissingIds, ReleaseOutcome, Released, RenditionEntry, SignedBatch, SignedImage, StoredImage, UrlTtl,
    },
    pipeline::{Format, ImageInfo, Preview},
};

/// Most ids one SignImageUrls call may carry.
pub const MAX_SIGN_IDS: usize = 1000;

/// Longest request id accepted by UploadImage.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Longest owner accepted by ClaimImage and ReleaseImage.
pub const MAX_OWNER_LEN: usize = 128;

pub fn image_info(info: &ImageInfo) -> pb::ImageInfo {
    pb::ImageInfo {
        format: match info.format {
            Format::Jpeg => pb::ImageFormat::Jpeg,
            Format::Png => pb::ImageFormat::Png,
        }
        .into(),
        width: info.width,
        height: info.height,
        size_bytes: info.size_bytes,
        has_alpha: info.has_alpha,
        exif_orientation: u32::from(info.orientation.to_exif()),
    }
}

fn rendition(entry: &RenditionEntry, url: String) -> pb::Rendition {
    pb::Rendition {
        size: entry.size,
        width: entry.width,
        height: entry.height,
        content_type: entry.format.content_type().to_owned(),
        url,
    }
}

pub fn image(stored: &StoredImage) -> pb::Image {
    pb::Image {
        image_id: stored.id.to_string(),
        info: Some(image_info(&stored.manifest.info)),
        renditions: stored.manifest.renditions.iter().map(|entry| rendition(entry, String::new())).collect(),
        pending_expire_time: stored.pending_expires_at.map(timestamp),
        claimed: stored.claimed,
        owner_claim_created: stored.owner_claim_created,
        lease_expire_time: stored.lease_expires_at.map(timestamp),
        thumbhash: thumbhash(stored.manifest.preview.as_ref()),
        dominant_color: dominant_color(stored.manifest.preview.as_ref()),
    }
}

/// Empty for an image stored before previews existed, as the proto says.
fn thumbhash(preview: Option<&Preview>) -> Vec<u8> {
    preview.map(|preview| preview.thumbhash.clone()).unwrap_or_default()
}

/// `#rrggbb`, or empty for an image stored before previews existed.
fn dominant_color(preview: Option<&Preview>) -> String {
    preview.map(|preview| preview.dominant_color.to_string()).unwrap_or_default()
}

pub fn release_response(released: &Released) -> pb::ReleaseImageResponse {
    let (image_deleted, claimed, pending_expire_time) = match released.outcome {
        ReleaseOutcome::Deleted => (true, false, None),
        ReleaseOutcome::Claimed => (false, true, None),
        ReleaseOutcome::Pending { expires_at } => (false, false, Some(timestamp(expires_at))),
    };
    pb::ReleaseImageResponse {
        owner_claim_removed: released.owner_claim_removed,
        image_deleted,
        claimed,
        pending_expire_time,
    }
}

pub fn sign_response(batch: SignedBatch) -> pb::SignImageUrlsResponse {
    pb::SignImageUrlsResponse {
        images: batch.images.into_iter().map(signed_image).collect(),
        missing_image_ids: batch.missing.iter().map(ToString::to_string).collect(),
    }
}

fn signed_image(signed: SignedImage) -> pb::SignedImage {
    pb::SignedImage {
        image_id: signed.id.to_string(),
        renditions: signed.renditions.into_iter().map(|r| rendition(&r.rendition, r.url)).collect(),
        expire_time: Some(timestamp(signed.expires_at)),
        thumbhash: thumbhash(signed.preview.as_ref()),
        dominant_color: dominant_color(signed.preview.as_ref()),
    }
}

pub fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    time.into()
}

pub fn image_id(field: &str, raw: &str) -> Result<ImageId, Error> {
    ImageId::parse(raw).map_err(|problem| Error::invalid_field(field, problem))
}

/// The ids, TTL and missing-id policy of a SignImageUrls request, with every
/// violation reported at once.
pub fn sign_request(request: &pb::SignImageUrlsRequest) -> Result<(Vec<ImageId>, UrlTtl, MissingIds), Error> {
    let mut violations = Violations::new();
    if request.image_ids.len() > MAX_SIGN_IDS {
        // Counted before the ids are checked one by one: the error lists at most the limit's worth.
        let problem = format!("{} ids; the limit is {MAX_SIGN_IDS} per call", request.image_ids.len());
        return Err(Error::invalid_field("image_ids", problem));
    }
    let mut ids = Vec::with_capacity(request.image_ids.len());
    for (index, raw) in request.image_ids.iter().enumerate() {
        match ImageId::parse(raw) {
            Ok(id) => ids.push(id),
            Err(problem) => violations.add(format!("image_ids[{index}]"), problem),
        }
    }
    let ttl = match &request.ttl {
        None => Ok(UrlTtl::default()),
        Some(ttl) if ttl.seconds < 0 || ttl.nanos < 0 => Err("ttl is negative".to_owned()),
        Some(ttl) => UrlTtl::parse(Duration::new(ttl.seconds as u64, ttl.nanos as u32)),
    };
    match ttl {
        Ok(ttl) => violations.into_result((ids, ttl, missing_ids(request.skip_missing))).map_err(Error::InvalidFields),
        Err(problem) => {
            violations.add("ttl", problem);
            Err(Error::InvalidFields(violations))
        }
    }
}

fn missing_ids(skip_missing: bool) -> MissingIds {
    if skip_missing { MissingIds::Skip } else { MissingIds::Fail }
}

pub fn owner(raw: &str) -> Result<&str, Error> {
    if raw.is_empty() || raw.chars().count() > MAX_OWNER_LEN {
        return Err(Error::invalid_field(
            "owner",
            format!("owner is {} characters; it must be 1 to {MAX_OWNER_LEN}", raw.chars().count()),
        ));
    }
    Ok(raw)
}

/// UploadImage's optional request id: only for tracing, but bounded like every field.
pub fn request_id(raw: &str) -> Result<(), Error> {
    let length = raw.chars().count();
    if length > MAX_REQUEST_ID_LEN {
        return Err(Error::invalid_field(
            "request_id",
            format!("request_id is {length} characters; the limit is {MAX_REQUEST_ID_LEN}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        images::Manifest,
        pipeline::{Orientation, Rgb},
    };

    fn stored(preview: Option<Preview>) -> StoredImage {
        let info = ImageInfo {
            format: Format::Jpeg,
            width: 64,
            height: 64,
            size_bytes: 1000,
            has_alpha: false,
            orientation: Orientation::NoTransforms,
        };
        StoredImage {
            id: ImageId::parse(&"ab".repeat(32)).unwrap(),
            manifest: Arc::new(Manifest { info, renditions: Vec::new(), preview }),
            pending_expires_at: None,
            lease_expires_at: None,
            claimed: true,
            owner_claim_created: false,
        }
    }

    #[test]
    fn images_and_signed_images_carry_the_stored_preview_and_old_images_empty_fields() {
        let preview = Preview { thumbhash: vec![0x1f, 0x08, 0xa0], dominant_color: Rgb([13, 200, 77]) };
        for (preview, thumbhash, colour) in [(Some(preview), vec![0x1f, 0x08, 0xa0], "#0dc84d"), (None, Vec::new(), "")]
        {
            let stored = stored(preview);
            let answered = image(&stored);
            assert_eq!((&answered.thumbhash, answered.dominant_color.as_str()), (&thumbhash, colour));
            let signed = signed_image(SignedImage {
                id: stored.id.clone(),
                renditions: Vec::new(),
                expires_at: SystemTime::UNIX_EPOCH,
                preview: stored.manifest.preview.clone(),
            });
            assert_eq!((&signed.thumbhash, signed.dominant_color.as_str()), (&thumbhash, colour));
        }
    }
}
