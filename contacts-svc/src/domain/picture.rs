//! A contact's picture as callers see it: its image id and the signed URLs
//! of its renditions; and the size a new picture may have. media-svc's own
//! message types stop at the media client.

use std::time::SystemTime;

use accommador_proto::status::picture_too_large;

/// The largest picture a contact may be given (MAX_PICTURE_BYTES, kept equal
/// to media-svc's image limit). Checked here, before the bytes travel on:
/// a phone photo of several megabytes is refused at once, by its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureLimit {
    pub max_bytes: usize,
}

impl PictureLimit {
    /// The picture's bytes, when there are no more than the limit.
    pub fn check(self, picture: &[u8]) -> Result<(), PictureTooLarge> {
        if picture.len() > self.max_bytes {
            return Err(PictureTooLarge { size: picture.len(), limit: self.max_bytes });
        }
        Ok(())
    }
}

/// A picture over [`PictureLimit`]: its size and the limit, both in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureTooLarge {
    pub size: usize,
    pub limit: usize,
}

impl std::fmt::Display for PictureTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&picture_too_large(self.size, self.limit))
    }
}

impl std::error::Error for PictureTooLarge {}

/// A picture with the URLs it could be signed with; without renditions when
/// media-svc could not sign it (the contact still comes back).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picture {
    pub image_id: String,
    pub renditions: Vec<Rendition>,
    /// When the URLs stop working; `None` when there are none.
    pub url_expire_time: Option<SystemTime>,
    /// A ThumbHash of the picture, as media-svc stored it at upload (empty
    /// for pictures stored before it computed one).
    pub thumbhash: Vec<u8>,
    /// `#rrggbb`, as media-svc stored it at upload (or empty).
    pub dominant_color: String,
}

impl Picture {
    /// A picture known only by its id: no URLs.
    pub fn unsigned(image_id: String) -> Self {
        Self { image_id, ..Default::default() }
    }
}

/// One size of a picture, with its signed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The longer side, in pixels, that was asked for.
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub content_type: String,
    pub url: String,
    /// The URL that never expires (`book::stable_urls`).
    pub stable_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_may_be_exactly_as_large_as_the_limit_and_no_larger() {
        let limit = PictureLimit { max_bytes: 2_621_440 };
        assert_eq!(limit.check(&vec![0; 2_621_440]), Ok(()));
        let refused = limit.check(&vec![0; 4_404_019]).unwrap_err();
        assert_eq!(refused, PictureTooLarge { size: 4_404_019, limit: 2_621_440 });
        assert_eq!(refused.to_string(), "the picture is 4.2 MiB (4404019 bytes); the limit is 2.5 MiB (2621440 bytes)");
    }
}
