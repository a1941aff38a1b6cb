//! The contact book: the use cases of contacts-svc, over the store and
//! media-svc. Transport-agnostic: the gRPC layer only converts.

use std::time::{SystemTime, UNIX_EPOCH};

use accommador_proto::accommador::media::v1::SignedImage;

mod outbox;
mod page_token;
mod reconcile;

pub use outbox::OutboxSettings;
pub use reconcile::{ReconcileReport, UnrepairablePicture};

use self::page_token::PageTokens;
use crate::{
    domain::{self, Contact, ContactDraft, ContactId, MatchReason, MergeField, PhoneNormalizer},
    error::Error,
    media::{CallContext, MediaClient},
    store::{CreateOutcome, ListCursor, MergeOutcome, MergeRequest, RequestRecord, Store},
};

/// Smart List page sizes.
pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 200;
/// Most ids one BatchGetContacts call may carry (AIP-231).
pub const MAX_BATCH_IDS: usize = 100;
/// Most duplicates returned.
pub const MAX_DUPLICATES: u64 = 50;
/// Longest ListContacts query, in characters.
pub const MAX_QUERY_LEN: usize = 200;

/// A contact with its picture's signed URLs, when they could be had.
#[derive(Debug, Clone)]
pub struct ContactView {
    pub contact: Contact,
    pub picture: Option<SignedImage>,
}

/// A write's idempotency key and the fingerprint of its request.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub request_id: String,
    pub fingerprint: String,
}

pub struct ContactBook {
    /// Where contacts live; every use case goes through it.
    store: Store,
    /// media-svc: uploads, claims and URL signing.
    media: MediaClient,
    /// Normalizes phone numbers written without a country code.
    phones: PhoneNormalizer,
    /// How the claim outbox paces and retries its deliveries.
    outbox: OutboxSettings,
    /// Signs and checks the Smart List's page tokens.
    page_tokens: PageTokens,
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as i64
}

impl ContactBook {
    /// The use cases over `store`; reads (or makes, on a new database) the
    /// key that signs page tokens.
    pub async fn new(
        store: Store,
        media: MediaClient,
        phones: PhoneNormalizer,
        outbox: OutboxSettings,
    ) -> Result<Self, Error> {
        let key = store.server_key(page_token::KEY_NAME, PageTokens::fresh_key()).await?;
        Ok(Self { store, media, phones, outbox, page_tokens: PageTokens::new(key) })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn create(
        &self,
        context: &CallContext,
        draft: ContactDraft,
        picture: Vec<u8>,
        idempotency: Option<Idempotency>,
    ) -> Result<ContactView, Error> {
        let mut fields = draft.parse(&self.phones).map_err(Error::InvalidFields)?;
        if let Some(key) = &idempotency
            && let Some(done) = self.store.find_request(&context.tenant, &key.request_id).await?
        {
            return self.replay(context, key, done, "create").await;
        }
        // Upload first: if media-svc refuses or is down, nothing is created.
        let uploaded = if picture.is_empty() { None } else { Some(self.media.upload(context, picture).await?) };
        fields.image_id = uploaded.as_ref().map(|image| image.image_id.clone());
        let now = now_us();
        let contact = Contact {
            id: ContactId::generate(),
            revision: 1,
            fields,
            create_time_us: now,
            revision_create_time_us: now,
            merged_contact_ids: Vec::new(),
        };
        let record = idempotency.as_ref().map(|key| RequestRecord {
            request_id: key.request_id.clone(),
            operation: "create".into(),
            fingerprint: key.fingerprint.clone(),
            contact_id: contact.id.to_string(),
            revision: 1,
        });
        let deadline = uploaded.as_ref().map(|image| image.claim_deadline_us);
        match self.store.create(&context.tenant, &contact, record, deadline).await? {
            CreateOutcome::Created => {
                tracing::info!(contact_id = %contact.id, picture = uploaded.is_some(), "contact created");
                Ok(self.with_pictures(context, vec![contact]).await.remove(0))
            }
            CreateOutcome::RequestIdTaken(winner) => {
                let key = idempotency.expect("only requests with an id can conflict");
                self.replay(context, &key, winner, "create").await
            }
        }
    }

    /// Answers a retried request with what the first one produced.
    async fn replay(
        &self,
        context: &CallContext,
        key: &Idempotency,
        done: RequestRecord,
        operation: &str,
    ) -> Result<ContactView, Error> {
        if done.operation != operation || done.fingerprint != key.fingerprint {
            return Err(Error::RequestIdReused { request_id: key.request_id.clone() });
        }
        let contact = self
            .store
            .revision(&context.tenant, &done.contact_id, done.revision)
            .await?
            .ok_or_else(|| Error::Internal("a request record points to a missing revision".into()))?;
        Ok(self.with_pictures(context, vec![contact]).await.remove(0))
    }

    /// With `revision` 0 the survivor's latest revision; otherwise exactly that revision of `id`.
    pub async fn get(&self, context: &CallContext, id: &ContactId, revision: i64) -> Result<ContactView, Error> {
        let tenant = &context.tenant;
        let contact = if revision > 0 {
            self.store
                .revision(tenant, id.as_str(), revision)
                .await?
                .ok_or_else(|| Error::RevisionNotFound { id: id.to_string(), revision })?
        } else {
            let mut found = self.latest_of_survivors(tenant, std::slice::from_ref(id)).await?;
            found.remove(0)
        };
        Ok(self.with_pictures(context, vec![contact]).await.remove(0))
    }

    pub async fn batch_get(&self, context: &CallContext, ids: &[ContactId]) -> Result<Vec<ContactView>, Error> {
        let contacts = self.latest_of_survivors(&context.tenant, ids).await?;
        Ok(self.with_pictures(context, contacts).await)
    }

    /// The latest revision of each id's survivor, in order; NOT_FOUND names the first unknown id.
    async fn latest_of_survivors(&self, tenant: &str, ids: &[ContactId]) -> Result<Vec<Contact>, Error> {
        let raw: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let survivors = self.store.resolve(tenant, &raw).await?;
        if let Some(unknown) = raw.iter().find(|id| !survivors.contains_key(*id)) {
            return Err(Error::NotFound { id: unknown.clone() });
        }
        let survivor_ids: Vec<String> = raw.iter().map(|id| survivors[id].clone()).collect();
        let latest = self.store.latest(tenant, &survivor_ids).await?;
        survivor_ids
            .iter()
            .map(|id| latest.get(id).cloned().ok_or_else(|| Error::Internal(format!("contact {id} has no revision"))))
            .collect()
    }

    /// One page of the Smart List and the token of the next (empty at the end).
    pub async fn list(
        &self,
        context: &CallContext,
        page_size: usize,
        page_token: &str,
        query: &str,
    ) -> Result<(Vec<ContactView>, String), Error> {
        let query = query.trim().to_lowercase();
        let cursor = if page_token.is_empty() {
            None
        } else {
            Some(self.page_tokens.open(&context.tenant, &query, page_token)?)
        };
        let mut contacts =
            self.store.list(&context.tenant, Some(query.as_str()), cursor.as_ref(), page_size as u64 + 1).await?;
        let next = if contacts.len() > page_size {
            contacts.truncate(page_size);
            let last = contacts.last().expect("a full page has a last contact");
            let cursor = ListCursor { create_time_us: last.create_time_us, contact_id: last.id.to_string() };
            self.page_tokens.issue(&context.tenant, &query, &cursor)
        } else {
            String::new()
        };
        Ok((self.with_pictures(context, contacts).await, next))
    }

    pub async fn merge(
        &self,
        context: &CallContext,
        primary: &ContactId,
        duplicate: &ContactId,
        take_from_duplicate: Vec<MergeField>,
        idempotency: Option<Idempotency>,
    ) -> Result<ContactView, Error> {
        if primary == duplicate {
            return Err(Error::invalid_field("duplicate_id", "a contact cannot be merged with itself"));
        }
        if let Some(key) = &idempotency
            && let Some(done) = self.store.find_request(&context.tenant, &key.request_id).await?
        {
            return self.replay(context, key, done, "merge").await;
        }
        let request = MergeRequest {
            primary_id: primary.as_str(),
            duplicate_id: duplicate.as_str(),
            request: idempotency.as_ref().map(|key| RequestRecord {
                request_id: key.request_id.clone(),
                operation: "merge".into(),
                fingerprint: key.fingerprint.clone(),
                contact_id: primary.to_string(),
                revision: 0,
            }),
            now_us: now_us(),
            // The picture was claimed for the duplicate already (or is on its way): no deadline to watch.
            claim_deadline_us: i64::MAX,
        };
        let outcome =
            self.store.merge(&context.tenant, request, |p, d| domain::merge(p, d, &take_from_duplicate)).await?;
        match outcome {
            MergeOutcome::Merged(merged) => {
                tracing::info!(primary = %primary, duplicate = %duplicate, revision = merged.revision, "contacts merged");
                Ok(self.with_pictures(context, vec![*merged]).await.remove(0))
            }
            MergeOutcome::RequestIdTaken(winner) => {
                let key = idempotency.expect("only requests with an id can conflict");
                self.replay(context, &key, winner, "merge").await
            }
            MergeOutcome::NotFound(id) => Err(Error::NotFound { id }),
            MergeOutcome::AlreadyMerged { id, survivor } => Err(Error::AlreadyMerged { id, survivor }),
        }
    }

    pub async fn find_duplicates(
        &self,
        context: &CallContext,
        id: &ContactId,
    ) -> Result<Vec<(ContactView, Vec<MatchReason>)>, Error> {
        let contact = self.latest_of_survivors(&context.tenant, std::slice::from_ref(id)).await?.remove(0);
        let candidates = self.store.duplicates_of(&context.tenant, &contact, MAX_DUPLICATES).await?;
        let views = self.with_pictures(context, candidates).await;
        Ok(views
            .into_iter()
            .map(|view| {
                let reasons = domain::match_reasons(&contact, &view.contact);
                (view, reasons)
            })
            .filter(|(_, reasons)| !reasons.is_empty())
            .collect())
    }

    /// Signs every picture of `contacts` in ONE media-svc call. When that
    /// fails the contacts still come back, with image ids but no URLs.
    async fn with_pictures(&self, context: &CallContext, contacts: Vec<Contact>) -> Vec<ContactView> {
        let image_ids: Vec<String> = contacts.iter().filter_map(|c| c.fields.image_id.clone()).collect();
        let signed = if image_ids.is_empty() {
            Default::default()
        } else {
            self.media.sign(context, image_ids).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot sign picture URLs; answering without them");
                Default::default()
            })
        };
        contacts
            .into_iter()
            .map(|contact| {
                let picture = contact.fields.image_id.as_ref().map(|id| {
                    signed
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| SignedImage { image_id: id.clone(), ..Default::default() })
                });
                ContactView { contact, picture }
            })
            .collect()
    }
}
