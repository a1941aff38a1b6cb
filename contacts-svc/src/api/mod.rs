//! The tonic face of contacts-svc: read the request, call the domain, encode
//! the answer. No SQL and no media calls live here.

use accommador_proto::{
    accommador::contacts::v1::{
        BatchGetContactsRequest, BatchGetContactsResponse, Contact, CreateContactRequest, FindDuplicateContactsRequest,
        FindDuplicateContactsResponse, GetContactRequest, ListContactsRequest, ListContactsResponse,
        MergeContactsRequest, contacts_service_server::ContactsService,
    },
    tenant::TenantId,
};
use tonic::{Request, Response, Status};

use crate::error::Error;

#[derive(Debug, Default)]
pub struct ContactsApi {}

impl ContactsApi {
    pub fn new() -> Self {
        Self {}
    }
}

/// Every RPC answers UNIMPLEMENTED (after checking the tenant) until its issue lands.
fn unimplemented<T>(rpc: &'static str, metadata: &tonic::metadata::MetadataMap) -> Result<T, Status> {
    TenantId::from_metadata(metadata).map_err(Error::from)?;
    Err(Error::Unimplemented(rpc).into())
}

#[tonic::async_trait]
impl ContactsService for ContactsApi {
    async fn create_contact(&self, request: Request<CreateContactRequest>) -> Result<Response<Contact>, Status> {
        unimplemented("CreateContact", request.metadata())
    }

    async fn get_contact(&self, request: Request<GetContactRequest>) -> Result<Response<Contact>, Status> {
        unimplemented("GetContact", request.metadata())
    }

    async fn list_contacts(
        &self,
        request: Request<ListContactsRequest>,
    ) -> Result<Response<ListContactsResponse>, Status> {
        unimplemented("ListContacts", request.metadata())
    }

    async fn batch_get_contacts(
        &self,
        request: Request<BatchGetContactsRequest>,
    ) -> Result<Response<BatchGetContactsResponse>, Status> {
        unimplemented("BatchGetContacts", request.metadata())
    }

    async fn merge_contacts(&self, request: Request<MergeContactsRequest>) -> Result<Response<Contact>, Status> {
        unimplemented("MergeContacts", request.metadata())
    }

    async fn find_duplicate_contacts(
        &self,
        request: Request<FindDuplicateContactsRequest>,
    ) -> Result<Response<FindDuplicateContactsResponse>, Status> {
        unimplemented("FindDuplicateContacts", request.metadata())
    }
}
