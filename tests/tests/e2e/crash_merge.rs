//! contacts-svc killed (SIGKILL) in the middle of merging, again and again:
//! after each restart no merge is half-applied.

use std::{collections::HashSet, time::Duration};

use accommador_proto::accommador::contacts::v1::{
    Contact, CreateContactRequest, GetContactRequest, MergeContactsRequest,
    contacts_service_client::ContactsServiceClient,
};
use accommador_tests::{Stack, databases, requests::first_page, start_contacts, tenant_request};
use tonic::transport::Channel;

const CONTACTS: usize = 24;
const CRASHES: usize = 4;

/// Merges random pairs until the server goes away.
async fn merge_until_killed(mut client: ContactsServiceClient<Channel>, ids: Vec<String>) {
    loop {
        let pick =
            |salt: u128| ids[(uuid::Uuid::new_v4().as_u128().wrapping_add(salt) % ids.len() as u128) as usize].clone();
        let (primary, duplicate) = (pick(0), pick(1));
        let request = MergeContactsRequest { primary_id: primary, duplicate_id: duplicate, ..Default::default() };
        if let Err(status) = client.merge_contacts(tenant_request("acme", request)).await
            && status.code() == tonic::Code::Unavailable
        {
            return;
        }
    }
}

#[tokio::test]
async fn merges_interrupted_by_sigkill_are_all_or_nothing() {
    for database in databases().await {
        let Stack { media, contacts, dir } = Stack::start(&database, &[], &[]).await.unwrap();
        let mut client = ContactsServiceClient::new(contacts.channel());
        let mut ids = Vec::new();
        for n in 0..CONTACTS {
            let contact =
                Contact { first_name: format!("C{n}"), email: format!("c{n}@example.com"), ..Default::default() };
            let request = CreateContactRequest { contact: Some(contact), ..Default::default() };
            ids.push(client.create_contact(tenant_request("acme", request)).await.unwrap().into_inner().id);
        }

        let mut contacts = contacts;
        for _ in 0..CRASHES {
            let merging = tokio::spawn(merge_until_killed(ContactsServiceClient::new(contacts.channel()), ids.clone()));
            let delay = 50 + (uuid::Uuid::new_v4().as_u128() % 250) as u64;
            tokio::time::sleep(Duration::from_millis(delay)).await;
            contacts.kill().unwrap();
            merging.await.unwrap();
            contacts = start_contacts(dir.path(), &media, &database, &[]).await.unwrap();
        }

        let mut client = ContactsServiceClient::new(contacts.channel());
        let mut survivors = HashSet::new();
        for id in &ids {
            let found =
                client.get_contact(tenant_request("acme", GetContactRequest { id: id.clone(), revision: 0 })).await;
            let survivor = found.unwrap_or_else(|s| panic!("{}: {id} lost: {s:?}", database.name)).into_inner();
            let again = client
                .get_contact(tenant_request("acme", GetContactRequest { id: survivor.id.clone(), revision: 0 }))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(again.id, survivor.id, "{}: a survivor is never merged away itself", database.name);
            if &survivor.id != id {
                assert!(
                    survivor.merged_contact_ids.contains(id),
                    "{}: {id} is merged into {} but not recorded there: half-applied merge",
                    database.name,
                    survivor.id
                );
            }
            survivors.insert(survivor.id);
        }
        let listed = first_page(&mut client, "acme").await;
        let listed: HashSet<String> = listed.into_iter().map(|c| c.id).collect();
        assert_eq!(listed, survivors, "{}: the list shows exactly the survivors", database.name);
        assert!(survivors.len() < CONTACTS, "{}: some merges happened between the crashes", database.name);
    }
}
