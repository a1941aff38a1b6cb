//! What operators rely on: metrics, container health checks, and signed URLs
//! that name the public endpoint browsers use.

use accommador_proto::accommador::{
    contacts::v1::contacts_service_client::ContactsServiceClient,
    media::v1::{SignImageUrlsRequest, UploadImageRequest, media_service_client::MediaServiceClient},
};
use accommador_tests::{
    Server, Stack, TestDatabase, free_port,
    pictures::photo,
    requests::{create_request, named},
    start_media, tenant_request,
};

/// The value of the first sample of `metric` whose labels contain every one of `labels`.
fn sample(metrics: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| line.starts_with(metric) && !line.starts_with('#'))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn both_services_count_and_time_rpcs_and_domain_events() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.unwrap();
    let mut contacts = ContactsServiceClient::new(stack.contacts.channel());
    let request = create_request(named("Ada"), photo(1));
    contacts.create_contact(tenant_request("acme", request)).await.unwrap();
    let bad = create_request(named("Bob"), b"GIF89a....".to_vec());
    contacts.create_contact(tenant_request("acme", bad)).await.unwrap_err();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await; // one outbox pass

    let media = stack.media.metrics().await.unwrap();
    let upload_ok = ["method=\"/accommador.media.v1.MediaService/UploadImage\"", "code=\"0\""];
    assert_eq!(sample(&media, "grpc_server_handled_total", &upload_ok), Some(1.0), "{media}");
    let upload_bad = ["method=\"/accommador.media.v1.MediaService/UploadImage\"", "code=\"3\""];
    assert_eq!(sample(&media, "grpc_server_handled_total", &upload_bad), Some(1.0));
    assert!(sample(&media, "grpc_server_handling_seconds_count", &["UploadImage"]).is_some());
    assert_eq!(sample(&media, "media_images_rejected_total", &["reason=\"IMAGE_FORMAT_UNSUPPORTED\""]), Some(1.0));
    assert_eq!(sample(&media, "media_pipeline_seconds_count", &["stage=\"normalize\""]), Some(1.0));
    assert!(sample(&media, "media_signed_urls_total", &[]).is_some_and(|n| n >= 2.0));

    let contacts_metrics = stack.contacts.metrics().await.unwrap();
    let create_bad = ["method=\"/accommador.contacts.v1.ContactsService/CreateContact\"", "code=\"3\""];
    assert_eq!(sample(&contacts_metrics, "grpc_server_handled_total", &create_bad), Some(1.0));
    assert_eq!(sample(&contacts_metrics, "contacts_claims_delivered_total", &[]), Some(1.0), "{contacts_metrics}");
    assert_eq!(sample(&contacts_metrics, "contacts_claim_outbox_backlog", &[]), Some(0.0));
}

#[tokio::test]
async fn the_healthcheck_subcommand_reports_serving_or_fails() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    for (address, expected) in [(media.addr().to_string(), true), (format!("127.0.0.1:{}", free_port()), false)] {
        let output = Server::media().command().arg("healthcheck").env("MEDIA_LISTEN", &address).output().unwrap();
        assert_eq!(output.status.success(), expected, "{address}: {}", String::from_utf8_lossy(&output.stdout));
    }
    // Listening on every interface is probed on loopback.
    let wildcard = format!("0.0.0.0:{}", media.addr().port());
    let output = Server::contacts().command().arg("healthcheck").env("CONTACTS_LISTEN", wildcard).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
}

#[tokio::test]
async fn signed_urls_name_the_public_endpoint_and_work_there() {
    // The service reaches its storage at 127.0.0.1; browsers are told `localhost`.
    let dir = tempfile::tempdir().unwrap();
    let probe = start_media(dir.path(), &[]).await.unwrap();
    let image = MediaServiceClient::new(probe.channel())
        .upload_image(tenant_request("acme", UploadImageRequest { data: photo(2), request_id: String::new() }))
        .await
        .unwrap()
        .into_inner();
    let signed = MediaServiceClient::new(probe.channel())
        .sign_image_urls(tenant_request(
            "acme",
            SignImageUrlsRequest { image_ids: vec![image.image_id.clone()], ttl: None, skip_missing: false },
        ))
        .await
        .unwrap()
        .into_inner();
    let internal_url = signed.images[0].renditions[0].url.clone();
    let embedded_port = internal_url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    assert!(internal_url.starts_with("http://127.0.0.1:"), "{internal_url}");
    assert!(probe.terminate().await.unwrap().success());

    let public = format!("http://localhost:{embedded_port}");
    let media = start_media(
        dir.path(),
        &[("EMBEDDED_S3_LISTEN", format!("127.0.0.1:{embedded_port}")), ("S3_PUBLIC_ENDPOINT", public.clone())],
    )
    .await
    .unwrap();
    let signed = MediaServiceClient::new(media.channel())
        .sign_image_urls(tenant_request(
            "acme",
            SignImageUrlsRequest { image_ids: vec![image.image_id], ttl: None, skip_missing: false },
        ))
        .await
        .unwrap()
        .into_inner();
    let url = &signed.images[0].renditions[0].url;
    assert!(url.starts_with(&format!("{public}/")), "signed for the public host: {url}");
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "fetchable at the public endpoint: {url}");
    // The same signature does not work for the internal host name: the host is signed.
    let internal = url.replace("localhost", "127.0.0.1");
    assert!(reqwest::get(&internal).await.unwrap().status().is_client_error(), "{internal}");
}
