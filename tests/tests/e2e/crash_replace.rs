//! contacts-svc killed (SIGKILL) in the middle of replacing pictures, again
//! and again: after each restart every contact is unchanged or fully
//! replaced, and no contact that carried a picture is ever live.

use std::{collections::HashSet, time::Duration};

use accommador_proto::accommador::contacts::v1::{
    Contact, CreateContactRequest, GetContactRequest, ReplaceProfilePictureRequest,
    contacts_service_client::ContactsServiceClient,
};
use accommador_tests::{Stack, databases, pictures::photo, requests::first_page, start_contacts, tenant_request};
use tonic::transport::Channel;

const CONTACTS: usize = 8;
const CRASHES: usize = 4;

/// Replaces random contacts' pictures until the server goes away.
async fn replace_until_killed(mut client: ContactsServiceClient<Channel>, ids: Vec<String>) {
    loop {
        let random = uuid::Uuid::new_v4().as_u128();
        let id = ids[(random % ids.len() as u128) as usize].clone();
        let picture = photo((random >> 64) as u32);
        let request = ReplaceProfilePictureRequest { id, profile_picture: picture, ..Default::default() };
        if let Err(status) = client.replace_profile_picture(tenant_request("acme", request)).await
            && status.code() == tonic::Code::Unavailable
        {
            return;
        }
    }
}

async fn get(client: &mut ContactsServiceClient<Channel>, id: &str, revision: i64) -> Contact {
    let request = GetContactRequest { id: id.into(), revision };
    client.get_contact(tenant_request("acme", request)).await.unwrap().into_inner()
}

#[tokio::test]
async fn replacements_interrupted_by_sigkill_are_all_or_nothing() {
    for database in databases().await {
        let Stack { media, contacts, dir } = Stack::start(&database, &[], &[]).await.unwrap();
        let mut client = ContactsServiceClient::new(contacts.channel());
        let mut originals = Vec::new();
        for n in 0..CONTACTS {
            let contact =
                Contact { first_name: format!("C{n}"), email: format!("c{n}@example.com"), ..Default::default() };
            let picture = if n % 2 == 0 { photo(n as u32) } else { Vec::new() };
            let request =
                CreateContactRequest { contact: Some(contact), profile_picture: picture, ..Default::default() };
            originals.push(client.create_contact(tenant_request("acme", request)).await.unwrap().into_inner());
        }
        let ids: Vec<String> = originals.iter().map(|c| c.id.clone()).collect();

        let mut contacts = contacts;
        for _ in 0..CRASHES {
            let replacing =
                tokio::spawn(replace_until_killed(ContactsServiceClient::new(contacts.channel()), ids.clone()));
            let delay = 100 + (uuid::Uuid::new_v4().as_u128() % 400) as u64;
            tokio::time::sleep(Duration::from_millis(delay)).await;
            contacts.kill().unwrap();
            replacing.await.unwrap();
            contacts = start_contacts(dir.path(), &media, &database, &[]).await.unwrap();
        }

        let mut client = ContactsServiceClient::new(contacts.channel());
        let mut replacements = 0;
        for original in &originals {
            let latest = get(&mut client, &original.id, 0).await;
            let what = format!("{}: {}", database.name, original.first_name);
            assert_eq!(latest.id, original.id, "{what}: never merged away");
            let replaced = (latest.revision - 1) as usize;
            assert_eq!(latest.merged_contact_ids.len(), replaced, "{what}: one carrier per new revision");
            replacements += replaced;
            let fields = |c: &Contact| (c.first_name.clone(), c.email.clone(), c.additional_emails.clone());
            assert_eq!(fields(&latest), fields(original), "{what}: only the picture changes");
            // Each revision after the first wears exactly what its carrier brought.
            for revision in 2..=latest.revision {
                let at = get(&mut client, &original.id, revision).await;
                let carrier_id = at.merged_contact_ids.last().unwrap();
                let carrier = get(&mut client, carrier_id, 1).await;
                let image = |c: &Contact| c.profile_picture.as_ref().map(|p| p.image_id.clone());
                assert!(image(&at).is_some(), "{what}: revision {revision} has a picture");
                assert_eq!(image(&at), image(&carrier), "{what}: revision {revision} wears its carrier's picture");
                assert_eq!(get(&mut client, carrier_id, 0).await.id, original.id, "{what}: {carrier_id} resolves");
            }
        }
        let listed: HashSet<String> = first_page(&mut client, "acme").await.into_iter().map(|c| c.id).collect();
        assert_eq!(listed, ids.iter().cloned().collect(), "{}: no carrier is live", database.name);
        assert!(replacements > 0, "{}: some replacements happened between the crashes", database.name);
    }
}
