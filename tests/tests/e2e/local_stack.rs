//! The suite runs beside the local stack (`deploy/local-stack.sh`), as a
//! newcomer following the README has it: no server a test starts may bind,
//! or talk to, a service's default port.

use std::{net::TcpListener, path::Path, process::Command};

use accommador_proto::accommador::contacts::v1::contacts_service_client::ContactsServiceClient;
use accommador_tests::{
    Server, Stack, TestDatabase,
    pictures::photo,
    requests::{create_request, named},
    servers::INHERITED_SETTINGS_REMOVED,
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

/// What the builder passes to a child: `(name, Some(value))` set, `(name, None)` removed.
fn settings(command: &Command) -> Vec<(String, Option<String>)> {
    command
        .get_envs()
        .map(|(key, value)| {
            (key.to_string_lossy().into_owned(), value.map(|value| value.to_string_lossy().into_owned()))
        })
        .collect()
}

#[test]
fn every_listen_address_is_port_zero_and_no_default_port_is_named() {
    for server in [Server::contacts(), Server::media()] {
        let command = server.dir(Path::new("/nonexistent")).command();
        let settings = settings(&command);
        for (key, value) in &settings {
            let Some(value) = value else { continue };
            if key.ends_with("_LISTEN") {
                assert!(value.ends_with(":0"), "{key}={value} is not port 0");
            }
            for port in DEFAULT_PORTS {
                assert!(!value.ends_with(&format!(":{port}")), "{key}={value} names a default port");
            }
        }
        for key in INHERITED_SETTINGS_REMOVED {
            assert!(
                settings.iter().any(|(set, _)| set == key),
                "{key} is neither set nor removed: the child would inherit the shell's"
            );
        }
    }
}

#[test]
fn a_setting_the_test_gives_wins_over_the_builders() {
    let command = Server::media().env("METRICS_LISTEN", "127.0.0.1:1234").command();
    let metrics: Vec<_> =
        settings(&command).into_iter().filter(|(key, _)| key == "METRICS_LISTEN").map(|(_, v)| v).collect();
    assert_eq!(metrics, [Some("127.0.0.1:1234".to_owned())]);
}
