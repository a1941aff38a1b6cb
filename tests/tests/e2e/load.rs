//! Load at twice media-svc's capacity, driven by the real load generator:
//! the excess fails fast with RESOURCE_EXHAUSTED, the rest succeeds, memory
//! stays bounded, and afterwards the counts reconcile exactly.

use std::process::Command;

use accommador_proto::accommador::contacts::v1::contacts_service_client::ContactsServiceClient;
use accommador_tests::{Stack, TestDatabase, binary_path, embedded_objects, requests::first_page};

/// media-svc's peak resident memory under this load must stay below this.
const PEAK_MEMORY_BOUND: u64 = 256 * 1024 * 1024;

#[tokio::test]
async fn twice_the_capacity_fails_fast_and_reconciles_exactly() {
    // Capacity: 1 image in progress and no room to wait (the waiting cap is one byte).
    let media_env = [("MEDIA_WORKERS", "1".to_owned()), ("MEDIA_MAX_QUEUED_BYTES", "1".to_owned())];
    let stack = Stack::start(&TestDatabase::sqlite(), &media_env, &[]).await.unwrap();
    let requests = 40;
    let output = Command::new(binary_path("loadgen"))
        .args(["--endpoint", &stack.contacts.endpoint(), "--tenant", "acme", "--operation", "create", "--json"])
        .args(["--concurrency", "4", "--requests", &requests.to_string(), "--distinct-pictures", &requests.to_string()])
        .args(["--picture-size", "1600x1200"])
        .output()
        .unwrap();
    assert!(output.status.success(), "loadgen: {}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON report");
    let ok = report["ok"].as_u64().unwrap();
    let errors = report["errors"].as_object().unwrap();
    println!("load at 2x capacity: {report}");

    assert!(ok > 0, "some creates succeed: {report}");
    assert!(errors.contains_key("ResourceExhausted"), "the excess is refused: {report}");
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["ResourceExhausted"], "and nothing else fails: {report}");
    assert_eq!(ok + errors["ResourceExhausted"].as_u64().unwrap(), requests);

    let listed = first_page(&mut ContactsServiceClient::new(stack.contacts.channel()), "acme").await;
    assert_eq!(listed.len() as u64, ok, "contacts created = successful responses");
    let stored = embedded_objects(stack.dir.path(), "acme", "images").len();
    assert_eq!(
        stored as u64,
        report["distinct_images"].as_u64().unwrap(),
        "stored images = distinct pictures that succeeded"
    );
    assert_eq!(stored as u64, ok, "every success sent a distinct picture; no refused one left an object");

    let peak = stack.media.peak_memory_bytes().unwrap();
    assert!(peak < PEAK_MEMORY_BOUND, "media-svc peaked at {} MiB", peak >> 20);
}
