//! Reconciliation: every picture a live contact wears must be claimed in
//! media-svc for that contact, or media-svc's janitor may delete it. The
//! outbox normally sees to that; this catches what it could not (a claim
//! dead-lettered, a claim lost to an operator's mistake or a restore of the
//! bucket from an older backup).
//!
//! It re-claims each picture (ClaimImage is idempotent and says whether it
//! had to write the claim), counts what it repaired, and reports what it
//! cannot repair. It never deletes anything: a picture media-svc no longer
//! has is a fact for an operator, not something to paper over.

use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tonic::Code;

use super::ContactBook;
use crate::{context::RequestContext, error::Error, store::LivePicture};

/// Pictures read from the database per page.
const PAGE: u64 = 200;
/// Claims in flight at once: a background job, so a light load on media-svc.
const CONCURRENCY: usize = 4;
/// Unrepairable pictures listed in a report; all of them are counted and logged.
const MAX_LISTED: usize = 100;

/// What one reconciliation found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Pictures of live contacts looked at.
    pub checked: u64,
    /// Already claimed for their contact: nothing to do.
    pub claimed: u64,
    /// Claimed again by this run: their claim was missing.
    pub repaired: u64,
    /// media-svc no longer has them: they cannot be repaired.
    pub unrepairable: u64,
    /// Could not be checked this time (media-svc unavailable or failing); the next run tries again.
    pub unchecked: u64,
    /// The first unrepairable pictures, for an operator.
    pub unrepairable_pictures: Vec<UnrepairablePicture>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnrepairablePicture {
    pub tenant: String,
    pub contact_id: String,
    pub image_id: String,
}

enum Verdict {
    Claimed,
    Repaired,
    Unrepairable,
    Unchecked,
}

impl ContactBook {
    /// Checks every picture of every live contact once.
    pub async fn reconcile(&self) -> Result<ReconcileReport, Error> {
        let mut report = ReconcileReport::default();
        let mut after: Option<LivePicture> = None;
        loop {
            let page = self.store.live_pictures(after.as_ref(), PAGE).await?;
            let Some(last) = page.last().cloned() else { break };
            let verdicts: Vec<(LivePicture, Verdict)> = futures::stream::iter(page)
                .map(|picture| async move {
                    let verdict = self.check_picture(&picture).await;
                    (picture, verdict)
                })
                .buffered(CONCURRENCY)
                .collect()
                .await;
            for (picture, verdict) in verdicts {
                report.checked += 1;
                match verdict {
                    Verdict::Claimed => report.claimed += 1,
                    Verdict::Repaired => report.repaired += 1,
                    Verdict::Unchecked => report.unchecked += 1,
                    Verdict::Unrepairable => {
                        report.unrepairable += 1;
                        if report.unrepairable_pictures.len() < MAX_LISTED {
                            report.unrepairable_pictures.push(UnrepairablePicture {
                                tenant: picture.tenant,
                                contact_id: picture.contact_id,
                                image_id: picture.image_id,
                            });
                        }
                    }
                }
            }
            after = Some(last);
        }
        metrics::counter!("contacts_reconcile_repaired_total").increment(report.repaired);
        metrics::gauge!("contacts_reconcile_unrepairable").set(report.unrepairable as f64);
        Ok(report)
    }

    async fn check_picture(&self, picture: &LivePicture) -> Verdict {
        let context =
            match RequestContext::background_for_stored(&picture.tenant, format!("reconcile-{}", picture.contact_id)) {
                Ok(context) => context,
                Err(error) => {
                    tracing::error!(%error, image_id = %picture.image_id, "cannot check a picture of a corrupt row");
                    return Verdict::Unchecked;
                }
            };
        match self.media.claim(&context, &picture.image_id, &picture.contact_id, None).await {
            Ok(false) => Verdict::Claimed,
            Ok(true) => {
                tracing::warn!(tenant = %picture.tenant, contact_id = %picture.contact_id, image_id = %picture.image_id,
                    "a live contact's picture had no claim; claimed it again");
                self.release_if_gone_since(&context, picture).await;
                Verdict::Repaired
            }
            Err(Error::Media(status)) if status.code() == Code::NotFound => {
                tracing::error!(tenant = %picture.tenant, contact_id = %picture.contact_id, image_id = %picture.image_id,
                    "a live contact's picture is gone from media-svc; it cannot be repaired");
                Verdict::Unrepairable
            }
            Err(error) => {
                tracing::warn!(%error, image_id = %picture.image_id, "cannot check a picture now; the next run will");
                Verdict::Unchecked
            }
        }
    }

    /// Runs [`ContactBook::reconcile`] every `interval` until `shutdown`
    /// resolves. The first run waits one interval, so a restart loop never
    /// turns into a reconciliation loop.
    /// The claim just made is for a picture read a moment ago; a takedown or
    /// erasure that committed since, and whose release media-svc already
    /// had, would leave it claimed for nobody. Queued after our claim, the
    /// release undoes it.
    async fn release_if_gone_since(&self, context: &RequestContext, picture: &LivePicture) {
        let owner = crate::domain::ContactId::from_trusted(picture.contact_id.clone());
        let latest = self.store.latest(&context.tenant, std::slice::from_ref(&owner)).await;
        let wears = |latest: &crate::store::LatestRevisions| {
            latest.get(&owner).and_then(|contact| contact.fields.image_id.as_deref()) == Some(picture.image_id.as_str())
        };
        let queued = match latest {
            Ok(latest) if wears(&latest) => return,
            Ok(_) => self.store.queue_release(&context.tenant, &picture.image_id, &owner, super::now_us()).await,
            Err(error) => Err(error),
        };
        if let Err(error) = queued {
            tracing::error!(%error, image_id = %picture.image_id, "cannot queue the release of a picture claimed after it left its contact");
        }
    }

    pub async fn run_reconciliation(&self, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(interval) => {}
            }
            match self.reconcile().await {
                Ok(report) => tracing::info!(
                    checked = report.checked,
                    repaired = report.repaired,
                    unrepairable = report.unrepairable,
                    unchecked = report.unchecked,
                    "reconciled pictures with media-svc"
                ),
                Err(error) => tracing::warn!(%error, "reconciliation failed; will retry next interval"),
            }
        }
    }
}
