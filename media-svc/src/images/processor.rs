//! A bounded pool for the CPU-heavy pipeline: at most `workers` images are
//! processed at once and at most `queue_depth` more wait. Anything beyond
//! fails at once with OVERLOADED instead of queueing without bound, which
//! also bounds peak memory (each admitted job holds one upload and its
//! decode buffers).

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::Error;

#[derive(Debug, Clone)]
pub struct Processor {
    /// Permits for running or waiting jobs: `workers + queue_depth`.
    admission: Arc<Semaphore>,
    /// Permits for running jobs.
    workers: Arc<Semaphore>,
    capacity: usize,
}

impl Processor {
    pub fn new(workers: usize, queue_depth: usize) -> Self {
        let workers = workers.max(1);
        let capacity = workers + queue_depth;
        Self { admission: Arc::new(Semaphore::new(capacity)), workers: Arc::new(Semaphore::new(workers)), capacity }
    }

    /// Runs `job` on a blocking thread once a worker is free, or fails with
    /// [`Error::Overloaded`] when the queue is full.
    pub async fn run<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let admitted =
            self.admission.clone().try_acquire_owned().map_err(|_| Error::Overloaded { capacity: self.capacity })?;
        let worker = self.workers.clone().acquire_owned().await.expect("the semaphore is never closed");
        // The permits move into the job: if the caller goes away, the job
        // still counts against the bound until it really ends.
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, worker);
            job()
        })
        .await
        .map_err(|error| Error::Internal(format!("image processing task failed: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[tokio::test]
    async fn refuses_work_beyond_workers_plus_queue() {
        let processor = Processor::new(1, 1);
        let (release, wait) = mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        let blocker = |wait: Arc<std::sync::Mutex<mpsc::Receiver<()>>>| move || wait.lock().unwrap().recv().ok();
        let running = tokio::spawn({
            let processor = processor.clone();
            let wait = wait.clone();
            async move { processor.run(blocker(wait)).await }
        });
        let queued = tokio::spawn({
            let processor = processor.clone();
            let wait = wait.clone();
            async move { processor.run(blocker(wait)).await }
        });
        // Let both be admitted before the third arrives.
        while processor.admission.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = processor.run(|| ()).await;
        assert!(matches!(refused, Err(Error::Overloaded { capacity: 2 })), "{refused:?}");
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert!(running.await.unwrap().is_ok());
        assert!(queued.await.unwrap().is_ok());
        assert!(processor.run(|| ()).await.is_ok(), "capacity comes back");
    }
}
