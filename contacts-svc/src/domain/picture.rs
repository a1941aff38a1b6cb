//! A contact's picture as callers see it: its image id and the signed URLs
//! of its renditions. media-svc's own message types stop at the media client.

use std::time::SystemTime;

/// A picture with the URLs it could be signed with; without renditions when
/// media-svc could not sign it (the contact still comes back).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picture {
    pub image_id: String,
    pub renditions: Vec<Rendition>,
    /// When the URLs stop working; `None` when there are none.
    pub url_expire_time: Option<SystemTime>,
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
}
