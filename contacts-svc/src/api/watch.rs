//! WatchContactEvents: the change feed as a server stream. Each stream is a
//! task that reads the feed after its cursor, sends what it finds, and
//! otherwise waits for a write of this replica (the book's signal), the
//! poll interval (writes through other replicas) or the heartbeat. The
//! backlog and the live events are one read loop, so the switch from one
//! to the other can neither skip nor repeat an event.
//!
//! Bounds: at most EVENTS_MAX_WATCHERS streams in all and a quarter of that
//! per tenant; one message in flight per stream (a slow reader holds back
//! only its own task); and every stream ends when the server shuts down,
//! so shutdown never waits on a watcher.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use accommador_proto::accommador::contacts::v1::WatchContactEventsResponse;
use tokio::{sync::mpsc, time::Instant};
use tonic::Status;
use tracing::Instrument;

use super::{
    convert,
    tenant_gate::{Admitted, TenantGate},
};
use crate::{book::ContactBook, context::RequestContext, error::Error};

/// Events read per round.
const PAGE: u64 = 100;

#[derive(Debug, Clone, Copy)]
pub struct WatchSettings {
    pub max_watchers: usize,
    pub heartbeat: Duration,
    pub poll_interval: Duration,
}

/// The streams open now: in all, and per tenant.
pub(super) struct Watchers {
    settings: WatchSettings,
    open: Arc<AtomicUsize>,
    per_tenant: TenantGate,
}

/// One open stream; its counts go when it ends.
pub(super) struct WatcherSlot {
    open: Arc<AtomicUsize>,
    _tenant: Admitted,
}

impl Drop for WatcherSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Watchers {
    pub(super) fn new(settings: WatchSettings) -> Self {
        let per_tenant = TenantGate::new((settings.max_watchers / 4).max(1));
        Self { settings, open: Arc::default(), per_tenant }
    }

    pub(super) fn settings(&self) -> WatchSettings {
        self.settings
    }

    pub(super) fn take(&self, tenant: &str) -> Result<WatcherSlot, Error> {
        let limit = self.settings.max_watchers;
        if self.open.fetch_add(1, Ordering::SeqCst) >= limit {
            self.open.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::WatchersExhausted { limit, per_tenant: false });
        }
        let slot_open = self.open.clone();
        match self.per_tenant.admit(tenant) {
            Ok(admitted) => Ok(WatcherSlot { open: slot_open, _tenant: admitted }),
            Err(_) => {
                self.open.fetch_sub(1, Ordering::SeqCst);
                Err(Error::WatchersExhausted { limit: (limit / 4).max(1), per_tenant: true })
            }
        }
    }
}

pub(super) type EventStream = tokio_stream::wrappers::ReceiverStream<Result<WatchContactEventsResponse, Status>>;

/// Starts following the feed of `context`'s tenant after `cursor`.
pub(super) fn start(
    book: Arc<ContactBook>,
    context: RequestContext,
    cursor: String,
    settings: WatchSettings,
    slot: WatcherSlot,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> EventStream {
    let (sender, receiver) = mpsc::channel(1);
    let span = tracing::Span::current();
    tokio::spawn(follow(book, context, cursor, settings, sender, slot, stopping).instrument(span));
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

async fn follow(
    book: Arc<ContactBook>,
    context: RequestContext,
    mut cursor: String,
    settings: WatchSettings,
    sender: mpsc::Sender<Result<WatchContactEventsResponse, Status>>,
    _slot: WatcherSlot,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let signal = book.event_signal();
    let mut last_sent = Instant::now();
    loop {
        // Registered before the read: a write that commits after the read
        // wakes us even if it signals before we start waiting.
        let committed = signal.notified();
        tokio::pin!(committed);
        committed.as_mut().enable();
        match book.events(&context, &cursor, PAGE).await {
            Err(error) => {
                let _ = sender.send(Err(error.into())).await;
                return;
            }
            Ok((events, next)) if !events.is_empty() => {
                cursor = next.clone();
                let events = events.into_iter().map(convert::event).collect();
                let message = WatchContactEventsResponse { events, cursor: next, heartbeat_time: None };
                if sender.send(Ok(message)).await.is_err() {
                    return;
                }
                last_sent = Instant::now();
                continue;
            }
            Ok(_) => {}
        }
        if *stopping.borrow() {
            let _ = sender.send(Err(Error::ShuttingDown.into())).await;
            return;
        }
        tokio::select! {
            _ = &mut committed => {}
            _ = tokio::time::sleep(settings.poll_interval) => {}
            _ = tokio::time::sleep_until(last_sent + settings.heartbeat) => {
                let heartbeat_time = Some(std::time::SystemTime::now().into());
                let message = WatchContactEventsResponse { events: Vec::new(), cursor: cursor.clone(), heartbeat_time };
                if sender.send(Ok(message)).await.is_err() {
                    return;
                }
                last_sent = Instant::now();
            }
            _ = sender.closed() => return,
            _ = stopping.changed() => {
                let _ = sender.send(Err(Error::ShuttingDown.into())).await;
                return;
            }
        }
    }
}
