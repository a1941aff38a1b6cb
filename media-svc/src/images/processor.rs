//! Admission to the CPU-heavy pipeline: at most `workers` images are
//! processed at once; the others wait, served round-robin across tenants so
//! that one tenant's flood cannot starve another.
//!
//! A request waits as long as its deadline (propagated from contacts-svc as
//! `grpc-timeout`) still leaves time to process it. It is refused at once,
//! RESOURCE_EXHAUSTED, only when the queue ahead of it cannot be worked off
//! in time (estimated from the recent processing times) or when the bytes
//! already waiting reach `MEDIA_MAX_QUEUED_BYTES`. A caller that gives up
//! leaves the queue; one whose turn comes after its deadline is not run.
//!
//! Waiting requests hold their upload (counted by the bytes cap); running
//! ones hold their decode buffers (bounded by the pipeline's per-image
//! budget), so memory is bounded by `workers x budget + queued bytes`.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use crate::error::Error;

/// Processing time assumed before any image was processed.
const INITIAL_ESTIMATE: Duration = Duration::from_millis(150);

#[derive(Debug, Clone)]
pub struct Processor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    workers: usize,
    max_queued_bytes: usize,
    /// Moving average of recent processing times, in microseconds.
    estimate_us: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    running: usize,
    queued_bytes: usize,
    waiting: usize,
    next_ticket: u64,
    /// Waiting requests per tenant, oldest first.
    queues: HashMap<String, VecDeque<Waiter>>,
    /// Tenants with waiting requests, in the order they are served.
    turns: VecDeque<String>,
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    bytes: usize,
    go: oneshot::Sender<()>,
}

/// What a caller brings to the queue.
#[derive(Debug, Clone)]
pub(crate) struct Job<'a> {
    pub tenant: &'a str,
    /// Bytes held while waiting (the upload).
    pub bytes: usize,
    /// When the caller stops waiting; `None` waits as long as it takes.
    pub deadline: Option<Instant>,
}

impl Processor {
    pub fn new(workers: usize, max_queued_bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                workers: workers.max(1),
                max_queued_bytes,
                estimate_us: AtomicU64::new(INITIAL_ESTIMATE.as_micros() as u64),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Runs `work` on a blocking thread once a worker is free and it is
    /// `job`'s tenant's turn, or refuses it with [`Error::Overloaded`].
    pub(crate) async fn run<T, F>(&self, job: Job<'_>, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let slot = self.admit(&job).await?;
        let started = Instant::now();
        // The slot moves into the task: if the caller goes away, the work
        // still counts against the workers until it really ends.
        let output = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|error| Error::Internal(format!("image processing task failed: {error}")))?;
        self.inner.record(started.elapsed());
        Ok(output)
    }

    async fn admit(&self, job: &Job<'_>) -> Result<Slot, Error> {
        let estimate = self.inner.estimate();
        let (ticket, go) = {
            let mut state = self.inner.lock();
            if state.running < self.inner.workers && state.waiting == 0 {
                state.running += 1;
                return Ok(Slot { inner: self.inner.clone() });
            }
            if state.queued_bytes + job.bytes > self.inner.max_queued_bytes {
                return Err(self.inner.overloaded(&state, "the bytes waiting for a worker reached the limit"));
            }
            if let Some(deadline) = job.deadline
                && Instant::now() + self.inner.predicted_finish(&state, job.tenant, estimate) > deadline
            {
                return Err(self.inner.overloaded(&state, "the images ahead cannot be processed before its deadline"));
            }
            let (go, wait) = oneshot::channel();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queued_bytes += job.bytes;
            state.waiting += 1;
            if !state.queues.contains_key(job.tenant) {
                state.turns.push_back(job.tenant.to_owned());
            }
            state.queues.entry(job.tenant.to_owned()).or_default().push_back(Waiter { ticket, bytes: job.bytes, go });
            (ticket, wait)
        };
        metrics::gauge!("media_images_waiting").increment(1.0);
        let mut waiting = Waiting { inner: self.inner.clone(), tenant: job.tenant.to_owned(), ticket, granted: false };
        // Dropped (the caller gave up) before its turn: `Waiting` leaves the queue.
        let _ = go.await;
        waiting.granted = true;
        let slot = Slot { inner: self.inner.clone() };
        if job.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            // Its turn came too late: the next one runs instead.
            let refusal = self.inner.overloaded(&self.inner.lock(), "its turn came after its deadline");
            drop(slot);
            return Err(refusal);
        }
        Ok(slot)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn estimate(&self) -> Duration {
        Duration::from_micros(self.estimate_us.load(Ordering::Relaxed))
    }

    /// Keeps the estimate at about the last eight images' average.
    fn record(&self, took: Duration) {
        let sample = took.as_micros().min(u128::from(u64::MAX)) as u64;
        let _ =
            self.estimate_us.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| Some(old - old / 8 + sample / 8));
    }

    /// When a new request of `tenant` would be done: the running images
    /// finish, then round-robin serves one image per waiting tenant per turn,
    /// so the images ahead are the tenant's own times the tenants waiting.
    fn predicted_finish(&self, state: &State, tenant: &str, estimate: Duration) -> Duration {
        let own = state.queues.get(tenant).map_or(0, VecDeque::len);
        let tenants = state.turns.len() + usize::from(own == 0);
        let ahead = (own * tenants + tenants - 1).min(state.waiting);
        let rounds = ahead / self.workers + 2;
        estimate.saturating_mul(rounds as u32)
    }

    fn overloaded(&self, state: &State, why: &'static str) -> Error {
        metrics::counter!("media_images_refused_total", "reason" => "overloaded").increment(1);
        Error::Overloaded {
            why,
            workers: self.workers,
            waiting: state.waiting,
            max_queued_bytes: self.max_queued_bytes,
        }
    }

    /// A worker is free: it goes to the next tenant in turn, or back to the pool.
    fn release(&self) {
        let mut state = self.lock();
        while let Some(tenant) = state.turns.pop_front() {
            let queue = state.queues.get_mut(&tenant).expect("a tenant in turn has a queue");
            let waiter = queue.pop_front().expect("queues in turn are not empty");
            if queue.is_empty() {
                state.queues.remove(&tenant);
            } else {
                state.turns.push_back(tenant);
            }
            state.queued_bytes -= waiter.bytes;
            state.waiting -= 1;
            metrics::gauge!("media_images_waiting").decrement(1.0);
            // A waiter is removed from its queue before its receiver goes,
            // so this send finds it listening; the slot passes on.
            if waiter.go.send(()).is_ok() {
                return;
            }
        }
        state.running -= 1;
    }
}

/// A worker held by one image.
#[derive(Debug)]
struct Slot {
    inner: Arc<Inner>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.inner.release();
    }
}

/// A request in the queue; leaves it when dropped before its turn.
struct Waiting {
    inner: Arc<Inner>,
    tenant: String,
    ticket: u64,
    granted: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.granted {
            return;
        }
        let mut state = self.inner.lock();
        let Some(queue) = state.queues.get_mut(&self.tenant) else {
            // Already given a worker by `release`: hand it on.
            drop(state);
            self.inner.release();
            return;
        };
        let Some(position) = queue.iter().position(|waiter| waiter.ticket == self.ticket) else {
            drop(state);
            self.inner.release();
            return;
        };
        let waiter = queue.remove(position).expect("the position was just found");
        if queue.is_empty() {
            state.queues.remove(&self.tenant);
            state.turns.retain(|tenant| tenant != &self.tenant);
        }
        state.queued_bytes -= waiter.bytes;
        state.waiting -= 1;
        metrics::gauge!("media_images_waiting").decrement(1.0);
    }
}

#[cfg(test)]
mod tests;
