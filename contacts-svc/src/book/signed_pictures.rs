//! Signed picture URLs kept between reads, so a page of pictures costs no
//! call to media-svc while the URLs it signed last stay good.
//!
//! Safe because media-svc's signing is deterministic per time bucket: it
//! would answer the same URLs again. An entry is used only while its URLs
//! have at least half the TTL left, which is what a read promises
//! (`ProfilePicture.url_expire_time`); after that media-svc signs in a later
//! bucket. A release this replica delivers drops the image's entry; on
//! other replicas an entry only serves contacts that still wear the image
//! (reads sign only worn pictures), and stable URLs never read this cache.

use std::time::{Duration, SystemTime};

use accommador_proto::tenant::TenantId;

use crate::domain::Picture;

pub(crate) struct SignedPictures {
    /// `None` when PICTURE_URL_CACHE_ENTRIES is 0.
    entries: Option<quick_cache::sync::Cache<(TenantId, String), Picture>>,
    /// Half the signing TTL: what a returned URL must still have.
    min_left: Duration,
}

impl SignedPictures {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self { entries: (capacity > 0).then(|| quick_cache::sync::Cache::new(capacity)), min_left: ttl / 2 }
    }

    /// The picture's signed URLs, when kept and still good for half the TTL.
    pub(crate) fn get(&self, tenant: &TenantId, image_id: &str) -> Option<Picture> {
        let entries = self.entries.as_ref()?;
        let picture = entries.get(&(tenant.clone(), image_id.to_owned()))?;
        let left = picture.url_expire_time?.duration_since(SystemTime::now()).unwrap_or_default();
        (left >= self.min_left).then_some(picture)
    }

    pub(crate) fn keep(&self, tenant: &TenantId, picture: &Picture) {
        if let Some(entries) = &self.entries
            && !picture.renditions.is_empty()
        {
            entries.insert((tenant.clone(), picture.image_id.clone()), picture.clone());
        }
    }

    /// Called when a release of the image was delivered: it may be deleted.
    pub(crate) fn forget(&self, tenant: &TenantId, image_id: &str) {
        if let Some(entries) = &self.entries {
            entries.remove(&(tenant.clone(), image_id.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Rendition;

    fn signed(image_id: &str, left: Duration) -> Picture {
        let rendition = Rendition {
            size: 128,
            width: 128,
            height: 128,
            content_type: "image/jpeg".into(),
            url: format!("https://s3/{image_id}"),
            stable_url: String::new(),
        };
        Picture {
            image_id: image_id.into(),
            renditions: vec![rendition],
            url_expire_time: Some(SystemTime::now() + left),
            ..Default::default()
        }
    }

    #[test]
    fn a_picture_is_kept_while_half_its_ttl_is_left_and_per_tenant() {
        let (acme, globex) = (TenantId::parse("acme").unwrap(), TenantId::parse("globex").unwrap());
        let cache = SignedPictures::new(10, Duration::from_secs(3600));
        cache.keep(&acme, &signed("fresh", Duration::from_secs(3000)));
        cache.keep(&acme, &signed("stale", Duration::from_secs(1000)));
        assert!(cache.get(&acme, "fresh").is_some());
        assert!(cache.get(&acme, "stale").is_none(), "under half the TTL left: signed again");
        assert!(cache.get(&globex, "fresh").is_none(), "another tenant's");
        cache.forget(&acme, "fresh");
        assert!(cache.get(&acme, "fresh").is_none(), "released");
        cache.keep(&acme, &Picture::unsigned("unsigned".into()));
        assert!(cache.get(&acme, "unsigned").is_none(), "a picture without URLs is not kept");
    }

    #[test]
    fn the_cache_is_bounded_and_can_be_turned_off() {
        let acme = TenantId::parse("acme").unwrap();
        let cache = SignedPictures::new(100, Duration::from_secs(3600));
        for n in 0..10_000 {
            cache.keep(&acme, &signed(&format!("img-{n}"), Duration::from_secs(3000)));
        }
        let kept = (0..10_000).filter(|n| cache.get(&acme, &format!("img-{n}")).is_some()).count();
        assert!(kept <= 110, "{kept} kept");
        let off = SignedPictures::new(0, Duration::from_secs(3600));
        off.keep(&acme, &signed("img", Duration::from_secs(3000)));
        assert!(off.get(&acme, "img").is_none());
    }
}
