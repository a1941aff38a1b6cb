//! The claim outbox closes the crash window between storing a picture and
//! claiming it: media-svc stops after the upload, before the claim, and
//! when it comes back the claim still arrives before its janitor would have
//! deleted the unclaimed picture.

use std::time::Duration;

use accommador_proto::accommador::{
    contacts::v1::{GetContactRequest, contacts_service_client::ContactsServiceClient},
    media::v1::{UploadImageRequest, media_service_client::MediaServiceClient},
};
use accommador_tests::{
    Stack, databases,
    pictures::jpeg,
    requests::{create_request, named},
    restart_media, tenant_request,
};

/// media-svc deletes unclaimed uploads this long after upload; short for the test.
const GRACE: Duration = Duration::from_secs(12);
/// contacts-svc delivers claims at this pace.
const CLAIM_INTERVAL: Duration = Duration::from_secs(4);

#[tokio::test]
async fn a_claim_queued_while_media_is_down_is_delivered_when_it_returns() {
    for database in databases().await {
        let media_env = [("MEDIA_PENDING_GRACE", "12s".to_owned()), ("MEDIA_JANITOR_INTERVAL", "500ms".to_owned())];
        let contacts_env = [("CLAIM_RETRY_INTERVAL", "4s".to_owned())];
        let stack = Stack::start(&database, &media_env, &contacts_env).await.unwrap();
        let mut contacts = ContactsServiceClient::new(stack.contacts.channel());
        let bytes = jpeg(400, 400, 9);

        // contacts-svc's first delivery pass ran at startup; the next is CLAIM_INTERVAL later.
        let request = create_request(named("Ada"), bytes.clone());
        let created = contacts.create_contact(tenant_request("acme", request)).await.unwrap().into_inner();
        let media_addr = stack.media.addr();
        let Stack { media, contacts: contacts_process, dir } = stack;
        media.kill().unwrap(); // a crash, right after the upload and before the claim

        // The delivery attempt while media-svc is down fails; then it comes back.
        tokio::time::sleep(CLAIM_INTERVAL + Duration::from_secs(1)).await;
        let media = restart_media(media_addr, dir.path(), &media_env).await.unwrap();

        // Past the grace period, with the janitor sweeping twice a second.
        tokio::time::sleep(GRACE).await;
        let survivor = contacts
            .get_contact(tenant_request("acme", GetContactRequest { id: created.id.clone(), revision: 0 }))
            .await
            .unwrap()
            .into_inner();
        let picture = survivor.profile_picture.expect("picture reference");
        assert_eq!(picture.renditions.len(), 2, "{}: the picture survived the janitor", database.name);
        let response = reqwest::get(&picture.renditions[1].url).await.unwrap();
        assert_eq!(response.status(), 200, "{}", database.name);

        // Uploading the same bytes again finds the image claimed.
        let again = MediaServiceClient::new(media.channel())
            .upload_image(tenant_request("acme", UploadImageRequest { data: bytes, request_id: String::new() }))
            .await
            .unwrap()
            .into_inner();
        assert!(again.claimed, "{}: the claim was delivered", database.name);
        drop(contacts_process);
    }
}
