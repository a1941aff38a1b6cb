//! The tonic face of contacts-svc: read the request, call the contact book,
//! encode the answer. No SQL and no media calls live here.

mod convert;
mod tenant_gate;
mod watch;

pub use watch::WatchSettings;

/// A logged event as the protobuf message clients and the NATS relay get.
pub fn convert_event(event: crate::domain::LoggedEvent) -> accommador_proto::accommador::contacts::v1::ContactEvent {
    convert::event(event)
}

use std::sync::Arc;

use accommador_proto::{
    accommador::contacts::v1::{
        BatchGetContactsRequest, BatchGetContactsResponse, Contact, CreateContactRequest, DuplicateMatch,
        EraseContactRequest, EraseContactResponse, FindDuplicateContactsRequest, FindDuplicateContactsResponse,
        GetContactRequest, ListContactEventsRequest, ListContactEventsResponse, ListContactsRequest,
        ListContactsResponse, MergeContactsRequest, RemoveProfilePictureRequest, ReplaceProfilePictureRequest,
        UnmergeContactsRequest, UnmergeContactsResponse, WatchContactEventsRequest,
        contacts_service_server::ContactsService,
    },
    status::Violations,
    tenant::{TenantId, request_id},
};
use accommador_server::guard::{Deadline, current_request_id};
use tonic::{Request, Response, Status};

use self::tenant_gate::{Admitted, TenantGate};
use crate::{
    book::{
        ContactBook, DEFAULT_EVENT_PAGE, DEFAULT_PAGE_SIZE, MAX_BATCH_IDS, MAX_EVENT_PAGE, MAX_PAGE_SIZE, MAX_QUERY_LEN,
    },
    context::RequestContext,
    error::Error,
};

pub struct ContactsApi {
    book: Arc<ContactBook>,
    tenants: TenantGate,
    watchers: watch::Watchers,
    /// Turns true when the server begins to shut down: event streams end.
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl ContactsApi {
    /// `tenant_max_in_progress` caps each tenant's calls in progress.
    pub fn new(
        book: Arc<ContactBook>,
        tenant_max_in_progress: usize,
        watch: WatchSettings,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self { book, tenants: TenantGate::new(tenant_max_in_progress), watchers: watch::Watchers::new(watch), stopping }
    }

    /// The call's context, counted against its tenant's cap until dropped.
    fn admit<T>(&self, request: &Request<T>) -> Result<(RequestContext, Admitted), Error> {
        let context = context(request)?;
        let admitted = self.tenants.admit(context.tenant.as_str())?;
        Ok((context, admitted))
    }
}

/// The tenant, the request id and the deadline to carry to media-svc (the
/// transport guard has given every call a request id and a deadline).
fn context<T>(request: &Request<T>) -> Result<RequestContext, Error> {
    let tenant = TenantId::from_metadata(request.metadata())?;
    let request_id = current_request_id()
        .or_else(|| request_id(request.metadata()).map(str::to_owned))
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let deadline = request.extensions().get::<Deadline>().map(|deadline| deadline.0);
    Ok(RequestContext { tenant, request_id, deadline })
}

#[tonic::async_trait]
impl ContactsService for ContactsApi {
    async fn create_contact(&self, request: Request<CreateContactRequest>) -> Result<Response<Contact>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let message = request.into_inner();
        let idempotency = convert::idempotency(&message.request_id, &message, |m| m.request_id.clear())?;
        let draft = convert::draft(message.contact);
        let view = self.book.create(&context, draft, message.profile_picture, idempotency).await?;
        Ok(Response::new(convert::contact(view)))
    }

    async fn get_contact(&self, request: Request<GetContactRequest>) -> Result<Response<Contact>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let message = request.into_inner();
        let id = convert::contact_id("id", &message.id)?;
        if message.revision < 0 {
            return Err(Error::invalid_field("revision", "revision must be 0 (latest) or a revision number").into());
        }
        let view = self.book.get(&context, &id, message.revision).await?;
        Ok(Response::new(convert::contact(view)))
    }

    async fn list_contacts(
        &self,
        request: Request<ListContactsRequest>,
    ) -> Result<Response<ListContactsResponse>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let message = request.into_inner();
        let mut violations = Violations::new();
        if message.page_size < 0 {
            violations.add("page_size", format!("page_size is {}; it must not be negative", message.page_size));
        }
        // Counted as stored text is, in NFC: both spellings of "é" are one character.
        let query_length = unicode_normalization::UnicodeNormalization::nfc(message.query.as_str()).count();
        if query_length > MAX_QUERY_LEN {
            violations.add("query", format!("query is {query_length} characters; the limit is {MAX_QUERY_LEN}"));
        }
        violations.into_result(()).map_err(Error::InvalidFields)?;
        let page_size = match message.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => (size as usize).min(MAX_PAGE_SIZE),
        };
        let (views, next_page_token) = self.book.list(&context, page_size, &message.page_token, &message.query).await?;
        Ok(Response::new(ListContactsResponse {
            contacts: views.into_iter().map(convert::contact).collect(),
            next_page_token,
        }))
    }

    async fn batch_get_contacts(
        &self,
        request: Request<BatchGetContactsRequest>,
    ) -> Result<Response<BatchGetContactsResponse>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let ids = convert::batch_ids(&request.get_ref().ids, MAX_BATCH_IDS)?;
        let views = self.book.batch_get(&context, &ids).await?;
        Ok(Response::new(BatchGetContactsResponse { contacts: views.into_iter().map(convert::contact).collect() }))
    }

    async fn merge_contacts(&self, request: Request<MergeContactsRequest>) -> Result<Response<Contact>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let message = request.into_inner();
        let idempotency = convert::idempotency(&message.request_id, &message, |m| m.request_id.clear())?;
        let primary = convert::contact_id("primary_id", &message.primary_id);
        let duplicate = convert::contact_id("duplicate_id", &message.duplicate_id);
        let take = convert::merge_fields(&message.take_from_duplicate);
        let (primary, duplicate, take) = match (primary, duplicate, take) {
            (Ok(primary), Ok(duplicate), Ok(take)) => (primary, duplicate, take),
            (primary, duplicate, take) => {
                let violations = [primary.err(), duplicate.err(), take.err()]
                    .into_iter()
                    .flatten()
                    .flat_map(|error| match error {
                        Error::InvalidFields(fields) => fields,
                        other => Violations::one("request", other.to_string()),
                    })
                    .collect();
                return Err(Error::InvalidFields(violations).into());
            }
        };
        let view = self.book.merge(&context, &primary, &duplicate, take, idempotency).await?;
        Ok(Response::new(convert::contact(view)))
    }

    async fn replace_profile_picture(
        &self,
        request: Request<ReplaceProfilePictureRequest>,
    ) -> Result<Response<Contact>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let message = request.into_inner();
        let idempotency = convert::idempotency(&message.request_id, &message, |m| m.request_id.clear())?;
        let id = convert::contact_id("id", &message.id).map_err(|error| match error {
            // Both problems at once when the picture is missing too.
            Error::InvalidFields(mut violations) if message.profile_picture.is_empty() => {
                violations.add("profile_picture", crate::book::EMPTY_PICTURE);
                Error::InvalidFields(violations)
            }
            other => other,
        })?;
        let view = self.book.replace_picture(&context, &id, message.profile_picture, idempotency).await?;
        Ok(Response::new(convert::contact(view)))
    }

    async fn remove_profile_picture(
        &self,
        request: Request<RemoveProfilePictureRequest>,
    ) -> Result<Response<Contact>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let actor = convert::caller(&request);
        let message = request.into_inner();
        let idempotency = convert::idempotency(&message.request_id, &message, |m| m.request_id.clear())?;
        let (id, reason) = convert::audited(&message.id, &message.reason, "the picture is taken down")?;
        let view = self.book.remove_picture(&context, &id, &reason, &actor, idempotency).await?;
        Ok(Response::new(convert::contact(view)))
    }

    async fn erase_contact(
        &self,
        request: Request<EraseContactRequest>,
    ) -> Result<Response<EraseContactResponse>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let actor = convert::caller(&request);
        let message = request.into_inner();
        let idempotency = convert::idempotency(&message.request_id, &message, |m| m.request_id.clear())?;
        let (id, reason) = convert::audited(&message.id, &message.reason, "the contact is erased")?;
        let erasure = self.book.erase(&context, &id, &reason, &actor, idempotency).await?;
        Ok(Response::new(convert::erasure(erasure)))
    }

    async fn unmerge_contacts(
        &self,
        request: Request<UnmergeContactsRequest>,
    ) -> Result<Response<UnmergeContactsResponse>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let message = request.into_inner();
        let idempotency = convert::idempotency(&message.request_id, &message, |m| m.request_id.clear())?;
        let (primary, duplicate) = convert::contact_id_pair(&message.primary_id, &message.duplicate_id)?;
        let unmerged = self.book.unmerge(&context, &primary, &duplicate, idempotency).await?;
        Ok(Response::new(UnmergeContactsResponse {
            primary: Some(convert::contact(unmerged.primary)),
            duplicate: Some(convert::contact(unmerged.duplicate)),
        }))
    }

    async fn list_contact_events(
        &self,
        request: Request<ListContactEventsRequest>,
    ) -> Result<Response<ListContactEventsResponse>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let message = request.into_inner();
        let limit = match message.page_size {
            size if size < 0 => {
                let problem = format!("page_size is {size}; it must not be negative");
                return Err(Error::invalid_field("page_size", problem).into());
            }
            0 => DEFAULT_EVENT_PAGE,
            size => (size as u64).min(MAX_EVENT_PAGE),
        };
        let (events, next_cursor) = self.book.events(&context, &message.after, limit).await?;
        Ok(Response::new(ListContactEventsResponse {
            events: events.into_iter().map(convert::event).collect(),
            next_cursor,
        }))
    }

    type WatchContactEventsStream = watch::EventStream;

    async fn watch_contact_events(
        &self,
        request: Request<WatchContactEventsRequest>,
    ) -> Result<Response<Self::WatchContactEventsStream>, Status> {
        // Counted against the tenant's calls only while the stream starts:
        // a stream is bounded by the watcher slots instead.
        let (context, _admitted) = self.admit(&request)?;
        let after = request.into_inner().after;
        ContactBook::check_event_cursor(&after)?;
        let slot = self.watchers.take(context.tenant.as_str())?;
        let settings = self.watchers.settings();
        let stream = watch::start(self.book.clone(), context, after, settings, slot, self.stopping.clone());
        Ok(Response::new(stream))
    }

    async fn find_duplicate_contacts(
        &self,
        request: Request<FindDuplicateContactsRequest>,
    ) -> Result<Response<FindDuplicateContactsResponse>, Status> {
        let (context, _admitted) = self.admit(&request)?;
        let id = convert::contact_id("contact_id", &request.get_ref().contact_id)?;
        let matches = self.book.find_duplicates(&context, &id).await?;
        let matches = matches
            .into_iter()
            .map(|(view, reasons)| DuplicateMatch {
                contact: Some(convert::contact(view)),
                reasons: reasons.into_iter().map(|reason| convert::match_reason(reason).into()).collect(),
            })
            .collect();
        Ok(Response::new(FindDuplicateContactsResponse { matches }))
    }
}
