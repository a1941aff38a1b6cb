//! Oversized and malformed requests get clear errors, and the server keeps serving.

use accommador_proto::{
    accommador::contacts::v1::{
        Contact, CreateContactRequest, ListContactsRequest, contacts_service_client::ContactsServiceClient,
    },
    status::{error_info, field_violations},
};
use accommador_tests::{Stack, TestDatabase, tenant_request};
use tonic::{Code, transport::Channel};

/// CreateContactRequest as it travels, but with the contact's first name as
/// raw bytes, so a test can send what no well-behaved client would.
#[derive(Clone, PartialEq, prost::Message)]
struct RawCreateContactRequest {
    #[prost(message, optional, tag = "1")]
    contact: Option<RawContact>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawContact {
    #[prost(bytes = "vec", tag = "3")]
    first_name: Vec<u8>,
}

/// ClaimImageRequest with its owner as raw bytes.
#[derive(Clone, PartialEq, prost::Message)]
struct RawClaimImageRequest {
    #[prost(string, tag = "1")]
    image_id: String,
    #[prost(bytes = "vec", tag = "2")]
    owner: Vec<u8>,
}

async fn still_serving(client: &mut ContactsServiceClient<Channel>) {
    let request = tenant_request("acme", ListContactsRequest::default());
    client.list_contacts(request).await.expect("the server keeps serving");
}

async fn create(client: &mut ContactsServiceClient<Channel>, contact: Contact) -> tonic::Status {
    let request = CreateContactRequest { contact: Some(contact), ..Default::default() };
    client.create_contact(tenant_request("acme", request)).await.expect_err("refused")
}

#[tokio::test]
async fn oversized_and_malformed_requests_are_refused_clearly() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.unwrap();
    let channel = stack.contacts.channel();
    let mut client = ContactsServiceClient::new(channel.clone()).max_encoding_message_size(32 << 20);

    // A 20 MB message: refused from its length prefix by the transport,
    // naming its limit (MAX_REQUEST_MESSAGE_BYTES).
    let request = CreateContactRequest {
        contact: Some(Contact { first_name: "Ada".into(), ..Default::default() }),
        profile_picture: vec![0xFF; 20_000_000],
        request_id: String::new(),
    };
    let status = client.create_contact(tenant_request("acme", request)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::MESSAGE_TOO_LARGE);
    assert!(status.message().contains("MAX_REQUEST_MESSAGE_BYTES"), "{}", status.message());
    still_serving(&mut client).await;

    // A 1 MB name and 10,000 distinct tags: one BadRequest naming both limits.
    let tags = (0..10_000).map(|n| format!("tag{n}")).collect();
    let status = create(&mut client, Contact { first_name: "n".repeat(1 << 20), tags, ..Default::default() }).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::CONTACT_INVALID);
    let violations = field_violations(&status);
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["contact.first_name", "contact.tags"]);
    assert!(
        violations[0].description.contains("1048576 characters; the limit is 100"),
        "{}",
        violations[0].description
    );
    assert!(
        violations[1].description.starts_with("10000 tags with more than 50 distinct ones (tags are case-insensitive)"),
        "{}",
        violations[1].description
    );
    assert!(status.message().len() < 1000, "the error does not echo the 1 MB name: {} bytes", status.message().len());
    still_serving(&mut client).await;

    // Invalid UTF-8 where a string is expected: the caller's mistake, said
    // in the service's own words (not tonic's INTERNAL "failed to decode").
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let raw = RawCreateContactRequest { contact: Some(RawContact { first_name: vec![b'A', 0xC3, 0x28, 0xFF] }) };
    let path = http::uri::PathAndQuery::from_static("/accommador.contacts.v1.ContactsService/CreateContact");
    let codec = tonic_prost::ProstCodec::<RawCreateContactRequest, Contact>::default();
    let status = grpc.unary(tenant_request("acme", raw), path, codec).await.unwrap_err();
    assert_malformed(&status, "Contact.first_name", "contacts.accommador");
    still_serving(&mut client).await;

    let mut media = tonic::client::Grpc::new(stack.media.channel());
    media.ready().await.unwrap();
    let raw = RawClaimImageRequest { image_id: "x".into(), owner: vec![0xFF, 0xFE] };
    let path = http::uri::PathAndQuery::from_static("/accommador.media.v1.MediaService/ClaimImage");
    let codec = tonic_prost::ProstCodec::<RawClaimImageRequest, Contact>::default();
    let status = media.unary(tenant_request("acme", raw), path, codec).await.unwrap_err();
    assert_malformed(&status, "ClaimImageRequest.owner", "media.accommador");
}

/// INVALID_ARGUMENT with reason MALFORMED_MESSAGE in `domain`, naming the
/// field and the problem, and never the bytes received.
fn assert_malformed(status: &tonic::Status, field: &str, domain: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let info = error_info(status).unwrap_or_else(|| panic!("ErrorInfo attached: {status:?}"));
    assert_eq!((info.reason.as_str(), info.domain.as_str()), (accommador_proto::reasons::MALFORMED_MESSAGE, domain));
    let message = status.message();
    assert!(message.contains(field) && message.contains("not UTF-8"), "names field and problem: {message}");
    assert!(!message.contains('\u{FFFD}') && !message.contains("\\x"), "no echo of the bytes: {message}");
}

/// A body that ends inside a message is the caller's broken request:
/// INVALID_ARGUMENT MALFORMED_MESSAGE saying how far it got, not tonic's
/// INTERNAL "Unexpected EOF".
#[tokio::test]
async fn a_body_cut_off_inside_a_message_is_malformed_not_internal() {
    let database = TestDatabase::sqlite();
    let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
    let addr = stack.contacts.addr();
    let connection = accommador_tests::raw::connect(addr).await.unwrap();
    let path = "/accommador.contacts.v1.ContactsService/ListContacts";
    let mut declared_100_sent_10 = vec![0, 0, 0, 0, 100];
    declared_100_sent_10.extend([0x18; 10]);
    let cases = [
        (declared_100_sent_10, "after 10 of the 100 bytes"),
        (vec![0, 0, 0], "3 bytes into a message's 5-byte length prefix"),
    ];
    for (body, said) in cases {
        let status = accommador_tests::raw::unary(&connection, addr, path, &[("x-tenant-id", "acme")], body.into())
            .await
            .unwrap();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let info = error_info(&status).unwrap_or_else(|| panic!("ErrorInfo attached: {status:?}"));
        assert_eq!(info.reason, accommador_proto::reasons::MALFORMED_MESSAGE, "{status:?}");
        assert!(status.message().contains(said), "{}", status.message());
    }
    let mut client = stack.contacts_client();
    still_serving(&mut client).await;
}
