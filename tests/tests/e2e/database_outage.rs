//! Database unreachable: contacts-svc answers UNAVAILABLE (retryable), not
//! INTERNAL, and recovers by itself when PostgreSQL returns, with nothing
//! lost. The test runs its own PostgreSQL cluster so it can stop it.

use std::{path::Path, process::Command, time::Duration};

use accommador_proto::{
    accommador::contacts::v1::{
        Contact, CreateContactRequest, GetContactRequest, ListContactsRequest,
        contacts_service_client::ContactsServiceClient,
    },
    status::error_info,
};
use accommador_tests::{Stack, TestDatabase, tenant_request};
use tonic::Code;

fn postgres(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("postgres.sh");
    let output = Command::new(script).args(args).output().expect("run tests/postgres.sh");
    assert!(output.status.success(), "postgres.sh {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn a_lost_database_is_unavailable_and_recovered_without_a_restart() {
    if std::env::var_os("TEST_POSTGRES_URL").is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must run the PostgreSQL leg (tests/run.sh installs PostgreSQL)");
        eprintln!("TEST_POSTGRES_URL not set: skipping");
        return;
    }
    let cluster = tempfile::tempdir().unwrap();
    // PostgreSQL runs as its own user and must reach the folder.
    std::fs::set_permissions(cluster.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let folder = cluster.path().join("pg");
    let folder = folder.to_str().unwrap();
    let exports = postgres(&[folder]);
    let url = exports.trim().strip_prefix("export TEST_POSTGRES_URL=").expect("the URL").to_owned();

    let database = TestDatabase { name: "postgres", url: Some(url) };
    let stack = Stack::start(&database, &[], &[]).await.unwrap();
    let mut client = ContactsServiceClient::new(stack.contacts.channel());
    let create = |name: &str| {
        let contact = Contact { first_name: name.into(), ..Default::default() };
        tenant_request("acme", CreateContactRequest { contact: Some(contact), ..Default::default() })
    };
    let before = client.create_contact(create("Before")).await.unwrap().into_inner();

    postgres(&["--stop", folder]);
    for (rpc, outcome) in [
        ("CreateContact", client.create_contact(create("During")).await.map(drop)),
        ("ListContacts", client.list_contacts(tenant_request("acme", ListContactsRequest::default())).await.map(drop)),
    ] {
        let status = outcome.expect_err(rpc);
        assert_eq!(status.code(), Code::Unavailable, "{rpc}: {status:?}");
        assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::DATABASE_UNAVAILABLE, "{rpc}");
    }

    postgres(&["--restart", folder]);
    let mut recovered = None;
    for _ in 0..50 {
        if let Ok(response) = client.create_contact(create("After")).await {
            recovered = Some(response.into_inner());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered.is_some(), "contacts-svc recovers by itself");
    let request = tenant_request("acme", GetContactRequest { id: before.id.clone(), revision: 0 });
    assert_eq!(client.get_contact(request).await.unwrap().into_inner().first_name, "Before", "nothing lost");
    let listed = client.list_contacts(tenant_request("acme", ListContactsRequest::default())).await.unwrap();
    let names: Vec<String> = listed.into_inner().contacts.into_iter().map(|c| c.first_name).collect();
    assert_eq!(names, ["After", "Before"], "the refused create left nothing behind");
    drop(stack);
    postgres(&["--stop", folder]);
}
