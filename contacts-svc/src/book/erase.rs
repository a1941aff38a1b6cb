//! EraseContact: a person leaves the CRM (GDPR article 17, CCPA). The store
//! erases the whole merge group in one transaction (`store/erasure.rs`: the
//! values redacted, an audit row per id, the pictures' releases queued);
//! media-svc deletes each picture no other contact holds once the outbox
//! delivers its release, so media-svc being down delays that, never the erasure.
//!
//! Erasing is idempotent by nature: an id erased before answers with its
//! erasure, whoever asked and whatever request id they sent.

use super::{
    ContactBook,
    idempotency::{Idempotency, Operation},
    now_us,
};
use crate::{
    context::RequestContext,
    domain::ContactId,
    error::Error,
    store::{EraseOutcome, EraseRequest, Erasure, RequestRecord},
};

impl ContactBook {
    /// Erases `id`'s merge group; `reason` is clean text (checked by the API
    /// layer) and `actor` the caller's credential name.
    pub(crate) async fn erase(
        &self,
        context: &RequestContext,
        id: &ContactId,
        reason: &str,
        actor: &str,
        idempotency: Option<Idempotency>,
    ) -> Result<Erasure, Error> {
        if let Some(key) = &idempotency
            && let Some(done) = self.done_before(context, key).await?
        {
            return self.replay_erase(context, key, done).await;
        }
        let request = EraseRequest {
            id,
            reason,
            actor,
            request: idempotency.as_ref().map(|key| key.record(Operation::Erase, id, 0)),
            now_us: now_us(),
        };
        match self.store.erase(&context.tenant, request).await? {
            EraseOutcome::Erased { erasure, releases } => {
                // Ids and counts only: this line must never carry the person.
                tracing::info!(contact_id = %id, contacts = erasure.contact_ids.len(), releases, %actor, "contact erased");
                self.events_committed();
                Ok(erasure)
            }
            EraseOutcome::AlreadyErased(erasure) => Ok(erasure),
            EraseOutcome::RequestIdTaken(winner) => {
                let key = idempotency.expect("only requests with an id can conflict");
                self.replay_erase(context, &key, winner).await
            }
            EraseOutcome::NotFound => Err(Error::NotFound { id: id.to_string() }),
        }
    }

    async fn replay_erase(
        &self,
        context: &RequestContext,
        key: &Idempotency,
        done: RequestRecord,
    ) -> Result<Erasure, Error> {
        key.check_replay(&done, Operation::Erase)?;
        self.store
            .erasure_of(&context.tenant, &done.contact_id)
            .await?
            .ok_or_else(|| Error::Internal("a request record points to a missing erasure".into()))
    }

    /// The NOT_FOUND for `id`, which a write or read found absent: CONTACT_ERASED
    /// when it was erased.
    pub(super) async fn absent(&self, context: &RequestContext, id: &ContactId) -> Error {
        match self.store.erasures(&context.tenant, std::slice::from_ref(id)).await {
            Ok(erased) => match erased.get(id.as_str()) {
                Some(&erase_time_us) => Error::Erased { id: id.to_string(), erase_time_us },
                None => Error::NotFound { id: id.to_string() },
            },
            Err(error) => error,
        }
    }

    /// CONTACT_ERASED for the first of `ids` that was erased, if any.
    pub(super) async fn refuse_erased(&self, context: &RequestContext, ids: &[ContactId]) -> Result<(), Error> {
        let erased = self.store.erasures(&context.tenant, ids).await?;
        match ids.iter().find_map(|id| erased.get(id.as_str()).map(|time| (id, *time))) {
            Some((id, erase_time_us)) => Err(Error::Erased { id: id.to_string(), erase_time_us }),
            None => Ok(()),
        }
    }
}
