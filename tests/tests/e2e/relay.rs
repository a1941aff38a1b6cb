//! The NATS JetStream relay of contact events, against a real nats-server
//! (JetStream) on SQLite and PostgreSQL: every event reaches the stream
//! once, in order, on `accommador.contacts.<tenant>.<type>`, including those
//! committed while the relay was not running (contacts-svc killed before it
//! published them) and those a restarted relay publishes a second time.

use std::time::{Duration, Instant};

use accommador_proto::accommador::contacts::v1::{
    Contact, ContactEvent, ListContactEventsRequest, contacts_service_client::ContactsServiceClient,
};
use accommador_tests::{
    Stack, databases,
    nats::NatsServer,
    requests::{create_request, merge_request},
    start_contacts, tenant_request,
};
use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use prost::Message;
use sea_orm::ConnectionTrait;
use tonic::transport::Channel;

type Client = ContactsServiceClient<Channel>;

const STREAM: &str = "ACCOMMADOR_CONTACTS";

async fn create(client: &mut Client, name: &str) -> Contact {
    let contact = Contact { first_name: name.into(), ..Default::default() };
    client.create_contact(tenant_request("acme", create_request(contact, vec![]))).await.unwrap().into_inner()
}

/// Every event of acme's feed, over gRPC.
async fn feed(client: &mut Client) -> Vec<ContactEvent> {
    let request = ListContactEventsRequest { after: String::new(), page_size: 1_000 };
    client.list_contact_events(tenant_request("acme", request)).await.unwrap().into_inner().events
}

/// Waits until the stream holds `count` messages, then reads them all, in
/// stream order, with their subjects.
async fn stream_messages(url: &str, count: u64) -> Vec<(String, ContactEvent)> {
    let js = jetstream::new(async_nats::connect(url).await.unwrap());
    let start = Instant::now();
    let mut stream = loop {
        if let Ok(mut stream) = js.get_stream(STREAM).await
            && stream.info().await.unwrap().state.messages >= count
        {
            break stream;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the stream never held {count} messages");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let held = stream.info().await.unwrap().state.messages;
    assert_eq!(held, count, "exactly {count} messages: copies are dropped");
    let consumer = stream.create_consumer(consumer::pull::OrderedConfig { ..Default::default() }).await.unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut read = Vec::new();
    while read.len() < count as usize {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next()).await.unwrap().unwrap().unwrap();
        let event = ContactEvent::decode(message.payload.clone()).unwrap();
        read.push((message.subject.to_string(), event));
    }
    read
}

fn type_name(event: &ContactEvent) -> &'static str {
    use accommador_proto::accommador::contacts::v1::contact_event::Kind;
    match event.kind.as_ref().unwrap() {
        Kind::Created(_) => "contact_created",
        Kind::Merged(_) => "contact_merged",
        Kind::PictureChanged(_) => "profile_picture_changed",
        Kind::Unmerged(_) => "contact_unmerged",
        Kind::Erased(_) => "contact_erased",
    }
}

#[tokio::test]
async fn every_event_reaches_jetstream_once_in_order_even_across_a_crash() {
    for database in databases().await {
        let Some(nats) = NatsServer::start().await else { return };
        let name = database.name;
        // First without the relay: events commit and wait in the database,
        // then contacts-svc dies (SIGKILL) before anything is published.
        let Stack { media, contacts, dir } = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = ContactsServiceClient::new(contacts.channel());
        let mut ids = Vec::new();
        for n in 0..6 {
            ids.push(create(&mut client, &format!("C{n}")).await.id);
        }
        for pair in ids.chunks(2) {
            client.merge_contacts(tenant_request("acme", merge_request(&pair[0], &pair[1], &[], ""))).await.unwrap();
        }
        contacts.kill().unwrap();

        let relay = [("EVENTS_NATS_URL", nats.url.clone()), ("EVENTS_RELAY_INTERVAL", "200ms".to_owned())];
        let contacts = start_contacts(dir.path(), &media, &database, &relay).await.unwrap();
        let mut client = ContactsServiceClient::new(contacts.channel());
        create(&mut client, "Live").await;
        let logged = feed(&mut client).await;
        assert_eq!(logged.len(), 10, "{name}: six creates, three merges, one more create");
        let published = stream_messages(&nats.url, logged.len() as u64).await;
        let expected: Vec<(String, ContactEvent)> = logged
            .iter()
            .map(|event| (format!("accommador.contacts.acme.{}", type_name(event)), event.clone()))
            .collect();
        assert_eq!(published, expected, "{name}: the feed, in order, on its subjects");

        // A relay that forgets how far it got (as after a crash between
        // publishing and recording it) publishes again: JetStream drops the copies.
        contacts.kill().unwrap();
        let url = database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rw", dir.path().join("contacts.sqlite").display()));
        let db = sea_orm::Database::connect(&url).await.unwrap();
        db.execute_unprepared("DELETE FROM event_relay_position").await.unwrap();
        db.close().await.unwrap();
        let contacts = start_contacts(dir.path(), &media, &database, &relay).await.unwrap();
        let mut client = ContactsServiceClient::new(contacts.channel());
        create(&mut client, "After").await;
        let published = stream_messages(&nats.url, 11).await;
        assert_eq!(published.len(), 11, "{name}: one more, no copies");
        let sequences: Vec<i64> = published.iter().map(|(_, event)| event.sequence).collect();
        assert_eq!(sequences, (1..=11).collect::<Vec<_>>(), "{name}");
        let metrics = contacts.metrics().await.unwrap();
        assert!(metrics.contains("contacts_event_relay_lag_events"), "{name}: the lag is reported");
    }
}
