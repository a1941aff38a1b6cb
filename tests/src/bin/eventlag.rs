//! Measures how long a committed merge takes to reach a WatchContactEvents
//! stream and a JetStream consumer: merges one pair at a time in a fresh
//! tenant, and for each takes the time from the merge's answer (after its
//! commit) to the moment its `merged` event arrives on each side. Prints
//! one JSON line with the median and p99 of both. Used by bench/events.sh.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use accommador_proto::accommador::contacts::v1::{
    Contact, ContactEvent, CreateContactRequest, ListContactEventsRequest, MergeContactsRequest,
    WatchContactEventsRequest, contact_event::Kind, contacts_service_client::ContactsServiceClient,
};
use accommador_tests::tenant_request;
use async_nats::jetstream::{self, consumer};
use clap::Parser;
use futures::StreamExt;
use prost::Message;

#[derive(Parser)]
struct Args {
    /// contacts-svc's gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// The NATS server contacts-svc relays to; unset: the watcher alone.
    #[arg(long)]
    nats_url: Option<String>,
    /// The JetStream stream the relay publishes to.
    #[arg(long, default_value = "ACCOMMADOR_CONTACTS")]
    stream: String,
    /// Merges to time.
    #[arg(long, default_value_t = 300)]
    merges: usize,
}

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

fn merged_duplicate(event: &ContactEvent) -> Option<String> {
    match &event.kind {
        Some(Kind::Merged(merged)) => Some(merged.duplicate_id.clone()),
        _ => None,
    }
}

fn summary(name: &str, acked: &HashMap<String, Instant>, arrived: &HashMap<String, Instant>) -> serde_json::Value {
    let mut delays: Vec<f64> = acked
        .iter()
        .filter_map(|(id, at)| arrived.get(id).map(|got| got.saturating_duration_since(*at).as_secs_f64() * 1e3))
        .collect();
    delays.sort_by(f64::total_cmp);
    let at = |q: f64| delays.get(((delays.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied();
    serde_json::json!({"to": name, "events": delays.len(), "median_ms": at(0.5), "p99_ms": at(0.99), "max_ms": delays.last()})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tenant = format!("eventlag-{}", uuid::Uuid::new_v4().simple());
    let channel = tonic::transport::Endpoint::from_shared(args.endpoint.clone())?.connect().await?;
    let mut client = ContactsServiceClient::new(channel);
    let mut pairs = Vec::new();
    for n in 0..args.merges {
        let mut ids = Vec::new();
        for side in ["P", "D"] {
            let contact = Contact { first_name: format!("{side}{n}"), ..Default::default() };
            let request = CreateContactRequest { contact: Some(contact), ..Default::default() };
            ids.push(client.create_contact(tenant_request(&tenant, request)).await?.into_inner().id);
        }
        pairs.push((ids[0].clone(), ids[1].clone()));
    }
    // Both followers start after the creates, so they wait for merges only.
    let request = ListContactEventsRequest { after: String::new(), page_size: 1_000 };
    let mut cursor = String::new();
    loop {
        let page = client
            .list_contact_events(tenant_request(
                &tenant,
                ListContactEventsRequest { after: cursor.clone(), ..request.clone() },
            ))
            .await?
            .into_inner();
        if page.events.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    let watched: Arrivals = Arc::default();
    let mut stream = client
        .watch_contact_events(tenant_request(&tenant, WatchContactEventsRequest { after: cursor }))
        .await?
        .into_inner();
    tokio::spawn({
        let watched = watched.clone();
        async move {
            while let Ok(Some(message)) = stream.message().await {
                let now = Instant::now();
                for event in &message.events {
                    if let Some(id) = merged_duplicate(event) {
                        watched.lock().unwrap().insert(id, now);
                    }
                }
            }
        }
    });
    let published: Arrivals = Arc::default();
    if let Some(url) = &args.nats_url {
        let js = jetstream::new(async_nats::connect(url).await?);
        let stream = js.get_stream(&args.stream).await?;
        let subject = format!("accommador.contacts.{tenant}.contact_merged");
        let config = consumer::pull::OrderedConfig {
            filter_subject: subject,
            deliver_policy: consumer::DeliverPolicy::New,
            ..Default::default()
        };
        let mut messages = stream.create_consumer(config).await?.messages().await?;
        let published = published.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = messages.next().await {
                let now = Instant::now();
                if let Some(id) = ContactEvent::decode(message.payload.clone()).ok().as_ref().and_then(merged_duplicate)
                {
                    published.lock().unwrap().insert(id, now);
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut acked = HashMap::new();
    for (primary, duplicate) in &pairs {
        let request =
            MergeContactsRequest { primary_id: primary.clone(), duplicate_id: duplicate.clone(), ..Default::default() };
        client.merge_contacts(tenant_request(&tenant, request)).await?;
        acked.insert(duplicate.clone(), Instant::now());
        // One at a time, a little apart: each delay is measured on its own.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let done = watched.lock().unwrap().len() >= pairs.len()
            && (args.nats_url.is_none() || published.lock().unwrap().len() >= pairs.len());
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("{}", summary("watcher", &acked, &watched.lock().unwrap()));
    if args.nats_url.is_some() {
        println!("{}", summary("jetstream", &acked, &published.lock().unwrap()));
    }
    Ok(())
}
