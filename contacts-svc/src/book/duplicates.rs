//! FindDuplicateContacts: the store finds candidates by indexed keys, the
//! domain says why each one matches.

use super::{ContactBook, ContactView, MAX_DUPLICATES};
use crate::{
    context::RequestContext,
    domain::{self, ContactId, MatchReason},
    error::Error,
};

impl ContactBook {
    pub(crate) async fn find_duplicates(
        &self,
        context: &RequestContext,
        id: &ContactId,
    ) -> Result<Vec<(ContactView, Vec<MatchReason>)>, Error> {
        let contact = self.latest_of_survivors(context, std::slice::from_ref(id)).await?.remove(0);
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
}
