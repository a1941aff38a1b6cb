//! ListContacts, the Smart List: newest first, one keyset page at a time,
//! optionally filtered by a query folded as `domain::search` says.

use super::{ContactBook, ContactView};
use crate::{context::RequestContext, domain::SearchQuery, error::Error, store::ListCursor};

impl ContactBook {
    /// One page of the Smart List and the token of the next (empty at the end).
    pub(crate) async fn list(
        &self,
        context: &RequestContext,
        page_size: usize,
        page_token: &str,
        query: &str,
    ) -> Result<(Vec<ContactView>, String), Error> {
        let tenant = &context.tenant;
        let query = SearchQuery::parse(query, &self.phones);
        // A page token is bound to the query as folded: "José" and "jose"
        // are the same list, so either may continue it.
        let bound_query = query.as_ref().map_or("", |query| query.text.as_str());
        let cursor = if page_token.is_empty() {
            None
        } else {
            Some(self.page_tokens.open(tenant.as_str(), bound_query, page_token)?)
        };
        // One more than the page: whether it exists says if there is a next page.
        let mut contacts = self.store.list(tenant, query.as_ref(), cursor.as_ref(), page_size as u64 + 1).await?;
        let next = if contacts.len() > page_size {
            contacts.truncate(page_size);
            let last = contacts.last().expect("a full page has a last contact");
            let cursor = ListCursor { create_time_us: last.create_time_us, contact_id: last.id.to_string() };
            self.page_tokens.issue(tenant.as_str(), bound_query, &cursor)
        } else {
            String::new()
        };
        Ok((self.with_pictures(context, contacts).await, next))
    }
}
