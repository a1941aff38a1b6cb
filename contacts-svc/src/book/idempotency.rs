//! Request ids (AIP-155): a write that carries one is done once. Its
//! outcome is recorded in the write's own transaction (a request record:
//! operation, fingerprint of the request, the contact revision it made); a
//! retry with the same id and the same request gets that revision again,
//! and the same id with another request or operation is refused.
//!
//! A retry is caught twice: before the write (the record is there), and by
//! the store when two copies race (the record's key is unique, the loser
//! reads the winner's record).

use super::ContactBook;
use crate::{context::RequestContext, domain::ContactId, error::Error, store::RequestRecord};

/// A write's idempotency key and the fingerprint of its request.
#[derive(Debug, Clone)]
pub(crate) struct Idempotency {
    pub(crate) request_id: String,
    pub(crate) fingerprint: String,
}

/// The writes that take a request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Create,
    Merge,
    ReplacePicture,
    Unmerge,
    RemovePicture,
    Erase,
}

impl Operation {
    /// The name stored in `request_record.operation`. Existing rows carry
    /// these exact strings: they must never change.
    fn stored_name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Merge => "merge",
            Self::ReplacePicture => "replace_picture",
            Self::Unmerge => "unmerge",
            Self::RemovePicture => "remove_picture",
            Self::Erase => "erase",
        }
    }

    /// The operation a stored record names; `None` for a name no version wrote.
    fn from_stored(name: &str) -> Option<Self> {
        [Self::Create, Self::Merge, Self::ReplacePicture, Self::Unmerge, Self::RemovePicture, Self::Erase]
            .into_iter()
            .find(|operation| operation.stored_name() == name)
    }
}

impl Idempotency {
    /// The record `operation` leaves when it produced `revision` of `contact_id`.
    pub(super) fn record(&self, operation: Operation, contact_id: &ContactId, revision: i64) -> RequestRecord {
        RequestRecord {
            request_id: self.request_id.clone(),
            operation: operation.stored_name().to_owned(),
            fingerprint: self.fingerprint.clone(),
            contact_id: contact_id.clone(),
            revision,
        }
    }
}

impl Idempotency {
    /// Refuses a request id another operation recorded.
    pub(super) fn check_operation(&self, done: &RequestRecord, operation: Operation) -> Result<(), Error> {
        if Operation::from_stored(&done.operation) != Some(operation) {
            return Err(Error::RequestIdReused { request_id: self.request_id.clone() });
        }
        Ok(())
    }

    /// Refuses a request id a different request (or operation) recorded.
    pub(super) fn check_replay(&self, done: &RequestRecord, operation: Operation) -> Result<(), Error> {
        if Operation::from_stored(&done.operation) != Some(operation) || done.fingerprint != self.fingerprint {
            return Err(Error::RequestIdReused { request_id: self.request_id.clone() });
        }
        Ok(())
    }
}

impl ContactBook {
    /// What an earlier request with this key recorded, if any.
    pub(super) async fn done_before(
        &self,
        context: &RequestContext,
        key: &Idempotency,
    ) -> Result<Option<RequestRecord>, Error> {
        self.store.find_request(&context.tenant, &key.request_id).await
    }

    /// Answers a retried request with what the first one produced.
    pub(super) async fn replay(
        &self,
        context: &RequestContext,
        key: &Idempotency,
        done: RequestRecord,
        operation: Operation,
    ) -> Result<super::ContactView, Error> {
        // An erasure emptied the record's fingerprint: a retry of the same
        // operation learns the contact is gone (the request it sent can no
        // longer be compared); another operation is refused as always.
        key.check_operation(&done, operation)?;
        self.refuse_erased(context, std::slice::from_ref(&done.contact_id)).await?;
        key.check_replay(&done, operation)?;
        let contact = self
            .store
            .revision(&context.tenant, &done.contact_id, done.revision)
            .await?
            .ok_or_else(|| Error::Internal("a request record points to a missing revision".into()))?;
        Ok(self.with_picture(context, contact).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_keep_the_names_existing_records_carry() {
        assert_eq!(Operation::Create.stored_name(), "create");
        assert_eq!(Operation::Merge.stored_name(), "merge");
        assert_eq!(Operation::from_stored("create"), Some(Operation::Create));
        assert_eq!(Operation::from_stored("merge"), Some(Operation::Merge));
        assert_eq!(Operation::from_stored("replace_picture"), Some(Operation::ReplacePicture));
        assert_eq!(Operation::Unmerge.stored_name(), "unmerge");
        assert_eq!(Operation::from_stored("unmerge"), Some(Operation::Unmerge));
        assert_eq!(Operation::from_stored("remove_picture"), Some(Operation::RemovePicture));
        assert_eq!(Operation::from_stored("erase"), Some(Operation::Erase));
        assert_eq!(Operation::from_stored("delete"), None);
    }
}
