//! GetContact and BatchGetContacts: any id, merged away or not, reads as
//! its survivor's latest revision, unless a revision is named.

use super::{ContactBook, ContactView};
use crate::{
    context::RequestContext,
    domain::{Contact, ContactId},
    error::Error,
};

impl ContactBook {
    /// With `revision` 0 the survivor's latest revision; otherwise exactly that revision of `id`.
    pub(crate) async fn get(
        &self,
        context: &RequestContext,
        id: &ContactId,
        revision: i64,
    ) -> Result<ContactView, Error> {
        let contact = if revision > 0 {
            self.refuse_erased(context, std::slice::from_ref(id)).await?;
            self.store
                .revision(&context.tenant, id, revision)
                .await?
                .ok_or_else(|| Error::RevisionNotFound { id: id.to_string(), revision })?
        } else {
            self.latest_of_survivors(context, std::slice::from_ref(id)).await?.remove(0)
        };
        Ok(self.with_picture(context, contact).await)
    }

    pub(crate) async fn batch_get(
        &self,
        context: &RequestContext,
        ids: &[ContactId],
    ) -> Result<Vec<ContactView>, Error> {
        let contacts = self.latest_of_survivors(context, ids).await?;
        Ok(self.with_pictures(context, contacts).await)
    }

    /// The latest revision of each id's survivor, in order; NOT_FOUND names
    /// the first id that is unknown or erased.
    pub(super) async fn latest_of_survivors(
        &self,
        context: &RequestContext,
        ids: &[ContactId],
    ) -> Result<Vec<Contact>, Error> {
        let tenant = &context.tenant;
        let erased = self.store.erasures(tenant, ids).await?;
        let survivors = self.store.resolve(tenant, ids).await?;
        // The first id in request order that does not read, whichever the reason.
        for id in ids {
            if let Some(&erase_time_us) = erased.get(id.as_str()) {
                return Err(Error::Erased { id: id.to_string(), erase_time_us });
            }
            if !survivors.contains_key(id) {
                return Err(Error::NotFound { id: id.to_string() });
            }
        }
        let survivor_ids: Vec<ContactId> = ids.iter().map(|id| survivors[id].clone()).collect();
        let latest = self.store.latest(tenant, &survivor_ids).await?;
        survivor_ids
            .iter()
            .map(|id| latest.get(id).cloned().ok_or_else(|| Error::Internal(format!("contact {id} has no revision"))))
            .collect()
    }
}
