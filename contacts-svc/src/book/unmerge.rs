//! UnmergeContacts: the store undoes the merge in one transaction (see
//! `store::unmerges`); this side checks the request and answers with both
//! contacts' new revisions.

use super::{
    ContactBook, ContactView,
    idempotency::{Idempotency, Operation},
    now_us,
};
use crate::{
    context::RequestContext,
    domain::ContactId,
    error::Error,
    store::{RequestRecord, UnmergeOutcome, UnmergeRequest},
};

/// The primary's and the duplicate's new revisions.
pub(crate) struct Unmerged {
    pub(crate) primary: ContactView,
    pub(crate) duplicate: ContactView,
}

impl ContactBook {
    pub(crate) async fn unmerge(
        &self,
        context: &RequestContext,
        primary: &ContactId,
        duplicate: &ContactId,
        idempotency: Option<Idempotency>,
    ) -> Result<Unmerged, Error> {
        if primary == duplicate {
            return Err(Error::invalid_field("duplicate_id", "a contact is never merged into itself"));
        }
        if let Some(key) = &idempotency
            && let Some(done) = self.done_before(context, key).await?
        {
            return self.replay_unmerge(context, key, done).await;
        }
        let request = UnmergeRequest {
            primary_id: primary,
            duplicate_id: duplicate,
            // The revision is filled in by the store once the unmerge wrote it.
            request: idempotency.as_ref().map(|key| key.record(Operation::Unmerge, primary, 0)),
            now_us: now_us(),
        };
        match self.store.unmerge(&context.tenant, request).await? {
            UnmergeOutcome::Unmerged { primary, duplicate } => {
                tracing::info!(primary = %primary.id, duplicate = %duplicate.id, revision = primary.revision, "contacts unmerged");
                self.events_committed();
                self.unmerged(context, *primary, *duplicate).await
            }
            UnmergeOutcome::RequestIdTaken(winner) => {
                let key = idempotency.expect("only requests with an id can conflict");
                self.replay_unmerge(context, &key, winner).await
            }
            UnmergeOutcome::NotFound(id) => Err(self.absent(context, &id).await),
            UnmergeOutcome::NotMergedInto { merged_into } => Err(Error::NotMergedInto {
                primary: primary.to_string(),
                duplicate: duplicate.to_string(),
                merged_into: merged_into.map(|id| id.to_string()),
            }),
            UnmergeOutcome::PrimaryMerged { survivor } => {
                Err(Error::AlreadyMerged { id: primary.to_string(), survivor: survivor.to_string() })
            }
            UnmergeOutcome::PictureCarrier { carried_into } => {
                Err(Error::PictureCarrier { primary: carried_into.to_string(), carrier: duplicate.to_string() })
            }
        }
    }

    async fn replay_unmerge(
        &self,
        context: &RequestContext,
        key: &Idempotency,
        done: RequestRecord,
    ) -> Result<Unmerged, Error> {
        key.check_operation(&done, Operation::Unmerge)?;
        self.refuse_erased(context, std::slice::from_ref(&done.contact_id)).await?;
        key.check_replay(&done, Operation::Unmerge)?;
        let (primary, duplicate) =
            self.store
                .unmerge_result(&context.tenant, &done.contact_id, done.revision)
                .await?
                .ok_or_else(|| Error::Internal("a request record points to a missing unmerge".into()))?;
        self.unmerged(context, primary, duplicate).await
    }

    async fn unmerged(
        &self,
        context: &RequestContext,
        primary: crate::domain::Contact,
        duplicate: crate::domain::Contact,
    ) -> Result<Unmerged, Error> {
        let mut views = self.with_pictures(context, vec![primary, duplicate]).await;
        let duplicate = views.pop().expect("two views");
        let primary = views.pop().expect("two views");
        Ok(Unmerged { primary, duplicate })
    }
}
