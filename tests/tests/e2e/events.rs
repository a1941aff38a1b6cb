//! ListContactEvents end to end, on SQLite and PostgreSQL: every write
//! announces exactly its events, numbered without gaps in the order the
//! writes committed; a failed write announces nothing; pages, cursors,
//! tenants and retention behave as the proto says.

use std::time::Duration;

use accommador_proto::{
    accommador::contacts::v1::{
        Contact, ContactEvent, EraseContactRequest, ListContactEventsRequest, RemoveProfilePictureRequest,
        ReplaceProfilePictureRequest, UnmergeContactsRequest, contact_event::Kind,
        contacts_service_client::ContactsServiceClient,
    },
    reasons,
    status::error_info,
};
use accommador_tests::{
    Stack, databases,
    pictures::photo,
    requests::{create_request, merge_request},
    tenant_request,
};
use tonic::{Code, Status, transport::Channel};

type Client = ContactsServiceClient<Channel>;

async fn page(
    client: &mut Client,
    tenant: &str,
    after: &str,
    page_size: i32,
) -> Result<(Vec<ContactEvent>, String), Status> {
    let request = ListContactEventsRequest { after: after.into(), page_size };
    let answer = client.list_contact_events(tenant_request(tenant, request)).await?.into_inner();
    Ok((answer.events, answer.next_cursor))
}

/// The whole feed of `tenant`, read `page_size` at a time.
async fn feed(client: &mut Client, tenant: &str, page_size: i32) -> Vec<ContactEvent> {
    let (mut all, mut after) = (Vec::new(), String::new());
    loop {
        let (events, next) = page(client, tenant, &after, page_size).await.unwrap();
        if events.is_empty() {
            return all;
        }
        all.extend(events);
        after = next;
    }
}

/// An event as a short line: its type and ids (revisions where they matter).
fn line(event: &ContactEvent) -> String {
    match event.kind.as_ref().unwrap() {
        Kind::Created(e) => format!("created {} image={}", e.contact_id, !e.image_id.is_empty()),
        Kind::Merged(e) => {
            format!("merged {} <- {} r{} {:?}", e.primary_id, e.duplicate_id, e.revision, e.fields_taken)
        }
        Kind::PictureChanged(e) => format!("picture {} r{} image={}", e.contact_id, e.revision, !e.image_id.is_empty()),
        Kind::Unmerged(e) => {
            format!("unmerged {} -> {} r{} r{}", e.primary_id, e.duplicate_id, e.primary_revision, e.duplicate_revision)
        }
        Kind::Erased(e) => format!("erased {:?}", e.contact_ids),
    }
}

async fn create(client: &mut Client, tenant: &str, name: &str, picture: Vec<u8>) -> Result<Contact, Status> {
    let contact = Contact { first_name: name.into(), ..Default::default() };
    client
        .create_contact(tenant_request(tenant, create_request(contact, picture)))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn every_write_announces_exactly_its_events_in_commit_order() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let a = create(&mut client, "acme", "Ada", photo(1)).await.unwrap();
        let b = create(&mut client, "acme", "Bea", photo(2)).await.unwrap();
        let c = create(&mut client, "acme", "Cid", vec![]).await.unwrap();
        let merged =
            client.merge_contacts(tenant_request("acme", merge_request(&a.id, &b.id, &["profile_picture"], "")));
        let merged = merged.await.unwrap().into_inner();
        let replace =
            ReplaceProfilePictureRequest { id: a.id.clone(), profile_picture: photo(3), ..Default::default() };
        let replaced = client.replace_profile_picture(tenant_request("acme", replace)).await.unwrap().into_inner();
        let takedown = RemoveProfilePictureRequest { id: a.id.clone(), reason: "wrong".into(), ..Default::default() };
        let removed = client.remove_profile_picture(tenant_request("acme", takedown)).await.unwrap().into_inner();
        let unmerge =
            UnmergeContactsRequest { primary_id: a.id.clone(), duplicate_id: b.id.clone(), ..Default::default() };
        let unmerged = client.unmerge_contacts(tenant_request("acme", unmerge)).await.unwrap().into_inner();
        let erase = EraseContactRequest { id: c.id.clone(), reason: "GDPR".into(), ..Default::default() };
        client.erase_contact(tenant_request("acme", erase)).await.unwrap();
        // Refused writes announce nothing.
        let refused = client.merge_contacts(tenant_request("acme", merge_request(&a.id, &a.id, &[], ""))).await;
        assert!(refused.is_err(), "{name}");

        let (primary, duplicate) = (unmerged.primary.unwrap(), unmerged.duplicate.unwrap());
        let expected = vec![
            format!("created {} image=true", a.id),
            format!("created {} image=true", b.id),
            format!("created {} image=false", c.id),
            format!("merged {} <- {} r{} [\"profile_picture\"]", a.id, b.id, merged.revision),
            format!("picture {} r{} image=true", a.id, merged.revision),
            format!("picture {} r{} image=true", a.id, replaced.revision),
            format!("picture {} r{} image=false", a.id, removed.revision),
            format!("unmerged {} -> {} r{} r{}", a.id, b.id, primary.revision, duplicate.revision),
            format!("erased [\"{}\"]", c.id),
        ];
        let events = feed(&mut client, "acme", 100).await;
        let lines: Vec<String> = events.iter().map(line).collect();
        assert_eq!(lines, expected, "{name}");
        let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=expected.len() as i64).collect::<Vec<_>>(), "{name}: numbered without gaps");
        assert!(events.iter().all(|e| e.event_time.is_some() && !e.event_id.is_empty()), "{name}");
        // Page by page, and resuming from any event's cursor, gives the same feed.
        assert_eq!(feed(&mut client, "acme", 2).await, events, "{name}: two at a time");
        let (rest, next) = page(&mut client, "acme", &events[4].cursor, 100).await.unwrap();
        assert_eq!(rest, events[5..], "{name}: after the fifth event");
        assert_eq!(next, events.last().unwrap().cursor, "{name}");
        let (none, same) = page(&mut client, "acme", &next, 100).await.unwrap();
        assert!(none.is_empty() && same == next, "{name}: nothing after the last; the cursor stays");
        // Another tenant has its own feed.
        assert!(feed(&mut client, "globex", 100).await.is_empty(), "{name}");

        // A create that fails because media-svc is down announces nothing.
        let Stack { media, contacts, dir: _dir } = stack;
        media.terminate().await.unwrap();
        let mut client = ContactsServiceClient::new(contacts.channel());
        let failed = create(&mut client, "acme", "Dan", photo(4)).await.unwrap_err();
        assert_eq!(failed.code(), Code::Unavailable, "{name}: {failed:?}");
        assert_eq!(feed(&mut client, "acme", 100).await, events, "{name}: no event for what did not happen");
    }
}

#[tokio::test]
async fn concurrent_merges_are_each_announced_once_without_gaps() {
    const PAIRS: usize = 24;
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        let mut pairs = Vec::new();
        for n in 0..PAIRS {
            let primary = create(&mut client, "acme", &format!("P{n}"), vec![]).await.unwrap();
            let duplicate = create(&mut client, "acme", &format!("D{n}"), vec![]).await.unwrap();
            pairs.push((primary.id, duplicate.id));
        }
        let merges: Vec<_> = pairs
            .iter()
            .map(|(primary, duplicate)| {
                let mut client = client.clone();
                let request = merge_request(primary, duplicate, &[], "");
                tokio::spawn(async move { client.merge_contacts(tenant_request("acme", request)).await })
            })
            .collect();
        for merge in merges {
            merge.await.unwrap().unwrap();
        }
        let first = feed(&mut client, "acme", 7).await;
        let second = feed(&mut client, "acme", 1_000).await;
        assert_eq!(first, second, "{name}: two consumers see the same feed");
        let sequences: Vec<i64> = first.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=(3 * PAIRS) as i64).collect::<Vec<_>>(), "{name}: no gap, no duplicate");
        for (primary, duplicate) in &pairs {
            let announced = first
                .iter()
                .filter(|e| matches!(&e.kind, Some(Kind::Merged(m)) if &m.primary_id == primary && &m.duplicate_id == duplicate))
                .count();
            assert_eq!(announced, 1, "{name}: the merge of {duplicate} into {primary}");
        }
    }
}

#[tokio::test]
async fn cursors_are_checked_and_expire_with_the_retention() {
    for database in databases().await {
        let settings = [("EVENTS_RETENTION", "1s".to_owned()), ("EVENTS_PRUNE_INTERVAL", "200ms".to_owned())];
        let stack = Stack::start(&database, &[], &settings).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        for bad in
            ["not-a-cursor", "ZXY5OjE", "ZXYxOi0x", "ZXYxOjk5OTk5OQ", "ZXYxOjkyMjMzNzIwMzY4NTQ3NzU4MDc", "ZXYxOjAx"]
        {
            let status = page(&mut client, "acme", bad, 10).await.unwrap_err();
            let reason = error_info(&status).map(|info| info.reason).unwrap_or_default();
            assert_eq!(
                (status.code(), reason.as_str()),
                (Code::InvalidArgument, reasons::EVENT_CURSOR_INVALID),
                "{name}: {bad}"
            );
        }
        let status = page(&mut client, "acme", "", -1).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name}");

        create(&mut client, "acme", "Old", vec![]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        create(&mut client, "acme", "New", vec![]).await.unwrap();
        // The first event is past the retention now; the second may be too by the time we look.
        let mut expired = None;
        for _ in 0..50 {
            let (kept, _) = page(&mut client, "acme", "", 10).await.unwrap();
            if kept.first().is_none_or(|e| e.sequence > 1) {
                expired = Some(page(&mut client, "acme", ZERO_CURSOR, 10).await);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = expired.expect("the old event is pruned").unwrap_err();
        let reason = error_info(&status).map(|info| info.reason).unwrap_or_default();
        assert_eq!(
            (status.code(), reason.as_str()),
            (Code::OutOfRange, reasons::EVENT_CURSOR_EXPIRED),
            "{name}: {status:?}"
        );
        assert!(status.message().contains("ListContacts"), "{name}: says what to do: {}", status.message());
    }
}

/// A cursor before the first event ("ev1:0"): after pruning, expired.
const ZERO_CURSOR: &str = "ZXYxOjA";

type Watch = tonic::Streaming<accommador_proto::accommador::contacts::v1::WatchContactEventsResponse>;

async fn watch(client: &mut Client, tenant: &str, after: &str) -> Result<Watch, Status> {
    let request = accommador_proto::accommador::contacts::v1::WatchContactEventsRequest { after: after.into() };
    Ok(client.watch_contact_events(tenant_request(tenant, request)).await?.into_inner())
}

/// Reads `stream` until it has delivered `count` events (heartbeats skipped).
async fn next_events(stream: &mut Watch, count: usize) -> Vec<ContactEvent> {
    let mut events = Vec::new();
    while events.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.message()).await;
        let message = message.expect("an event within 10 s").expect("the stream stays open").expect("a message");
        events.extend(message.events);
    }
    events
}

#[tokio::test]
async fn a_watcher_gets_the_backlog_then_live_events_without_a_gap_or_a_duplicate() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let name = database.name;
        for n in 0..5 {
            create(&mut client, "acme", &format!("Backlog{n}"), vec![]).await.unwrap();
        }
        let mut from_start = watch(&mut client, "acme", "").await.unwrap();
        let backlog = next_events(&mut from_start, 5).await;
        // Writes while the watchers are open, some at once.
        let writes: Vec<_> = (0..10)
            .map(|n| {
                let mut client = client.clone();
                tokio::spawn(async move { create(&mut client, "acme", &format!("Live{n}"), vec![]).await.unwrap() })
            })
            .collect();
        let mut from_third = watch(&mut client, "acme", &backlog[2].cursor).await.unwrap();
        for write in writes {
            write.await.unwrap();
        }
        let live = next_events(&mut from_start, 10).await;
        let sequences: Vec<i64> = backlog.iter().chain(&live).map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=15).collect::<Vec<_>>(), "{name}: the backlog, then every live event once");
        let resumed = next_events(&mut from_third, 12).await;
        assert_eq!(resumed.iter().map(|e| e.sequence).collect::<Vec<_>>(), (4..=15).collect::<Vec<_>>(), "{name}");
        assert_eq!(feed(&mut client, "acme", 100).await, [backlog, live].concat(), "{name}: the same as the list");
    }
}

#[tokio::test]
async fn idle_streams_get_heartbeats_and_streams_are_bounded_and_end_at_shutdown() {
    let database = accommador_tests::TestDatabase::sqlite();
    let settings = [("EVENTS_HEARTBEAT", "300ms".to_owned()), ("EVENTS_MAX_WATCHERS", "4".to_owned())];
    let stack = Stack::start(&database, &[], &settings).await.expect("both services start");
    let mut client = stack.contacts_client();

    let status = watch(&mut client, "acme", "not-a-cursor").await.unwrap_err();
    assert_eq!(error_info(&status).unwrap().reason, reasons::EVENT_CURSOR_INVALID, "refused at once");

    let mut idle = watch(&mut client, "acme", "").await.unwrap();
    let heartbeat = tokio::time::timeout(Duration::from_secs(5), idle.message()).await.unwrap().unwrap().unwrap();
    assert!(heartbeat.events.is_empty() && heartbeat.heartbeat_time.is_some(), "{heartbeat:?}");

    // A quarter of 4 per tenant: acme has its one; three other tenants fill the rest.
    let refused = watch(&mut client, "acme", "").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(error_info(&refused).unwrap().reason, reasons::EVENT_WATCHERS_EXHAUSTED);
    let mut others = Vec::new();
    for tenant in ["t1", "t2", "t3"] {
        others.push(watch(&mut client, tenant, "").await.unwrap());
    }
    let refused = watch(&mut client, "t4", "").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "all four are taken: {refused:?}");
    drop(others.pop());
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(stream) = watch(&mut client, "t4", "").await {
            reopened = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a closed stream frees its slot");

    // Shutdown ends the streams rather than waiting for them.
    let Stack { media, contacts, dir: _dir } = stack;
    let started = std::time::Instant::now();
    contacts.terminate().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "shutdown took {:?}", started.elapsed());
    let mut ended = None;
    while let Ok(Some(_)) = idle.message().await.map_err(|status| ended = Some(status)) {}
    if let Some(status) = ended {
        assert!(matches!(status.code(), Code::Unavailable | Code::Cancelled | Code::Unknown), "{status:?}");
    }
    media.terminate().await.unwrap();
}
