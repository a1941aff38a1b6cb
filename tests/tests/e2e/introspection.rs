//! Both real binaries start, answer health and reflection the way grpcurl
//! needs, refuse calls without a tenant, and stop cleanly on SIGTERM.

use accommador_proto::{
    accommador::{
        contacts::v1::{GetContactRequest, contacts_service_client::ContactsServiceClient},
        media::v1::{ValidateImageRequest, media_service_client::MediaServiceClient},
    },
    status::error_info,
};
use accommador_tests::{Server, ServerProcess, health_status};
use prost::Message;
use tonic::{Code, transport::Channel};
use tonic_health::pb::health_check_response::ServingStatus;

async fn start(server: Server, dir: &tempfile::TempDir) -> ServerProcess {
    server.dir(dir.path()).start().await.expect("server starts")
}

/// Asks reflection v1 for the file defining `symbol` and returns its descriptors.
async fn reflect_v1(channel: Channel, symbol: &str) -> Vec<prost_types::FileDescriptorProto> {
    reflect_v1_answer(channel, symbol)
        .await
        .unwrap_or_else(|other| panic!("expected a file descriptor for {symbol}, got {other:?}"))
}

/// Reflection v1's answer for `symbol`: its file descriptors, or what came instead.
async fn reflect_v1_answer(channel: Channel, symbol: &str) -> Result<Vec<prost_types::FileDescriptorProto>, String> {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_owned())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1 answers")
        .into_inner();
    let response = match responses.message().await {
        Ok(Some(response)) => response,
        Ok(None) => return Err("no response".into()),
        Err(status) => return Err(format!("{:?}: {}", status.code(), status.message())),
    };
    match response.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => Ok(files
            .file_descriptor_proto
            .iter()
            .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("valid descriptor"))
            .collect()),
        other => Err(format!("{other:?}")),
    }
}

/// Lists services through reflection v1alpha, the version grpcurl 1.8 speaks.
async fn list_services_v1alpha(channel: Channel) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1alpha answers")
        .into_inner();
    match responses.message().await.expect("stream ok").expect("one response").message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("expected a service list, got {other:?}"),
    }
}

/// Checks that `service` is described with `methods`, each with a doc comment.
async fn assert_described(channel: Channel, service: &str, methods: &[&str]) {
    let files = reflect_v1(channel, service).await;
    let (package, name) = service.rsplit_once('.').unwrap();
    let file = files
        .iter()
        .find(|file| file.package() == package && file.service.iter().any(|s| s.name() == name))
        .unwrap_or_else(|| panic!("no file defines {service}"));
    let descriptor = file.service.iter().find(|s| s.name() == name).unwrap();
    let found: Vec<&str> = descriptor.method.iter().map(|m| m.name()).collect();
    assert_eq!(found, methods, "methods of {service}");

    let comments: Vec<&str> = file
        .source_code_info
        .as_ref()
        .expect("descriptors keep source info so grpcurl can show comments")
        .location
        .iter()
        .filter_map(|location| location.leading_comments.as_deref())
        .collect();
    assert!(comments.len() > methods.len(), "{service} should carry doc comments, found {}", comments.len());
}

#[tokio::test]
async fn both_services_serve_health_reflection_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let media = start(Server::media(), &dir).await;
    let contacts = start(Server::contacts(), &dir).await;

    for (server, service, methods) in [
        (
            &contacts,
            "accommador.contacts.v1.ContactsService",
            &[
                "CreateContact",
                "GetContact",
                "ListContacts",
                "BatchGetContacts",
                "MergeContacts",
                "ReplaceProfilePicture",
                "UnmergeContacts",
                "RemoveProfilePicture",
                "EraseContact",
                "FindDuplicateContacts",
                "ListContactEvents",
                "WatchContactEvents",
            ][..],
        ),
        (
            &media,
            "accommador.media.v1.MediaService",
            &["ValidateImage", "UploadImage", "ClaimImage", "ReleaseImage", "SignImageUrls"][..],
        ),
    ] {
        assert_eq!(health_status(server.channel(), service).await, Some(ServingStatus::Serving), "{service} health");
        assert_described(server.channel(), service, methods).await;
        let listed = list_services_v1alpha(server.channel()).await;
        assert!(listed.contains(&service.to_owned()), "{service} missing from {listed:?}");
        assert!(listed.contains(&"grpc.health.v1.Health".to_owned()), "health missing from {listed:?}");
        assert!(
            !listed.iter().any(|name| name.starts_with("accommador.") && name != service),
            "{service}'s server lists the other service: {listed:?}"
        );
        assert_eq!(health_status(server.channel(), "liveness").await, Some(ServingStatus::Serving), "liveness");
    }
    // Nor does it describe the other's contract when asked by name.
    for (server, other) in
        [(&contacts, "accommador.media.v1.MediaService"), (&media, "accommador.contacts.v1.ContactsService")]
    {
        let answer = reflect_v1_answer(server.channel(), other).await;
        let refusal = answer.expect_err(&format!("{other} is described by the wrong server"));
        assert!(refusal.contains("NotFound") || refusal.contains("ErrorResponse"), "{other}: {refusal}");
    }

    assert!(media.terminate().await.unwrap().success(), "media-svc exits 0 on SIGTERM");
    assert!(contacts.terminate().await.unwrap().success(), "contacts-svc exits 0 on SIGTERM");
}

#[tokio::test]
async fn calls_without_a_valid_tenant_are_invalid_argument_with_error_info() {
    let dir = tempfile::tempdir().unwrap();
    let media = start(Server::media(), &dir).await;
    let contacts = start(Server::contacts(), &dir).await;

    let status = ContactsServiceClient::new(contacts.channel())
        .get_contact(GetContactRequest { id: "x".into(), revision: 0 })
        .await
        .expect_err("no tenant");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("x-tenant-id"), "message names the metadata key: {}", status.message());
    let info = error_info(&status).expect("ErrorInfo attached");
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        (accommador_proto::reasons::TENANT_ID_INVALID, "contacts.accommador")
    );

    let request = accommador_tests::tenant_request("bad/tenant", ValidateImageRequest { data: vec![] });
    let status = MediaServiceClient::new(media.channel()).validate_image(request).await.expect_err("bad tenant");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(error_info(&status).expect("ErrorInfo").domain, "media.accommador");
}
