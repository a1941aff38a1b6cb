//! The NATS JetStream side of the event relay: a client that publishes one
//! contact event and waits for JetStream's acknowledgement. The event id is
//! the message id (`Nats-Msg-Id`), so JetStream drops a copy published again
//! within its duplicate window (a relay that crashed after publishing and
//! before recording it, or two replicas relaying at once).

use std::time::Duration;

use accommador_proto::accommador::contacts::v1 as pb;
use async_nats::jetstream::{self, stream};
use prost::Message;

use crate::error::Error;

/// Every subject the relay publishes to: `accommador.contacts.<tenant>.<type>`.
pub const SUBJECTS: &str = "accommador.contacts.>";

/// How long JetStream remembers message ids to drop copies: far longer than
/// a relay takes to come back after a crash.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct EventPublisher {
    jetstream: jetstream::Context,
}

impl EventPublisher {
    /// Connects, and creates the stream `stream_name` over [`SUBJECTS`] when
    /// it is missing, keeping events for `max_age` (the event retention).
    pub async fn connect(url: &str, stream_name: &str, max_age: Duration) -> Result<Self, Error> {
        let client = async_nats::ConnectOptions::new()
            .name("contacts-svc event relay")
            .connect(url)
            .await
            .map_err(|error| Error::EventsUnavailable(format!("connect to NATS: {error}")))?;
        let jetstream = jetstream::new(client);
        let config = stream::Config {
            name: stream_name.to_owned(),
            subjects: vec![SUBJECTS.to_owned()],
            max_age,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|error| Error::EventsUnavailable(format!("create JetStream stream {stream_name}: {error}")))?;
        Ok(Self { jetstream })
    }

    /// Publishes `event` of `tenant` and waits until JetStream stored it.
    pub async fn publish(&self, tenant: &str, event_type: &str, event: pb::ContactEvent) -> Result<(), Error> {
        let subject = format!("accommador.contacts.{tenant}.{event_type}");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.event_id.as_str());
        headers.insert("Content-Type", "application/x-protobuf; messageType=accommador.contacts.v1.ContactEvent");
        let unavailable =
            |error: &dyn std::fmt::Display| Error::EventsUnavailable(format!("publish to {subject}: {error}"));
        let ack = self
            .jetstream
            .publish_with_headers(subject.clone(), headers, event.encode_to_vec().into())
            .await
            .map_err(|error| unavailable(&error))?;
        ack.await.map_err(|error| unavailable(&error))?;
        Ok(())
    }
}
