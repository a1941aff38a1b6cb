//! CreateContact: validate, upload the picture, then write the contact, its
//! request record and its picture's claim in one transaction.

use super::{
    ContactBook, ContactView,
    idempotency::{Idempotency, Operation},
    now_us,
};
use crate::{
    context::RequestContext,
    domain::{Contact, ContactDraft, ContactId},
    error::Error,
    store::CreateOutcome,
};

impl ContactBook {
    pub(crate) async fn create(
        &self,
        context: &RequestContext,
        draft: ContactDraft,
        picture: Vec<u8>,
        idempotency: Option<Idempotency>,
    ) -> Result<ContactView, Error> {
        let mut fields = draft.parse(&self.phones).map_err(Error::InvalidFields)?;
        // Before anything else touches the bytes: media-svc never receives a
        // picture it would refuse for its size.
        self.pictures.check(&picture)?;
        if let Some(key) = &idempotency
            && let Some(done) = self.done_before(context, key).await?
        {
            return self.replay(context, key, done, Operation::Create).await;
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
        let record = idempotency.as_ref().map(|key| key.record(Operation::Create, &contact.id, 1));
        let deadline = uploaded.as_ref().map(|image| image.claim_deadline_us);
        match self.store.create(&context.tenant, &contact, record, deadline).await? {
            CreateOutcome::Created => {
                tracing::info!(contact_id = %contact.id, picture = uploaded.is_some(), "contact created");
                self.events_committed();
                Ok(self.with_picture(context, contact).await)
            }
            CreateOutcome::RequestIdTaken(winner) => {
                let key = idempotency.expect("only requests with an id can conflict");
                self.replay(context, &key, winner, Operation::Create).await
            }
        }
    }
}
