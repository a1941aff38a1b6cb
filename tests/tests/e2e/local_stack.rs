//! The suite runs beside the local stack (`deploy/local-stack.sh`), as a
//! newcomer following the README has it: no server a test starts may bind,
//! or talk to, a service's default port.

use std::net::TcpListener;

use accommador_proto::accommador::contacts::v1::contacts_service_client::ContactsServiceClient;
use accommador_tests::{
    Server, Stack, TestDatabase,
    pictures::photo,
    requests::{create_request, named},
    tenant_request,
};

/// The ports the local stack listens on: the services' defaults (gRPC, the
/// embedded S3 server, metrics).
const DEFAULT_PORTS: [u16; 5] = [50051, 50052, 50053, 9464, 9465];

#[tokio::test]
async fn both_services_start_and_serve_while_the_default_ports_are_taken() {
    // Taken here, or already taken by a running local stack: either way
    // a server that binds one of them fails to start.
    let _held: Vec<TcpListener> =
        DEFAULT_PORTS.into_iter().filter_map(|port| TcpListener::bind(("127.0.0.1", port)).ok()).collect();

    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.expect("both services start");
    let mut client = ContactsServiceClient::new(stack.contacts.channel());
    let created = client
        .create_contact(tenant_request("acme", create_request(named("Ada"), photo(1))))
        .await
        .expect("contacts-svc reaches its own media-svc")
        .into_inner();
    let url = &created.profile_picture.expect("a picture").renditions[0].url;
    for port in DEFAULT_PORTS {
        assert!(!url.contains(&format!(":{port}/")), "signed for a default port: {url}");
    }
    assert!(stack.media.metrics().await.unwrap().contains("grpc_server_handled_total"), "metrics served");
    assert_eq!(reqwest::get(url).await.unwrap().status(), 200, "{url}");

    let dir = tempfile::tempdir().unwrap();
    let output = Server::media().dir(dir.path()).command().arg("healthcheck").output().unwrap();
    assert!(!output.status.success(), "a probe of nothing fails instead of reaching a default port");
}
