//! RemoveProfilePicture, the moderation takedown: the contact's next
//! revision without its picture, the release of the image for it (queued
//! in the outbox, so media-svc being down delays the release, never the
//! takedown), and who did it and why, in ONE store transaction
//! (`store/takedown.rs`). Pictures are otherwise never edited; this is
//! moderation, hence the required reason.

use super::{
    ContactBook, ContactView,
    idempotency::{Idempotency, Operation},
    now_us,
};
use crate::{
    context::RequestContext,
    domain::ContactId,
    error::Error,
    store::{TakedownOutcome, TakedownRequest},
};

/// Longest takedown reason, in characters: a sentence for the audit, not a report.
pub(crate) const MAX_REASON_LEN: usize = 500;

impl ContactBook {
    /// Takes `id`'s picture down; `reason` is clean text (checked by the
    /// API layer) and `actor` the caller's credential name.
    pub(crate) async fn remove_picture(
        &self,
        context: &RequestContext,
        id: &ContactId,
        reason: &str,
        actor: &str,
        idempotency: Option<Idempotency>,
    ) -> Result<ContactView, Error> {
        if let Some(key) = &idempotency
            && let Some(done) = self.done_before(context, key).await?
        {
            return self.replay(context, key, done, Operation::RemovePicture).await;
        }
        let request = TakedownRequest {
            id,
            reason,
            actor,
            request: idempotency.as_ref().map(|key| key.record(Operation::RemovePicture, id, 0)),
            now_us: now_us(),
        };
        match self.store.remove_picture(&context.tenant, request).await? {
            TakedownOutcome::Removed(contact) => {
                tracing::info!(contact_id = %id, revision = contact.revision, %actor, "profile picture taken down");
                self.events_committed();
                Ok(ContactView { contact: *contact, picture: None })
            }
            TakedownOutcome::RequestIdTaken(winner) => {
                let key = idempotency.expect("only requests with an id can conflict");
                self.replay(context, &key, winner, Operation::RemovePicture).await
            }
            TakedownOutcome::NotFound => Err(self.absent(context, id).await),
            TakedownOutcome::AlreadyMerged { survivor } => {
                Err(Error::AlreadyMerged { id: id.to_string(), survivor: survivor.to_string() })
            }
            TakedownOutcome::NoPicture => Err(Error::NoPicture { id: id.to_string() }),
        }
    }
}
