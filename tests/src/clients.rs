//! gRPC clients of the running servers, and requests carrying the metadata
//! the services read.

use accommador_proto::{
    accommador::{
        contacts::v1::contacts_service_client::ContactsServiceClient,
        media::v1::media_service_client::MediaServiceClient,
    },
    tenant::TENANT_ID_HEADER,
};
use tonic::transport::Channel;

use crate::ServerProcess;

/// Wraps `message` in a request that carries `tenant` in `x-tenant-id`.
pub fn tenant_request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(TENANT_ID_HEADER, tenant.parse().expect("test tenants are valid metadata"));
    request
}

/// A client of contacts-svc that takes and sends messages as large as a
/// picture request may be.
pub fn contacts_client(server: &ServerProcess) -> ContactsServiceClient<Channel> {
    ContactsServiceClient::new(server.channel()).max_decoding_message_size(8 << 20).max_encoding_message_size(8 << 20)
}

/// A client of media-svc that sends uploads well past its image limit, so
/// that the service, not the client, refuses them.
pub fn media_client(server: &ServerProcess) -> MediaServiceClient<Channel> {
    MediaServiceClient::new(server.channel()).max_decoding_message_size(16 << 20).max_encoding_message_size(16 << 20)
}
