//! Faults between the services: a hung media-svc must cost callers no more
//! than their own deadline, and the deadline travels on to media-svc.

use std::time::{Duration, Instant};

use accommador_proto::accommador::contacts::v1::{
    Contact, CreateContactRequest, ListContactsRequest, contacts_service_client::ContactsServiceClient,
};
use accommador_proto::tenant::{GRPC_TIMEOUT_HEADER, grpc_timeout};
use accommador_tests::{Stack, TestDatabase, pictures::jpeg, tenant_request};
use tonic::Code;

#[tokio::test]
async fn a_hung_media_svc_costs_callers_only_their_deadline() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[("MEDIA_TIMEOUT", "30s".to_owned())]).await.unwrap();
    let mut client = ContactsServiceClient::new(stack.contacts.channel());
    let request = CreateContactRequest {
        contact: Some(Contact { first_name: "Ada".into(), ..Default::default() }),
        profile_picture: jpeg(400, 400, 1),
        request_id: "hung-media-1".into(),
    };

    stack.media.pause().unwrap();
    let mut call = tenant_request("acme", request.clone());
    call.set_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let status = client.create_contact(call).await.unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled), "{status:?}");
    assert!(waited < Duration::from_secs(5), "the caller waited {waited:?}, not its 1 s deadline");

    stack.media.resume().unwrap();
    let listed = client.list_contacts(tenant_request("acme", ListContactsRequest::default())).await.unwrap();
    assert!(listed.into_inner().contacts.is_empty(), "nothing was created");

    // The same request id succeeds once media-svc answers again, and media-svc
    // receives what is left of the caller's deadline, not its own default.
    let mut retry = tenant_request("acme", request);
    retry.set_timeout(Duration::from_secs(20));
    let created = client.create_contact(retry).await.expect("retry succeeds");
    assert!(created.into_inner().profile_picture.is_some());
    let media_log = stack.media.log();
    let upload_line = media_log
        .lines()
        .find(|line| line.contains("MediaService/UploadImage") && line.contains("image stored"))
        .unwrap_or_else(|| panic!("media-svc logged the retried upload:\n{media_log}"));
    let sent = upload_line
        .split("deadline=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| panic!("media-svc's span carries the propagated deadline: {upload_line}"));
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert(GRPC_TIMEOUT_HEADER, sent.parse().unwrap());
    let budget = grpc_timeout(&metadata).unwrap_or_else(|| panic!("a valid grpc-timeout: {sent}"));
    let millis = budget.as_millis();
    assert!(
        (1..=20_000).contains(&millis),
        "the caller's 20 s, less what was spent, not media-svc's 30 s timeout: {millis} ms"
    );
}
