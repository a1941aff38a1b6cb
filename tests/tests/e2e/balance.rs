//! contacts-svc spreads its calls to media-svc per request over every
//! replica, not one connection's: two media-svc on one storage (the second
//! uses the first's embedded S3 server), one contacts-svc given both as
//! MEDIA_ENDPOINT, and each media-svc's own metrics show it took uploads.

use accommador_proto::accommador::contacts::v1::contacts_service_client::ContactsServiceClient;
use accommador_tests::{
    Server, TestDatabase, free_port, pictures::jpeg, requests::create_request, requests::named, stack::start_contacts,
    tenant_request,
};

/// Successful calls (gRPC code 0) of `method` in a server's Prometheus text.
fn handled(metrics: &str, method: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("grpc_server_handled_total{") && line.contains(method))
        .filter(|line| line.contains("code=\"0\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn contacts_svc_spreads_uploads_over_every_media_svc() {
    let dir = tempfile::tempdir().unwrap();
    let (first_dir, second_dir) = (dir.path().join("media-1"), dir.path().join("media-2"));
    for sub in [&first_dir, &second_dir] {
        std::fs::create_dir_all(sub).unwrap();
    }
    let s3 = format!("127.0.0.1:{}", free_port());
    let first = Server::media().dir(&first_dir).env("EMBEDDED_S3_LISTEN", s3.clone()).start().await.unwrap();
    let credentials: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(first_dir.join("media/embedded-s3-credentials.json")).unwrap())
            .unwrap();
    let second = Server::media()
        .dir(&second_dir)
        .envs(&[
            ("S3_ENDPOINT", format!("http://{s3}")),
            ("S3_ACCESS_KEY_ID", credentials["access_key_id"].as_str().unwrap().to_owned()),
            ("S3_SECRET_ACCESS_KEY", credentials["secret_access_key"].as_str().unwrap().to_owned()),
        ])
        .start()
        .await
        .unwrap();
    let endpoints = format!("{},{}", first.endpoint(), second.endpoint());
    let contacts = start_contacts(
        dir.path(),
        &first,
        &TestDatabase::sqlite(),
        &[("MEDIA_ENDPOINT", endpoints), ("MEDIA_RESOLVE_INTERVAL", "1s".to_owned())],
    )
    .await
    .unwrap();

    let mut client = ContactsServiceClient::new(contacts.channel());
    let creates = 24;
    for seed in 0..creates {
        let request = create_request(named(&format!("Person {seed}")), jpeg(64, 64, seed));
        let created = client.create_contact(tenant_request("acme", request)).await.unwrap().into_inner();
        assert!(created.profile_picture.is_some(), "contact {seed} has its picture");
    }
    // Every picture is listed with URLs, whichever replica stored it.
    let page = accommador_tests::requests::first_page(&mut client, "acme").await;
    assert_eq!(page.len(), creates as usize);
    assert!(page.iter().all(|contact| contact.profile_picture.is_some()));

    let uploads = [
        handled(&first.metrics().await.unwrap(), "UploadImage"),
        handled(&second.metrics().await.unwrap(), "UploadImage"),
    ];
    println!("uploads per media-svc replica: {uploads:?}");
    assert_eq!(uploads.iter().sum::<u64>(), u64::from(creates), "each create uploads once");
    assert!(uploads.iter().all(|&count| count >= u64::from(creates) / 6), "both replicas take work: {uploads:?}");
}
