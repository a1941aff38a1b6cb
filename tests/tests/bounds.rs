//! Bounds no caller can push: metrics and logs that made-up method paths
//! and headers cannot grow, and credentials that cannot be trivial.

use std::{
    process::{Command, Stdio},
    time::Instant,
};

use accommador_proto::auth::hash_token;
use accommador_tests::{Stack, TestDatabase, binary_path, free_port};
use tonic::{Code, transport::Channel};

/// Calls `path` with an empty message, as a client that made it up would.
async fn call(channel: Channel, path: String, tenant: String) -> Code {
    let mut client = tonic::client::Grpc::new(channel);
    if client.ready().await.is_err() {
        return Code::Unavailable;
    }
    let mut request = tonic::Request::new(());
    if let Ok(value) = tenant.parse() {
        request.metadata_mut().insert("x-tenant-id", value);
    }
    let Ok(path) = http::uri::PathAndQuery::from_maybe_shared(path) else { return Code::InvalidArgument };
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match client.unary(request, path, codec).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn ten_thousand_unauthenticated_calls_to_made_up_paths_barely_grow_metrics_and_logs() {
    let database = TestDatabase { name: "sqlite", url: None };
    let key = "bounds-test-key-0123456789";
    let credentials = [("CREDENTIALS", format!("tenant acme-key acme {}", hash_token(key)))];
    let stack = Stack::start(&database, &[], &credentials).await.unwrap();
    // One call of each kind first, so the series every call makes exist.
    call(stack.contacts.channel(), "/made.up/Warmup".into(), "acme".into()).await;
    let before = stack.contacts.metrics().await.unwrap().len();

    const CALLS: usize = 10_000;
    const TASKS: usize = 16;
    let started = Instant::now();
    let tasks = (0..TASKS).map(|task| {
        let channel = stack.contacts.channel();
        tokio::spawn(async move {
            let mut codes = Vec::new();
            for n in 0..CALLS / TASKS {
                // About 100 bytes of path and a tenant header nobody checked, new every call.
                let path = format!("/made.up.Service{task}x{n}/{}", "Method".repeat(14));
                let tenant = format!("not a tenant {task} {n} <script>");
                codes.push(call(channel.clone(), path, tenant).await);
            }
            codes
        })
    });
    let codes: Vec<Code> = futures::future::join_all(tasks).await.into_iter().flat_map(Result::unwrap).collect();
    let elapsed = started.elapsed();
    assert_eq!(codes.len(), CALLS);
    assert!(codes.iter().all(|code| *code == Code::Unimplemented || *code == Code::Unauthenticated), "{codes:?}");

    let after = stack.contacts.metrics().await.unwrap();
    let growth = after.len().saturating_sub(before);
    assert!(growth < 16 * 1024, "/metrics grew by {growth} bytes over {CALLS} calls:\n{after}");
    assert!(!after.contains("made.up"), "a made-up path became a label");

    let log = stack.contacts.log();
    let logged = log.lines().filter(|line| line.contains("call to an unknown method")).count();
    let allowed = elapsed.as_secs() as usize + 2;
    assert!(logged <= allowed, "{logged} log lines for unknown paths in {elapsed:?}: at most one a second");
    assert!(log.lines().all(|line| line.len() < 2048), "no log line carries a whole made-up path");
    assert!(!log.contains("not a tenant"), "an unchecked tenant id reached the logs");
}

#[test]
fn hash_token_refuses_short_and_empty_tokens() {
    for service in ["contacts-svc", "media-svc"] {
        for (token, accepted) in [("", false), ("short-token", false), ("a-token-of-twenty-four-b", true)] {
            let mut child = Command::new(binary_path(service))
                .arg("hash-token")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            if accepted {
                assert!(output.status.success(), "{service}: {token:?}");
                assert_eq!(stdout.trim(), hash_token(token), "{service}");
            } else {
                assert_eq!(output.status.code(), Some(2), "{service}: {token:?} is refused");
                assert!(stdout.is_empty(), "{service}: no hash for {token:?}");
                assert!(String::from_utf8_lossy(&output.stderr).contains("at least 16"), "{service}: says the limit");
            }
        }
    }
}

#[test]
fn a_service_refuses_to_start_with_the_hash_of_the_empty_token() {
    for (binary, listen_env) in [("contacts-svc", "CONTACTS_LISTEN"), ("media-svc", "MEDIA_LISTEN")] {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(binary_path(binary))
            .env(listen_env, format!("127.0.0.1:{}", free_port()))
            .env("METRICS_LISTEN", "127.0.0.1:0")
            .env("DATA_DIR", dir.path())
            .env("EMBEDDED_S3_LISTEN", "127.0.0.1:0")
            .env("CREDENTIALS", format!("service anyone {}", hash_token("")))
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{binary} must not start with the hash of the empty token");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("hash of the empty token"), "{binary} says why: {stderr}");
    }
}
