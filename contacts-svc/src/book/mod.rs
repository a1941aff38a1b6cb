//! The contact book: the use cases of contacts-svc, over the store and
//! media-svc. Transport-agnostic: the gRPC layer only converts.
//!
//! - [`create`], [`read`], [`list`], [`merge`], [`replace`], [`takedown`], [`unmerge`], [`erase`], [`duplicates`], [`events`]: one use case
//!   (or a family of reads) per file;
//! - [`idempotency`]: request ids (AIP-155), recorded and replayed;
//! - [`page_token`]: the Smart List's signed, opaque page tokens;
//! - [`outbox`]: the worker that delivers picture claims to media-svc;
//! - [`reconcile`]: the periodic check that every live picture is claimed.

use std::time::{SystemTime, UNIX_EPOCH};

mod create;
mod duplicates;
mod erase;
mod events;
mod idempotency;
mod list;
mod merge;
mod outbox;
mod page_token;
mod read;
mod reconcile;
mod replace;
mod signed_pictures;
mod stable_picture;
mod stable_urls;
mod takedown;
mod unmerge;

pub(crate) use events::{DEFAULT_EVENT_PAGE, MAX_EVENT_PAGE, cursor as event_cursor};
pub(crate) use idempotency::Idempotency;
pub use outbox::OutboxSettings;
pub use reconcile::{ReconcileReport, UnrepairablePicture};
pub(crate) use replace::EMPTY_PICTURE;
pub use stable_picture::{PictureRedirect, PictureUrlSettings};
pub use stable_urls::{PATH_PREFIX as STABLE_URL_PATH_PREFIX, StablePicture, UrlKey};
pub(crate) use takedown::MAX_REASON_LEN;

use self::{page_token::PageTokens, signed_pictures::SignedPictures, stable_urls::StableUrls};
use crate::{
    context::RequestContext,
    domain::{Contact, PhoneNormalizer, Picture, PictureLimit},
    error::Error,
    media::MediaClient,
    store::Store,
};

/// Smart List page sizes.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 50;
pub(crate) const MAX_PAGE_SIZE: usize = 200;
/// Most ids one BatchGetContacts call may carry (AIP-231).
pub(crate) const MAX_BATCH_IDS: usize = 100;
/// Most duplicates returned.
pub(crate) const MAX_DUPLICATES: u64 = 50;
/// Longest ListContacts query, in characters.
pub(crate) const MAX_QUERY_LEN: usize = 200;

/// A contact with its picture's signed URLs, when they could be had.
#[derive(Debug, Clone)]
pub(crate) struct ContactView {
    pub(crate) contact: Contact,
    pub(crate) picture: Option<Picture>,
}

pub struct ContactBook {
    /// Where contacts live; every use case goes through it, and readiness
    /// is whether it answers.
    store: Store,
    /// media-svc: uploads at create, claims from the outbox and the
    /// reconciliation, URL signing on every read.
    media: MediaClient,
    /// Normalizes phone numbers written without a country code, in the
    /// deployment's default region (DEFAULT_PHONE_REGION).
    phones: PhoneNormalizer,
    /// The largest picture CreateContact and ReplaceProfilePicture take
    /// (MAX_PICTURE_BYTES).
    pictures: PictureLimit,
    /// How the claim outbox paces and retries its deliveries: kept here
    /// because the worker runs on the book, beside the writes that fill it.
    outbox: OutboxSettings,
    /// Signs and checks the Smart List's page tokens with the key all
    /// replicas share, so any replica continues a listing another began.
    page_tokens: PageTokens,
    /// How long contact events are kept (EVENTS_RETENTION): named in the
    /// error of a cursor older than that.
    event_retention: std::time::Duration,
    /// Woken after every write through this replica commits: event streams
    /// wait on it rather than polling for their own replica's writes.
    event_signal: std::sync::Arc<tokio::sync::Notify>,
    /// Issues the pictures' URLs that never expire, and checks them when
    /// they come back.
    stable_urls: StableUrls,
    /// Signed URLs kept between reads while they are good for half the TTL.
    signed_pictures: SignedPictures,
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as i64
}

impl ContactBook {
    /// The use cases over `store`; reads (or makes, on a new database) the
    /// keys that sign page tokens and stable picture URLs.
    pub async fn new(
        store: Store,
        media: MediaClient,
        phones: PhoneNormalizer,
        pictures: PictureLimit,
        outbox: OutboxSettings,
        event_retention: std::time::Duration,
        stable: PictureUrlSettings,
    ) -> Result<Self, Error> {
        let key = store.server_key(page_token::KEY_NAME, PageTokens::fresh_key()).await?;
        let page_tokens = PageTokens::new(key);
        let stored_url_key = store.server_key(stable_urls::STORED_KEY_NAME, PageTokens::fresh_key()).await?;
        let signed_pictures = SignedPictures::new(stable.signed_cache_entries, stable.ttl);
        let stable_urls = StableUrls::new(&stable.public_url, stable.keys, stored_url_key);
        let event_signal = std::sync::Arc::default();
        Ok(Self {
            store,
            media,
            phones,
            pictures,
            outbox,
            page_tokens,
            event_retention,
            event_signal,
            stable_urls,
            signed_pictures,
        })
    }

    /// The store, for the event relay (`crate::relay`), which reads the log
    /// and records its progress there.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Whether the book can serve: its database answers. media-svc is left
    /// out on purpose: reads still answer without picture URLs while it is down.
    pub async fn ready(&self) -> Result<(), Error> {
        self.store.ping().await
    }

    /// Signs every picture of `contacts` not kept signed already in ONE
    /// media-svc call. When that fails the contacts still come back, with
    /// image ids but no URLs.
    async fn with_pictures(&self, context: &RequestContext, contacts: Vec<Contact>) -> Vec<ContactView> {
        let mut signed = std::collections::HashMap::new();
        let mut unsigned = Vec::new();
        for image_id in contacts.iter().filter_map(|c| c.fields.image_id.as_ref()) {
            match self.signed_pictures.get(&context.tenant, image_id) {
                Some(picture) => drop(signed.insert(image_id.clone(), picture)),
                None => unsigned.push(image_id.clone()),
            }
        }
        if !unsigned.is_empty() {
            match self.media.sign(context, unsigned).await {
                Ok(fresh) => {
                    for (image_id, picture) in fresh {
                        self.signed_pictures.keep(&context.tenant, &picture);
                        signed.insert(image_id, picture);
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot sign picture URLs; answering without them"),
            }
        }
        contacts
            .into_iter()
            .map(|contact| {
                let picture = contact.fields.image_id.as_ref().map(|id| match signed.get(id) {
                    Some(signed) => self.with_stable_urls(&context.tenant, signed.clone()),
                    None => Picture::unsigned(id.clone()),
                });
                ContactView { contact, picture }
            })
            .collect()
    }

    /// [`ContactBook::with_pictures`] for one contact.
    async fn with_picture(&self, context: &RequestContext, contact: Contact) -> ContactView {
        self.with_pictures(context, vec![contact]).await.remove(0)
    }
}
