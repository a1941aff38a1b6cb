//! The contacts requests most tests build, with the fields they leave alone
//! at their defaults.

use accommador_proto::accommador::contacts::v1::{
    Contact, CreateContactRequest, ListContactsRequest, MergeContactsRequest,
    contacts_service_client::ContactsServiceClient,
};
use tonic::transport::Channel;

use crate::tenant_request;

/// A contact with only a first name.
pub fn named(first_name: &str) -> Contact {
    Contact { first_name: first_name.into(), ..Default::default() }
}

/// Creates `contact` with `picture` (empty: none), without a request id.
pub fn create_request(contact: Contact, picture: Vec<u8>) -> CreateContactRequest {
    CreateContactRequest { contact: Some(contact), profile_picture: picture, request_id: String::new() }
}

/// Merges `duplicate` into `primary`, taking the fields named in `take` from the duplicate.
pub fn merge_request(primary: &str, duplicate: &str, take: &[&str], request_id: &str) -> MergeContactsRequest {
    MergeContactsRequest {
        primary_id: primary.into(),
        duplicate_id: duplicate.into(),
        take_from_duplicate: take.iter().map(|field| (*field).to_owned()).collect(),
        request_id: request_id.into(),
    }
}

/// The first 200 contacts of `tenant`'s Smart List: all of them, in tests
/// that create fewer.
pub async fn first_page(client: &mut ContactsServiceClient<Channel>, tenant: &str) -> Vec<Contact> {
    let request = ListContactsRequest { page_size: 200, ..Default::default() };
    client.list_contacts(tenant_request(tenant, request)).await.expect("list contacts").into_inner().contacts
}
