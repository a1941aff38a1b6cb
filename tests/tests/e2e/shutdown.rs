//! SIGTERM under load: calls in flight complete, new ones are refused, the
//! process exits in time, and no acknowledged write is lost.

use std::time::Duration;

use accommador_proto::accommador::contacts::v1::{
    Contact, CreateContactRequest, GetContactRequest, contacts_service_client::ContactsServiceClient,
};
use accommador_tests::{Stack, databases, pictures::jpeg, start_contacts, tenant_request};
use tonic::Code;

#[tokio::test]
async fn sigterm_under_load_loses_no_acknowledged_write() {
    for database in databases().await {
        let Stack { media, contacts, dir } = Stack::start(&database, &[], &[]).await.unwrap();
        let client = ContactsServiceClient::new(contacts.channel()).max_encoding_message_size(8 << 20);
        let pictures: Vec<Vec<u8>> = (0..24).map(|seed| jpeg(1200, 900, 100 + seed)).collect();
        let calls = pictures.into_iter().enumerate().map(|(n, picture)| {
            let mut client = client.clone();
            async move {
                // Spread the calls so some arrive after the signal.
                tokio::time::sleep(Duration::from_millis(20 * n as u64)).await;
                let request = CreateContactRequest {
                    contact: Some(Contact { first_name: format!("Load{n}"), ..Default::default() }),
                    profile_picture: picture,
                    request_id: format!("shutdown-{n}"),
                };
                client.create_contact(tenant_request("acme", request)).await.map(|r| r.into_inner().id)
            }
        });
        let load = tokio::spawn(futures::future::join_all(calls));
        tokio::time::sleep(Duration::from_millis(150)).await;
        let exit = contacts.terminate().await.unwrap();
        assert!(exit.success(), "{}: graceful exit, got {exit}", database.name);
        let results = load.await.unwrap();

        let acknowledged: Vec<String> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
        assert!(!acknowledged.is_empty(), "{}: calls in flight completed", database.name);
        for status in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(status.code(), Code::Unavailable | Code::Cancelled | Code::Unknown | Code::ResourceExhausted),
                "{}: refused, not failed: {status:?}",
                database.name
            );
        }

        let contacts = start_contacts(dir.path(), &media, &database, &[]).await.unwrap();
        let mut client = ContactsServiceClient::new(contacts.channel());
        for id in &acknowledged {
            let request = GetContactRequest { id: id.clone(), revision: 0 };
            client
                .get_contact(tenant_request("acme", request))
                .await
                .unwrap_or_else(|status| panic!("{}: acknowledged contact {id} lost: {status:?}", database.name));
        }
    }
}
