//! The event relay: publishes every tenant's contact events to NATS
//! JetStream (when EVENTS_NATS_URL is set), in order, and records per tenant
//! how far it got, so a restart resumes there. Delivery downstream is at
//! least once; JetStream drops the copies a restart or a second replica
//! publishes again (the event id is the message id).
//!
//! Fairness: each round takes up to [`TENANTS_PER_ROUND`] tenants with
//! unpublished events and publishes at most [`EVENTS_PER_TENANT`] of each;
//! a tenant whose publish fails is left for the next round and holds back
//! no other tenant.

use std::time::Duration;

use accommador_proto::tenant::TenantId;

use crate::{api::convert_event, book::ContactBook, error::Error, nats::EventPublisher, store::EventsAfter};

const TENANTS_PER_ROUND: u64 = 100;
const EVENTS_PER_TENANT: u64 = 500;

/// The relay over the book's store and signal: kept out of the book, which
/// knows no transport.
pub struct EventRelay<'a> {
    book: &'a ContactBook,
    publisher: EventPublisher,
}

impl<'a> EventRelay<'a> {
    pub fn new(book: &'a ContactBook, publisher: EventPublisher) -> Self {
        Self { book, publisher }
    }

    /// Relays events until `shutdown`: after each write of this replica, and
    /// every `interval` (writes through other replicas, retries).
    pub async fn run(&self, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let signal = self.book.event_signal();
        loop {
            let committed = signal.notified();
            tokio::pin!(committed);
            committed.as_mut().enable();
            if let Err(error) = self.relay_round().await {
                tracing::warn!(%error, "event relay round failed; retrying");
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = &mut committed => {}
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// One round: publishes what each tenant with a backlog has waiting.
    async fn relay_round(&self) -> Result<(), Error> {
        let backlog = self.book.store().relay_backlog(TENANTS_PER_ROUND).await?;
        let (mut lag_events, mut oldest_us) = (0i64, None::<i64>);
        for tenant in backlog {
            lag_events += tenant.last - tenant.published;
            let Ok(id) = TenantId::parse(&tenant.tenant) else {
                tracing::error!(tenant = %tenant.tenant, "stored tenant id is invalid; its events are not relayed");
                continue;
            };
            match self.relay_tenant(&id, tenant.published).await {
                Ok(Some(waiting_since_us)) => {
                    oldest_us = Some(oldest_us.map_or(waiting_since_us, |oldest| oldest.min(waiting_since_us)));
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, tenant = %tenant.tenant, "cannot relay this tenant's events now"),
            }
        }
        metrics::gauge!("contacts_event_relay_lag_events").set(lag_events as f64);
        let now_us =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_micros() as i64;
        let lag_seconds = oldest_us.map_or(0.0, |oldest| (now_us - oldest).max(0) as f64 / 1e6);
        metrics::gauge!("contacts_event_relay_lag_seconds").set(lag_seconds);
        Ok(())
    }

    /// Publishes up to a batch of `tenant`'s events after `published`;
    /// returns when the oldest of them was written (the relay's lag).
    async fn relay_tenant(&self, tenant: &TenantId, published: i64) -> Result<Option<i64>, Error> {
        let store = self.book.store();
        let events = match store.events_after(tenant, Some(published), EVENTS_PER_TENANT).await? {
            (EventsAfter::Events, events) => events,
            // The position is the relay's own, never past the end.
            (EventsAfter::Unknown, _) => return Ok(None),
            (EventsAfter::Expired { retained_from }, _) => {
                // Pruned before they were published (NATS down longer than
                // the retention): they are gone; go on from what is kept.
                tracing::error!(%tenant, lost_through = retained_from - 1, "events expired before the relay published them");
                store.relay_published(tenant, retained_from - 1).await?;
                return Ok(None);
            }
        };
        let mut done = published;
        for event in &events {
            let event_type = event.event.type_name();
            if let Err(error) = self.publisher.publish(tenant.as_str(), event_type, convert_event(event.clone())).await
            {
                if done > published {
                    store.relay_published(tenant, done).await?;
                }
                tracing::warn!(%error, %tenant, sequence = event.sequence, "publish failed; the next round retries");
                return Ok(events.first().map(|first| first.time_us));
            }
            done = event.sequence;
            metrics::counter!("contacts_events_relayed_total", "type" => event_type).increment(1);
        }
        if done > published {
            store.relay_published(tenant, done).await?;
        }
        Ok(events.first().map(|first| first.time_us))
    }
}
