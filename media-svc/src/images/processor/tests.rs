use std::sync::mpsc;

use super::*;

/// A job that blocks its worker until told to finish.
fn blocker() -> (mpsc::Sender<()>, impl FnOnce() + Send + 'static) {
    let (release, wait) = mpsc::channel::<()>();
    (release, move || {
        let _ = wait.recv();
    })
}

/// Starts a job of `tenant` that holds the (only) worker until released.
async fn occupy_the_worker(
    processor: &Processor,
    tenant: &'static str,
) -> (mpsc::Sender<()>, tokio::task::JoinHandle<Result<(), Error>>) {
    let (release, block) = blocker();
    let busy = tokio::spawn({
        let processor = processor.clone();
        async move { processor.run(job(tenant), block).await }
    });
    while processor.inner.lock().running == 0 {
        tokio::task::yield_now().await;
    }
    (release, busy)
}

fn job(tenant: &str) -> Job<'_> {
    Job { tenant, bytes: 10, deadline: None }
}

async fn wait_until_waiting(processor: &Processor, waiting: usize) {
    while processor.inner.lock().waiting < waiting {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn waiting_images_are_served_round_robin_across_tenants() {
    let processor = Processor::new(1, 1 << 20);
    let (release, busy) = occupy_the_worker(&processor, "flood").await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut calls = Vec::new();
    for (n, tenant) in ["flood", "flood", "flood", "quiet", "flood"].into_iter().enumerate() {
        let (queued, order) = (processor.clone(), order.clone());
        calls.push(tokio::spawn(async move {
            queued.run(job(tenant), move || order.lock().unwrap().push(format!("{tenant}{n}"))).await
        }));
        wait_until_waiting(&processor, n + 1).await;
    }
    release.send(()).unwrap();
    busy.await.unwrap().unwrap();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order, ["flood0", "quiet3", "flood1", "flood2", "flood4"], "the quiet tenant goes second, not last");
    let state = processor.inner.lock();
    assert_eq!((state.running, state.waiting, state.queued_bytes), (0, 0, 0), "everything is given back");
}

#[tokio::test]
async fn a_request_that_cannot_finish_in_time_is_refused_at_once_and_one_that_can_waits() {
    let processor = Processor::new(1, 1 << 20);
    let (release, busy) = occupy_the_worker(&processor, "a").await;
    let hopeless = Job { deadline: Some(Instant::now() + Duration::from_millis(5)), ..job("b") };
    let refused = processor.run(hopeless, || ()).await;
    assert!(matches!(refused, Err(Error::Overloaded { .. })), "{refused:?}");

    let patient = Job { deadline: Some(Instant::now() + Duration::from_secs(30)), ..job("b") };
    let waiting = tokio::spawn({
        let processor = processor.clone();
        async move { processor.run(patient, || 7).await }
    });
    wait_until_waiting(&processor, 1).await;
    release.send(()).unwrap();
    busy.await.unwrap().unwrap();
    assert_eq!(waiting.await.unwrap().unwrap(), 7);
}

#[tokio::test]
async fn waiting_bytes_are_capped() {
    let processor = Processor::new(1, 100);
    let (release, busy) = occupy_the_worker(&processor, "a").await;
    let first = tokio::spawn({
        let processor = processor.clone();
        async move { processor.run(Job { bytes: 60, ..job("a") }, || ()).await }
    });
    wait_until_waiting(&processor, 1).await;
    let refused = processor.run(Job { bytes: 60, ..job("b") }, || ()).await;
    assert!(matches!(refused, Err(Error::Overloaded { max_queued_bytes: 100, .. })), "{refused:?}");
    release.send(()).unwrap();
    busy.await.unwrap().unwrap();
    first.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_caller_that_gives_up_leaves_the_queue_and_the_worker_passes_on() {
    let processor = Processor::new(1, 1 << 20);
    let (release, busy) = occupy_the_worker(&processor, "a").await;
    let gone = tokio::spawn({
        let processor = processor.clone();
        async move { processor.run(job("gone"), || ()).await }
    });
    wait_until_waiting(&processor, 1).await;
    let next = tokio::spawn({
        let processor = processor.clone();
        async move { processor.run(job("next"), || 1).await }
    });
    wait_until_waiting(&processor, 2).await;
    gone.abort();
    let _ = gone.await;
    assert_eq!(processor.inner.lock().waiting, 1, "the caller that gave up left");
    assert!(!processor.inner.lock().queues.contains_key("gone"));
    release.send(()).unwrap();
    busy.await.unwrap().unwrap();
    assert_eq!(next.await.unwrap().unwrap(), 1);
    let state = processor.inner.lock();
    assert_eq!((state.running, state.waiting, state.queued_bytes, state.turns.len()), (0, 0, 0, 0));
}
