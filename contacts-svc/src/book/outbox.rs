//! The claim outbox worker: delivers the ClaimImage calls that creates and
//! merges queued in their transactions, and the ReleaseImage calls that
//! takedowns queued, until media-svc acknowledges them.
//!
//! Each entry stands alone. It is leased (see `store::outbox`), delivered,
//! and then deleted on success, rescheduled with exponential backoff and
//! jitter on a failure that may pass (media-svc down, overloaded, a storage
//! error), or moved to the dead letters on a refusal that never will
//! (NOT_FOUND: the image is gone; INVALID_ARGUMENT). A release media-svc
//! answers NOT_FOUND is done: the image it gives up is gone already. So a claim that keeps
//! failing never holds back the claims behind it, whatever their tenant.

use std::time::Duration;

use futures::StreamExt;
use tonic::Code;

use super::{ContactBook, now_us};
use crate::{
    context::RequestContext,
    error::Error,
    store::{ClaimEntry, RELEASE},
};

/// How the outbox paces itself.
#[derive(Debug, Clone, Copy)]
pub struct OutboxSettings {
    /// Pause between passes when nothing is due, and the first retry delay.
    pub interval: Duration,
    /// Longest delay between two attempts of one entry.
    pub max_backoff: Duration,
    /// How long a leased entry is hidden from other workers: longer than one
    /// ClaimImage call may take, so it is never delivered twice at once.
    pub lease: Duration,
    /// Entries leased per pass.
    pub batch: u64,
    /// Claims in flight at once.
    pub concurrency: usize,
}

/// What happened to one entry.
enum Delivery {
    Delivered,
    Retry,
    Dead,
}

/// The metric label of an entry's action.
fn action_label(entry: &ClaimEntry) -> &'static str {
    if entry.action == RELEASE { "release" } else { "claim" }
}

impl ContactBook {
    /// Delivers queued claims until `shutdown` resolves: at once while whole
    /// batches are due, otherwise every `interval`.
    pub async fn run_claim_outbox(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let busy = match self.deliver_claims().await {
                Ok(leased) => leased as u64 >= self.outbox.batch,
                Err(error) => {
                    tracing::warn!(%error, "claim outbox pass failed; will retry");
                    false
                }
            };
            if let Err(error) = self.report_claim_backlog().await {
                tracing::warn!(%error, "cannot measure the claim outbox backlog");
            }
            let pause = if busy { Duration::ZERO } else { self.outbox.interval };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One pass: leases the due entries and delivers them. Returns how many
    /// entries it leased.
    pub async fn deliver_claims(&self) -> Result<usize, Error> {
        let now = now_us();
        let lease_until = now + self.outbox.lease.as_micros() as i64;
        let entries = self.store.lease_claims(now, lease_until, self.outbox.batch).await?;
        let leased = entries.len();
        let outcomes: Vec<(&str, Result<Delivery, Error>)> = futures::stream::iter(entries)
            .map(|entry| async move {
                let action = action_label(&entry);
                (action, self.deliver_claim(entry).await)
            })
            .buffer_unordered(self.outbox.concurrency.max(1))
            .collect()
            .await;
        // The metric names predate releases; the `action` label tells them apart.
        for (action, outcome) in outcomes {
            match outcome {
                Ok(Delivery::Delivered) => {
                    metrics::counter!("contacts_claims_delivered_total", "action" => action).increment(1)
                }
                Ok(Delivery::Retry) => {
                    metrics::counter!("contacts_claims_retried_total", "action" => action).increment(1)
                }
                Ok(Delivery::Dead) => {
                    metrics::counter!("contacts_claims_dead_lettered_total", "action" => action).increment(1)
                }
                // The lease runs out and the entry comes back on its own.
                Err(error) => tracing::warn!(%error, "cannot record a claim delivery; the entry will be retried"),
            }
        }
        Ok(leased)
    }

    async fn deliver_claim(&self, entry: ClaimEntry) -> Result<Delivery, Error> {
        let context = RequestContext::background_for_stored(&entry.tenant, format!("claim-outbox-{}", entry.id))?;
        let release = entry.action == RELEASE;
        let result = if release {
            self.media.release(&context, &entry.image_id, &entry.owner).await
        } else {
            // Claims made without an upload (merges, unmerges) carry no deadline.
            let upload_lease = (entry.claim_deadline_us != i64::MAX).then_some(entry.claim_deadline_us);
            self.media.claim(&context, &entry.image_id, &entry.owner, upload_lease).await.map(|_| ())
        };
        let error = match result {
            Ok(()) => {
                if release {
                    self.signed_pictures.forget(&context.tenant, &entry.image_id);
                }
                self.store.claim_delivered(entry.id).await?;
                return Ok(Delivery::Delivered);
            }
            // The image a release gives up is gone already: nothing is left to do.
            Err(Error::Media(status)) if release && status.code() == Code::NotFound => {
                self.signed_pictures.forget(&context.tenant, &entry.image_id);
                self.store.claim_delivered(entry.id).await?;
                return Ok(Delivery::Delivered);
            }
            Err(error) => error,
        };
        let now = now_us();
        if release && !is_permanent(&error) {
            tracing::warn!(%error, image_id = %entry.image_id, attempts = entry.attempts, "release not delivered yet; will retry");
            let delay = backoff(self.outbox.interval, self.outbox.max_backoff, entry.attempts, fastrand::f64());
            self.store.claim_retry_at(entry.id, now + delay.as_micros() as i64, &error.to_string()).await?;
            return Ok(Delivery::Retry);
        }
        if is_permanent(&error) {
            tracing::error!(%error, tenant = %entry.tenant, image_id = %entry.image_id, owner = %entry.owner,
                attempts = entry.attempts, action = %entry.action, "media-svc refused an outbox entry for good; moved to the dead letters");
            self.store.claim_dead(&entry, now, &error.to_string()).await?;
            return Ok(Delivery::Dead);
        }
        let half_grace = entry.create_time_us + (entry.claim_deadline_us - entry.create_time_us) / 2;
        if now > half_grace {
            tracing::error!(%error, image_id = %entry.image_id, owner = %entry.owner, attempts = entry.attempts,
                "claim still undelivered after half of media-svc's grace period; the picture is at risk");
        } else {
            tracing::warn!(%error, image_id = %entry.image_id, attempts = entry.attempts, "claim not delivered yet; will retry");
        }
        // Never sleep past a quarter of the time the picture has left before
        // media-svc's janitor may take it: a long backoff must not cost a picture.
        let time_left = Duration::from_micros((entry.claim_deadline_us - now).max(0) as u64);
        let cap = (time_left / 4).max(self.outbox.interval);
        let delay = backoff(self.outbox.interval, self.outbox.max_backoff.min(cap), entry.attempts, fastrand::f64());
        self.store.claim_retry_at(entry.id, now + delay.as_micros() as i64, &error.to_string()).await?;
        Ok(Delivery::Retry)
    }

    /// Sets the backlog gauges from the whole outbox.
    async fn report_claim_backlog(&self) -> Result<(), Error> {
        let backlog = self.store.claim_backlog().await?;
        metrics::gauge!("contacts_claim_outbox_backlog").set(backlog.entries as f64);
        let age = backlog.oldest_create_time_us.map_or(0.0, |oldest| (now_us() - oldest).max(0) as f64 / 1e6);
        metrics::gauge!("contacts_claim_outbox_oldest_age_seconds").set(age);
        Ok(())
    }
}

/// Refusals that no retry can change: the image is gone (or never was
/// this tenant's), or media-svc can never accept the request.
fn is_permanent(error: &Error) -> bool {
    matches!(error, Error::Media(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument))
}

/// The delay before attempt `attempts + 1`: `base` doubled per attempt,
/// capped at `max`, then scaled into [50%, 100%] by `jitter` (0..1) so
/// entries that failed together do not come back together.
fn backoff(base: Duration, max: Duration, attempts: i32, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let full = base.saturating_mul(1u32 << exponent).min(max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(2);
    const MAX: Duration = Duration::from_secs(300);

    #[test]
    fn backoff_doubles_per_attempt_up_to_the_cap() {
        assert_eq!(backoff(BASE, MAX, 1, 1.0), BASE);
        assert_eq!(backoff(BASE, MAX, 2, 1.0), BASE * 2);
        assert_eq!(backoff(BASE, MAX, 5, 1.0), BASE * 16);
        assert_eq!(backoff(BASE, MAX, 30, 1.0), MAX);
        assert_eq!(backoff(BASE, MAX, i32::MAX, 1.0), MAX, "no overflow");
    }

    #[test]
    fn jitter_keeps_between_half_and_all_of_the_delay() {
        assert_eq!(backoff(BASE, MAX, 3, 0.0), BASE * 2);
        assert_eq!(backoff(BASE, MAX, 3, 0.5), BASE * 3);
    }

    #[test]
    fn only_refusals_that_cannot_change_are_permanent() {
        assert!(is_permanent(&Error::Media(tonic::Status::not_found("gone"))));
        assert!(is_permanent(&Error::Media(tonic::Status::invalid_argument("owner"))));
        assert!(!is_permanent(&Error::Media(tonic::Status::internal("storage"))));
        assert!(!is_permanent(&Error::Media(tonic::Status::resource_exhausted("busy"))));
        assert!(!is_permanent(&Error::MediaUnavailable("down".into())));
    }
}
