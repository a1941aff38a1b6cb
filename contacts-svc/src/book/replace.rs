//! ReplaceProfilePicture: check the picture and the contact, upload the
//! picture, then create the contact that carries it and merge it into the
//! old one taking the picture, in ONE store transaction (see
//! `store/replace.rs` for the steps and why a crash leaves nothing or all).
//!
//! A merged-away id is refused (FAILED_PRECONDITION naming the survivor)
//! rather than followed, as MergeContacts refuses it: a write names the
//! contact it changes, and the caller decides whether the survivor is the
//! one they meant.

use super::{
    ContactBook, ContactView,
    idempotency::{Idempotency, Operation},
    now_us,
};
use crate::{
    context::RequestContext,
    domain::{self, ContactId},
    error::Error,
    store::{MergeOutcome, MergeRequest},
};

/// The violation of a ReplaceProfilePicture without a picture.
pub(crate) const EMPTY_PICTURE: &str =
    "profile_picture is empty; ReplaceProfilePicture needs the bytes of a JPEG or PNG file";

impl ContactBook {
    pub(crate) async fn replace_picture(
        &self,
        context: &RequestContext,
        id: &ContactId,
        picture: Vec<u8>,
        idempotency: Option<Idempotency>,
    ) -> Result<ContactView, Error> {
        // Before anything else touches the bytes, as at create.
        self.pictures.check(&picture)?;
        if picture.is_empty() {
            return Err(Error::invalid_field("profile_picture", EMPTY_PICTURE));
        }
        if let Some(key) = &idempotency
            && let Some(done) = self.done_before(context, key).await?
        {
            return self.replay(context, key, done, Operation::ReplacePicture).await;
        }
        // Checked again inside the transaction; checked here so that a wrong
        // id is refused without uploading (and later cleaning up) a picture.
        self.refuse_erased(context, std::slice::from_ref(id)).await?;
        match self.store.resolve(&context.tenant, std::slice::from_ref(id)).await?.get(id) {
            None => return Err(Error::NotFound { id: id.to_string() }),
            Some(survivor) if survivor != id => {
                return Err(Error::AlreadyMerged { id: id.to_string(), survivor: survivor.to_string() });
            }
            Some(_) => {}
        }
        // Upload first: if media-svc refuses or is down, nothing changes. An
        // upload whose transaction never commits is never claimed, and
        // media-svc deletes it after its grace period, as for CreateContact.
        let uploaded = self.media.upload(context, picture).await?;
        let carrier_id = ContactId::generate();
        let now = now_us();
        let request = MergeRequest {
            primary_id: id,
            duplicate_id: &carrier_id,
            // Recorded with the merge, so an unmerge replays it as it was.
            take_from_duplicate: domain::REPLACE_TAKES,
            // The revision is filled in by the store once the merge wrote it.
            request: idempotency.as_ref().map(|key| key.record(Operation::ReplacePicture, id, 0)),
            now_us: now,
            claim_deadline_us: uploaded.claim_deadline_us,
        };
        let image_id = uploaded.image_id.clone();
        let carrier = domain::picture_carrier(carrier_id.clone(), image_id, now);
        let decide = |current: &_, carrier: &_| domain::replaced_revision(current, carrier, now);
        match self.store.replace_picture(&context.tenant, request, carrier, decide).await? {
            MergeOutcome::Merged(replaced) => {
                tracing::info!(contact_id = %id, carrier = %carrier_id, revision = replaced.revision, "profile picture replaced");
                self.events_committed();
                Ok(self.with_picture(context, *replaced).await)
            }
            MergeOutcome::RequestIdTaken(winner) => {
                let key = idempotency.expect("only requests with an id can conflict");
                self.replay(context, &key, winner, Operation::ReplacePicture).await
            }
            MergeOutcome::NotFound(id) => Err(self.absent(context, &id).await),
            MergeOutcome::AlreadyMerged { id, survivor } => {
                Err(Error::AlreadyMerged { id: id.to_string(), survivor: survivor.to_string() })
            }
        }
    }
}
