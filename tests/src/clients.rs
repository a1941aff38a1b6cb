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

/// What the test clients send and take: past the servers' own message limit
/// (MAX_REQUEST_MESSAGE_BYTES, 16 MiB and a little), so that the server, not
/// the client, refuses what is too large.
const CLIENT_MESSAGE_BYTES: usize = 32 << 20;

/// A client of contacts-svc that sends pictures well past every limit.
pub fn contacts_client(server: &ServerProcess) -> ContactsServiceClient<Channel> {
    ContactsServiceClient::new(server.channel())
        .max_decoding_message_size(CLIENT_MESSAGE_BYTES)
        .max_encoding_message_size(CLIENT_MESSAGE_BYTES)
}

/// A client of media-svc that sends uploads well past every limit.
pub fn media_client(server: &ServerProcess) -> MediaServiceClient<Channel> {
    MediaServiceClient::new(server.channel())
        .max_decoding_message_size(CLIENT_MESSAGE_BYTES)
        .max_encoding_message_size(CLIENT_MESSAGE_BYTES)
}
