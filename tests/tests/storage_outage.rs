//! S3 unreachable: media-svc answers UNAVAILABLE, its health turns
//! NOT_SERVING, and it recovers by itself when S3 returns. The S3 server is
//! the real Garage that tests/run.sh starts, behind a proxy the test cuts.

use std::time::{Duration, Instant};

use accommador_proto::{
    accommador::media::v1::{UploadImageRequest, media_service_client::MediaServiceClient},
    status::error_info,
};
use accommador_tests::{ServerProcess, health_status, proxy::Proxy, tenant_request};
use media_svc::{
    samples::{self, JpegOptions},
    storage::{ObjectStore, S3Settings},
};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

/// media-svc checks its bucket every 5 s.
const HEALTH_CHANGE_WITHIN: Duration = Duration::from_secs(20);

async fn wait_for_health(media: &ServerProcess, wanted: ServingStatus) -> Duration {
    let started = Instant::now();
    while health_status(media.channel(), "").await != Some(wanted) {
        assert!(
            started.elapsed() < HEALTH_CHANGE_WITHIN,
            "health did not become {wanted:?} in {HEALTH_CHANGE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn media_svc_reports_and_survives_an_s3_outage() {
    let Ok(garage) = std::env::var("TEST_GARAGE_ENDPOINT") else {
        assert!(std::env::var_os("CI").is_none(), "CI must run this against Garage (tests/run.sh starts it)");
        eprintln!("TEST_GARAGE_ENDPOINT not set: skipping");
        return;
    };
    let key_id = std::env::var("TEST_GARAGE_ACCESS_KEY_ID").unwrap();
    let secret = std::env::var("TEST_GARAGE_SECRET_ACCESS_KEY").unwrap();
    let bucket = format!("outage-{}", uuid::Uuid::new_v4().simple());
    let settings = S3Settings {
        endpoint: Some(garage.clone()),
        public_endpoint: None,
        region: "garage".into(),
        bucket: bucket.clone(),
        access_key_id: key_id.clone(),
        secret_access_key: secret.clone(),
        force_path_style: true,
    };
    ObjectStore::new(&settings).create_bucket_if_missing().await.unwrap();

    let target = garage.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(target).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("DATA_DIR", dir.path().display().to_string()),
        ("S3_ENDPOINT", format!("http://{}", proxy.addr())),
        ("S3_REGION", "garage".to_owned()),
        ("S3_BUCKET", bucket),
        ("S3_ACCESS_KEY_ID", key_id),
        ("S3_SECRET_ACCESS_KEY", secret),
    ];
    let media = ServerProcess::start("media-svc", "MEDIA_LISTEN", &envs, dir.path()).await.unwrap();
    let mut client = MediaServiceClient::new(media.channel());
    let upload = |seed| {
        let data = samples::jpeg(&samples::photo(300, 300, seed), JpegOptions::default());
        tenant_request("acme", UploadImageRequest { data, request_id: String::new() })
    };
    client.upload_image(upload(1)).await.expect("S3 reachable");

    proxy.cut().await;
    let status = client.upload_image(upload(2)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(error_info(&status).unwrap().reason, "STORAGE_UNAVAILABLE");
    let down = wait_for_health(&media, ServingStatus::NotServing).await;

    proxy.restore();
    let up = wait_for_health(&media, ServingStatus::Serving).await;
    client.upload_image(upload(3)).await.expect("recovered by itself");
    println!("health NOT_SERVING after {down:?}, SERVING again {up:?} after S3 returned");
}
