//! media-svc killed (SIGKILL) at random points, again and again, while
//! contacts are created with pictures and merged: after restarts and the
//! janitor's grace period, every contact's picture exists, no unclaimed
//! object is left, and no merge is half-applied.

use std::{collections::HashSet, time::Duration};

use accommador_proto::accommador::contacts::v1::contacts_service_client::ContactsServiceClient;
use accommador_tests::{
    Stack, TestDatabase, embedded_objects,
    pictures::jpeg,
    requests::{create_request, first_page, merge_request, named},
    restart_media, tenant_request,
};
use tonic::transport::Channel;

const GRACE_SECONDS: u64 = 6;
const CRASHES: usize = 4;

/// Creates contacts with pictures, merging every third into the previous one
/// (taking its picture), until `stop` is set. Failures are expected while
/// media-svc is down.
async fn workload(mut client: ContactsServiceClient<Channel>, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let mut previous: Option<String> = None;
    let mut n = 0u32;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        n += 1;
        let picture = jpeg(640, 480, 1000 + n);
        let request = create_request(named(&format!("W{n}")), picture);
        let Ok(created) = client.create_contact(tenant_request("acme", request)).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let id = created.into_inner().id;
        if n.is_multiple_of(3)
            && let Some(primary) = previous.take()
        {
            let request = merge_request(&primary, &id, &["profile_picture"], "");
            let _ = client.merge_contacts(tenant_request("acme", request)).await;
        }
        previous = Some(id);
    }
}

#[tokio::test]
async fn media_svc_crashes_leave_no_missing_picture_and_no_orphan() {
    let database = TestDatabase::sqlite();
    let media_env =
        [("MEDIA_PENDING_GRACE", format!("{GRACE_SECONDS}s")), ("MEDIA_JANITOR_INTERVAL", "500ms".to_owned())];
    let Stack { media, contacts, dir } = Stack::start(&database, &media_env, &[]).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn(workload(ContactsServiceClient::new(contacts.channel()), stop.clone()));

    let addr = media.addr();
    let mut media = media;
    for _ in 0..CRASHES {
        tokio::time::sleep(Duration::from_millis(300 + (uuid::Uuid::new_v4().as_u128() % 700) as u64)).await;
        media.kill().unwrap();
        tokio::time::sleep(Duration::from_millis((uuid::Uuid::new_v4().as_u128() % 400) as u64)).await;
        media = restart_media(addr, dir.path(), &media_env).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    load.await.unwrap();

    // Past the grace period: the outbox has delivered, the janitor has swept.
    tokio::time::sleep(Duration::from_secs(GRACE_SECONDS + 3)).await;

    let mut client = ContactsServiceClient::new(contacts.channel());
    let listed = first_page(&mut client, "acme").await;
    assert!(listed.len() >= 3, "the workload created contacts between crashes: {}", listed.len());
    let mut referenced = HashSet::new();
    for contact in &listed {
        let picture = contact.profile_picture.as_ref().unwrap_or_else(|| panic!("{} has no picture", contact.id));
        assert_eq!(picture.renditions.len(), 2, "{}: picture {} is missing", contact.first_name, picture.image_id);
        let response = reqwest::get(&picture.renditions[1].url).await.unwrap();
        assert_eq!(response.status(), 200, "{}: picture not fetchable", contact.first_name);
        referenced.insert(picture.image_id.clone());
    }
    // Pictures of merged-away contacts stay claimed too (their ids still resolve to survivors).
    let stored = embedded_objects(dir.path(), "acme", "images");
    assert!(referenced.is_subset(&stored), "every referenced picture is stored");
    let leases = embedded_objects(dir.path(), "acme", "pending");
    assert!(leases.is_empty(), "no unclaimed upload older than the grace period remains: {leases:?}");
    let _ = media;
}
