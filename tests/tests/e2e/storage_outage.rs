//! media-svc on a real external S3 (the Garage that tests/run.sh starts):
//! when S3 is unreachable it answers UNAVAILABLE, its health turns
//! NOT_SERVING, and it recovers by itself when S3 returns (a proxy between
//! them is cut and restored); its data survives its own restarts.

use std::time::{Duration, Instant};

use accommador_proto::{
    accommador::media::v1::{SignImageUrlsRequest, UploadImageRequest, media_service_client::MediaServiceClient},
    status::error_info,
};
use accommador_tests::{Server, ServerProcess, health_status, pictures::jpeg, proxy::Proxy, tenant_request};
use media_svc::storage::{ObjectStore, S3Settings};
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

/// Garage's endpoint and a fresh bucket on it, or `None` outside CI when no Garage runs.
async fn garage_bucket() -> Option<S3Settings> {
    let Ok(garage) = std::env::var("TEST_GARAGE_ENDPOINT") else {
        assert!(std::env::var_os("CI").is_none(), "CI must run this against Garage (tests/run.sh starts it)");
        eprintln!("TEST_GARAGE_ENDPOINT not set: skipping");
        return None;
    };
    let settings = S3Settings {
        endpoint: Some(garage),
        public_endpoint: None,
        region: "garage".into(),
        bucket: format!("test-{}", uuid::Uuid::new_v4().simple()),
        access_key_id: std::env::var("TEST_GARAGE_ACCESS_KEY_ID").unwrap(),
        secret_access_key: std::env::var("TEST_GARAGE_SECRET_ACCESS_KEY").unwrap().into(),
        force_path_style: true,
    };
    ObjectStore::new(&settings).unwrap().create_bucket_if_missing().await.unwrap();
    Some(settings)
}

/// media-svc's environment for `settings`, talking to S3 at `endpoint`.
fn media_env(settings: &S3Settings, endpoint: String) -> Vec<(&'static str, String)> {
    vec![
        ("S3_ENDPOINT", endpoint),
        ("S3_REGION", settings.region.clone()),
        ("S3_BUCKET", settings.bucket.clone()),
        ("S3_ACCESS_KEY_ID", settings.access_key_id.clone()),
        ("S3_SECRET_ACCESS_KEY", secrecy::ExposeSecret::expose_secret(&settings.secret_access_key).to_owned()),
    ]
}

fn upload(seed: u32) -> tonic::Request<UploadImageRequest> {
    let data = jpeg(300, 300, seed);
    tenant_request("acme", UploadImageRequest { data, request_id: String::new() })
}

#[tokio::test]
async fn data_on_external_s3_survives_media_svc_restarts() {
    let Some(settings) = garage_bucket().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let envs = media_env(&settings, settings.endpoint.clone().unwrap());
    let media = Server::media().dir(dir.path()).envs(&envs).start().await.unwrap();
    let image = MediaServiceClient::new(media.channel()).upload_image(upload(7)).await.unwrap().into_inner();
    assert!(media.terminate().await.unwrap().success());

    let media = Server::media().dir(dir.path()).envs(&envs).start().await.unwrap();
    let request = SignImageUrlsRequest { image_ids: vec![image.image_id], ttl: None, skip_missing: false };
    let signed =
        MediaServiceClient::new(media.channel()).sign_image_urls(tenant_request("acme", request)).await.unwrap();
    let url = &signed.into_inner().images[0].renditions[1].url;
    assert_eq!(reqwest::get(url).await.unwrap().status(), 200, "stored before the restart, served after it");
}

#[tokio::test]
async fn media_svc_reports_and_survives_an_s3_outage() {
    let Some(settings) = garage_bucket().await else { return };
    let garage = settings.endpoint.clone().unwrap();

    let target = garage.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(target).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let envs = media_env(&settings, format!("http://{}", proxy.addr()));
    let media = Server::media().dir(dir.path()).envs(&envs).start().await.unwrap();
    let mut client = MediaServiceClient::new(media.channel());
    client.upload_image(upload(1)).await.expect("S3 reachable");

    proxy.cut().await;
    let status = client.upload_image(upload(2)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::STORAGE_UNAVAILABLE);
    // The SDK's text (hosts, buckets) is logged; the caller gets a stable message and the request id.
    assert!(status.message().starts_with("object storage is unavailable"), "{status:?}");
    let request_id = error_info(&status).unwrap().metadata["request_id"].clone();
    assert!(status.message().contains(&request_id), "{status:?}");
    assert!(!status.message().contains(&proxy.addr().to_string()), "no host in the message: {status:?}");
    let down = wait_for_health(&media, ServingStatus::NotServing).await;
    // Not ready, but alive: an orchestrator takes it out of rotation and does not restart it.
    assert_eq!(health_status(media.channel(), "liveness").await, Some(ServingStatus::Serving));

    proxy.restore();
    let up = wait_for_health(&media, ServingStatus::Serving).await;
    client.upload_image(upload(3)).await.expect("recovered by itself");
    println!("health NOT_SERVING after {down:?}, SERVING again {up:?} after S3 returned");
}
