//! ListContactEvents, and the retention of the event log. Cursors are opaque
//! to callers: the event's number in the tenant's feed, versioned so the
//! format can change without breaking the cursors consumers hold.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{ContactBook, now_us};
use crate::{context::RequestContext, domain::LoggedEvent, error::Error, store::EventsAfter};

/// Events per page: the default and the most.
pub(crate) const DEFAULT_EVENT_PAGE: u64 = 100;
pub(crate) const MAX_EVENT_PAGE: u64 = 1_000;

/// Events pruned per tenant per round, so one round stays one short
/// transaction per tenant however far behind it is.
const PRUNE_BATCH: u64 = 10_000;

const CURSOR_PREFIX: &str = "ev1:";

/// The cursor of the event numbered `sequence`.
pub(crate) fn cursor(sequence: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{sequence}"))
}

/// The event number a cursor names; `None` for the empty cursor, which
/// starts at the oldest event kept.
pub(crate) fn parse_cursor(cursor: &str) -> Result<Option<i64>, Error> {
    if cursor.is_empty() {
        return Ok(None);
    }
    let invalid = || Error::EventCursorInvalid;
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    let digits = text.strip_prefix(CURSOR_PREFIX).ok_or_else(invalid)?;
    let sequence = digits.parse::<i64>().map_err(|_| invalid())?;
    // Only the spelling `cursor` writes: no sign, no leading zeros.
    if sequence < 0 || sequence.to_string() != digits {
        return Err(invalid());
    }
    Ok(Some(sequence))
}

impl ContactBook {
    /// What event streams wait on: woken after each write of this replica.
    pub(crate) fn event_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.event_signal.clone()
    }

    /// Wakes the event streams: a write committed, with its events.
    pub(super) fn events_committed(&self) {
        self.event_signal.notify_waiters();
    }

    /// Checks a cursor without reading: a stream refuses a bad one at once.
    pub(crate) fn check_event_cursor(after: &str) -> Result<(), Error> {
        parse_cursor(after).map(|_| ())
    }

    /// Up to `limit` events after the cursor `after`, and the cursor to go on from.
    pub(crate) async fn events(
        &self,
        context: &RequestContext,
        after: &str,
        limit: u64,
    ) -> Result<(Vec<LoggedEvent>, String), Error> {
        let sequence = parse_cursor(after)?;
        match self.store.events_after(&context.tenant, sequence, limit).await? {
            (EventsAfter::Expired { .. }, _) => Err(Error::EventCursorExpired { retention: self.event_retention }),
            (EventsAfter::Unknown, _) => Err(Error::EventCursorInvalid),
            (EventsAfter::Events, events) => {
                let next = events.last().map_or_else(|| after.to_owned(), |event| cursor(event.sequence));
                Ok((events, next))
            }
        }
    }

    /// Prunes events older than the retention every `interval`, until `shutdown`.
    pub async fn run_event_retention(&self, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(interval) => {}
            }
            let before_us = now_us() - self.event_retention.as_micros() as i64;
            match self.store.prune_events(before_us, PRUNE_BATCH).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned contact events past their retention"),
                Err(error) => tracing::warn!(%error, "cannot prune contact events now; the next round will"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        for sequence in [1, 42, i64::MAX] {
            assert_eq!(parse_cursor(&cursor(sequence)).unwrap(), Some(sequence));
        }
        assert_eq!(parse_cursor("").unwrap(), None);
        let loose = [URL_SAFE_NO_PAD.encode("ev1:01"), URL_SAFE_NO_PAD.encode("ev1:+1")];
        for foreign in [
            "x",
            "ZXYxOi0x",
            &URL_SAFE_NO_PAD.encode("ev2:5"),
            &URL_SAFE_NO_PAD.encode("ev1:five"),
            &loose[0],
            &loose[1],
        ] {
            assert!(matches!(parse_cursor(foreign), Err(Error::EventCursorInvalid)), "{foreign}");
        }
    }
}
