//! MergeContacts: the domain decides the primary's next revision from both
//! contacts' latest revisions, read inside the store's merge transaction
//! with both contacts locked.

use super::{
    ContactBook, ContactView,
    idempotency::{Idempotency, Operation},
    now_us,
};
use crate::{
    context::RequestContext,
    domain::{self, ContactId, MergeField},
    error::Error,
    store::{MergeOutcome, MergeRequest},
};

impl ContactBook {
    pub(crate) async fn merge(
        &self,
        context: &RequestContext,
        primary: &ContactId,
        duplicate: &ContactId,
        take_from_duplicate: Vec<MergeField>,
        idempotency: Option<Idempotency>,
    ) -> Result<ContactView, Error> {
        if primary == duplicate {
            return Err(Error::invalid_field("duplicate_id", "a contact cannot be merged with itself"));
        }
        if let Some(key) = &idempotency
            && let Some(done) = self.done_before(context, key).await?
        {
            return self.replay(context, key, done, Operation::Merge).await;
        }
        let now = now_us();
        let request = MergeRequest {
            primary_id: primary,
            duplicate_id: duplicate,
            take_from_duplicate: &take_from_duplicate,
            // The revision is filled in by the store once the merge wrote it.
            request: idempotency.as_ref().map(|key| key.record(Operation::Merge, primary, 0)),
            now_us: now,
            // The picture was claimed for the duplicate already (or is on its way): no deadline to watch.
            claim_deadline_us: i64::MAX,
        };
        let decide = |p: &_, d: &_| domain::merged_revision(p, d, &take_from_duplicate, now);
        match self.store.merge(&context.tenant, request, decide).await? {
            MergeOutcome::Merged(merged) => {
                tracing::info!(primary = %primary, duplicate = %duplicate, revision = merged.revision, "contacts merged");
                self.events_committed();
                Ok(self.with_picture(context, *merged).await)
            }
            MergeOutcome::RequestIdTaken(winner) => {
                let key = idempotency.expect("only requests with an id can conflict");
                self.replay(context, &key, winner, Operation::Merge).await
            }
            MergeOutcome::NotFound(id) => Err(self.absent(context, &id).await),
            MergeOutcome::AlreadyMerged { id, survivor } => {
                Err(Error::AlreadyMerged { id: id.to_string(), survivor: survivor.to_string() })
            }
        }
    }
}
