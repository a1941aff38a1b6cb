//! Who may call what: bearer tokens, tenant-bound API keys, media-svc for
//! services only, tenant isolation across every RPC, no secrets in logs,
//! the loopback-only open mode, and TLS with mutual authentication.

use std::path::Path;

use accommador_proto::{
    accommador::{
        contacts::v1::{
            BatchGetContactsRequest, Contact, CreateContactRequest, FindDuplicateContactsRequest, GetContactRequest,
            ListContactsRequest, MergeContactsRequest, ReplaceProfilePictureRequest, UnmergeContactsRequest,
            contacts_service_client::ContactsServiceClient,
        },
        media::v1::{
            ClaimImageRequest, SignImageUrlsRequest, UploadImageRequest, ValidateImageRequest,
            media_service_client::MediaServiceClient,
        },
    },
    status::error_info,
};
use accommador_server::credentials::hash_token;
use accommador_tests::{
    Server, ServerProcess, free_port, health_status, pictures::photo, requests::create_request, start_media,
};
use tonic::{Code, Status, transport::Channel};
use tonic_health::pb::health_check_response::ServingStatus;

const ACME_KEY: &str = "acme-api-key-3f9c2a7d41";
const GLOBEX_KEY: &str = "globex-api-key-8b1e5f0c92";
const CONVERSATIONS_TOKEN: &str = "conversations-service-token-5d7a";
const CONTACTS_TO_MEDIA_TOKEN: &str = "contacts-to-media-token-c41e9b";

fn contacts_credentials() -> String {
    format!(
        "tenant acme-key acme {};tenant globex-key globex {};service conversations {}",
        hash_token(ACME_KEY),
        hash_token(GLOBEX_KEY),
        hash_token(CONVERSATIONS_TOKEN)
    )
}

fn media_credentials() -> String {
    format!("service contacts-svc {}", hash_token(CONTACTS_TO_MEDIA_TOKEN))
}

/// Both services with credentials configured, wired together.
async fn secured_stack(dir: &Path) -> (ServerProcess, ServerProcess) {
    let media = start_media(dir, &[("CREDENTIALS", media_credentials())]).await.unwrap();
    let envs = [
        ("MEDIA_ENDPOINT", media.endpoint()),
        ("MEDIA_TOKEN", CONTACTS_TO_MEDIA_TOKEN.to_owned()),
        ("CREDENTIALS", contacts_credentials()),
        ("CLAIM_RETRY_INTERVAL", "500ms".to_owned()),
    ];
    let contacts = Server::contacts().dir(dir).envs(&envs).start().await.unwrap();
    (media, contacts)
}

/// A request with a bearer token and, optionally, a tenant.
fn call<T>(token: Option<&str>, tenant: Option<&str>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    if let Some(tenant) = tenant {
        request.metadata_mut().insert("x-tenant-id", tenant.parse().unwrap());
    }
    request
}

async fn create(
    client: &mut ContactsServiceClient<Channel>,
    token: &str,
    name: &str,
    picture: Vec<u8>,
) -> Result<Contact, Status> {
    let contact = Contact {
        first_name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        ..Default::default()
    };
    client
        .create_contact(call(Some(token), None, create_request(contact, picture)))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn callers_need_a_valid_token_and_tenant_keys_stay_in_their_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (_media, contacts) = secured_stack(dir.path()).await;
    let mut client = ContactsServiceClient::new(contacts.channel());

    // Health and reflection stay open (the harness waited on health without a token).
    assert_eq!(health_status(contacts.channel(), "").await, Some(ServingStatus::Serving));

    let list = || ListContactsRequest::default();
    for (token, what) in [(None, "no token"), (Some("wrong-token"), "unknown token")] {
        let status = client.list_contacts(call(token, Some("acme"), list())).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{what}");
        assert_eq!(error_info(&status).unwrap().reason, accommador_proto::reasons::UNAUTHENTICATED, "{what}");
    }

    // A tenant key without x-tenant-id acts for its own tenant...
    let created = create(&mut client, ACME_KEY, "Ada", photo(1)).await.unwrap();
    let mine = client.list_contacts(call(Some(ACME_KEY), None, list())).await.unwrap().into_inner();
    assert_eq!(mine.contacts.len(), 1);
    // ...and never for another one.
    let status = client.list_contacts(call(Some(ACME_KEY), Some("globex"), list())).await.unwrap_err();
    assert_eq!(
        (status.code(), error_info(&status).unwrap().reason.as_str()),
        (Code::PermissionDenied, accommador_proto::reasons::TENANT_MISMATCH)
    );

    // A service credential acts for the tenant it names, and must name one.
    let request = GetContactRequest { id: created.id.clone(), revision: 0 };
    let seen = client.get_contact(call(Some(CONVERSATIONS_TOKEN), Some("acme"), request.clone())).await.unwrap();
    assert_eq!(seen.into_inner().id, created.id);
    let status = client.get_contact(call(Some(CONVERSATIONS_TOKEN), None, request)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "a service must name the tenant");
}

#[tokio::test]
async fn media_svc_admits_services_only() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[("CREDENTIALS", media_credentials())]).await.unwrap();
    let mut client = MediaServiceClient::new(media.channel());
    let validate = || ValidateImageRequest { data: photo(2) };
    for token in [None, Some(ACME_KEY), Some(CONVERSATIONS_TOKEN)] {
        let status = client.validate_image(call(token, Some("acme"), validate())).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "token {token:?}");
    }
    client
        .validate_image(call(Some(CONTACTS_TO_MEDIA_TOKEN), Some("acme"), validate()))
        .await
        .expect("contacts-svc's token");
}

#[tokio::test]
async fn no_tenant_reaches_another_tenants_data_through_any_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let (media, contacts) = secured_stack(dir.path()).await;
    let mut client = ContactsServiceClient::new(contacts.channel());
    let victim = create(&mut client, GLOBEX_KEY, "Secretname", photo(3)).await.unwrap();
    let victim_image = victim.profile_picture.as_ref().unwrap().image_id.clone();
    let attacker = create(&mut client, ACME_KEY, "Attacker", vec![]).await.unwrap();

    let leaks = |status: &Status| {
        let text = format!("{status:?}");
        text.contains("Secretname") || text.contains("X-Amz") || text.contains(&victim_image)
    };
    let (a, v) = (attacker.id.clone(), victim.id.clone());
    let outcomes: Vec<(&str, Result<String, Status>)> = vec![
        (
            "GetContact",
            client
                .get_contact(call(Some(ACME_KEY), None, GetContactRequest { id: v.clone(), revision: 0 }))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "GetContact revision",
            client
                .get_contact(call(Some(ACME_KEY), None, GetContactRequest { id: v.clone(), revision: 1 }))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "BatchGetContacts",
            client
                .batch_get_contacts(call(
                    Some(ACME_KEY),
                    None,
                    BatchGetContactsRequest { ids: vec![a.clone(), v.clone()] },
                ))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "MergeContacts into",
            client
                .merge_contacts(call(
                    Some(ACME_KEY),
                    None,
                    MergeContactsRequest { primary_id: a.clone(), duplicate_id: v.clone(), ..Default::default() },
                ))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "MergeContacts from",
            client
                .merge_contacts(call(
                    Some(ACME_KEY),
                    None,
                    MergeContactsRequest { primary_id: v.clone(), duplicate_id: a.clone(), ..Default::default() },
                ))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "UnmergeContacts from",
            client
                .unmerge_contacts(call(
                    Some(ACME_KEY),
                    None,
                    UnmergeContactsRequest { primary_id: a.clone(), duplicate_id: v.clone(), ..Default::default() },
                ))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "UnmergeContacts into",
            client
                .unmerge_contacts(call(
                    Some(ACME_KEY),
                    None,
                    UnmergeContactsRequest { primary_id: v.clone(), duplicate_id: a.clone(), ..Default::default() },
                ))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "FindDuplicateContacts",
            client
                .find_duplicate_contacts(call(
                    Some(ACME_KEY),
                    None,
                    FindDuplicateContactsRequest { contact_id: v.clone() },
                ))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "ReplaceProfilePicture",
            client
                .replace_profile_picture(call(
                    Some(ACME_KEY),
                    None,
                    ReplaceProfilePictureRequest { id: v.clone(), profile_picture: photo(4), ..Default::default() },
                ))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "ListContacts as other tenant",
            client
                .list_contacts(call(Some(ACME_KEY), Some("globex"), ListContactsRequest::default()))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
        (
            "CreateContact as other tenant",
            client
                .create_contact(call(
                    Some(ACME_KEY),
                    Some("globex"),
                    CreateContactRequest {
                        contact: Some(Contact { first_name: "x".into(), ..Default::default() }),
                        ..Default::default()
                    },
                ))
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        ),
    ];
    for (rpc, outcome) in outcomes {
        let status = outcome.expect_err(rpc);
        assert!(matches!(status.code(), Code::NotFound | Code::PermissionDenied), "{rpc}: {status:?}");
        assert!(!leaks(&status), "{rpc} leaks: {status:?}");
    }
    // An unknown id and another tenant's id are indistinguishable.
    let unknown = "0190f0e6-0000-7000-8000-000000000000";
    let foreign = client
        .get_contact(call(Some(ACME_KEY), None, GetContactRequest { id: v.clone(), revision: 0 }))
        .await
        .unwrap_err();
    let missing = client
        .get_contact(call(Some(ACME_KEY), None, GetContactRequest { id: unknown.into(), revision: 0 }))
        .await
        .unwrap_err();
    assert_eq!(
        (foreign.code(), foreign.message().replace(&v, "ID")),
        (missing.code(), missing.message().replace(unknown, "ID"))
    );
    // The list of the attacker's tenant shows only its own contact.
    let own =
        client.list_contacts(call(Some(ACME_KEY), None, ListContactsRequest::default())).await.unwrap().into_inner();
    assert_eq!(own.contacts.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), std::slice::from_ref(&a));

    // media-svc, even with a service credential, keeps tenants apart.
    let mut media_client = MediaServiceClient::new(media.channel());
    let token = Some(CONTACTS_TO_MEDIA_TOKEN);
    let sign = SignImageUrlsRequest { image_ids: vec![victim_image.clone()], ttl: None, skip_missing: false };
    let status = media_client.sign_image_urls(call(token, Some("acme"), sign)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let claim = ClaimImageRequest { image_id: victim_image.clone(), owner: a.clone(), lease_expire_time: None };
    let status = media_client.claim_image(call(token, Some("acme"), claim)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // An upload of the same bytes by another tenant is a different image.
    let upload = UploadImageRequest { data: photo(3), request_id: String::new() };
    let own_copy = media_client.upload_image(call(token, Some("acme"), upload)).await.unwrap().into_inner();
    assert_ne!(own_copy.image_id, victim_image);
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (media, contacts) = secured_stack(dir.path()).await;
    let mut client = ContactsServiceClient::new(contacts.channel());
    let created = create(&mut client, ACME_KEY, "Ada", photo(4)).await.unwrap();
    let _ =
        client.list_contacts(call(Some("wrong-token-value-77"), Some("acme"), ListContactsRequest::default())).await;
    let _ = client.get_contact(call(Some(ACME_KEY), None, GetContactRequest { id: created.id, revision: 0 })).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await; // let the claim outbox run once

    let s3_secret: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("media/embedded-s3-credentials.json")).unwrap())
            .unwrap();
    let secrets = [
        ACME_KEY,
        GLOBEX_KEY,
        CONVERSATIONS_TOKEN,
        CONTACTS_TO_MEDIA_TOKEN,
        "wrong-token-value-77",
        s3_secret["secret_access_key"].as_str().unwrap(),
        "X-Amz-Signature",
    ];
    for (service, log) in [("contacts-svc", contacts.log()), ("media-svc", media.log())] {
        assert!(log.contains("rpc"), "{service} logged its RPCs");
        for secret in secrets {
            assert!(!log.contains(secret), "{service}'s log contains {secret:?}");
        }
    }
}

#[tokio::test]
async fn without_credentials_a_service_refuses_to_listen_beyond_loopback() {
    for (server, binary, listen_env) in
        [(Server::contacts(), "contacts-svc", "CONTACTS_LISTEN"), (Server::media(), "media-svc", "MEDIA_LISTEN")]
    {
        let dir = tempfile::tempdir().unwrap();
        let output =
            server.dir(dir.path()).env(listen_env, format!("0.0.0.0:{}", free_port())).command().output().unwrap();
        assert!(!output.status.success(), "{binary} must not start open on 0.0.0.0");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no credentials configured"), "{binary} says why: {stderr}");
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in PEM files.
struct Pki {
    ca: std::path::PathBuf,
    server_cert: std::path::PathBuf,
    server_key: std::path::PathBuf,
    client_cert: std::path::PathBuf,
    client_key: std::path::PathBuf,
    ca_pem: String,
}

fn make_pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names).unwrap().signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_pem, server_key_pem) = leaf(vec!["127.0.0.1".into(), "localhost".into()]);
    let (client_pem, client_key_pem) = leaf(vec!["contacts-svc".into()]);
    let write = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    Pki {
        ca: write("ca.pem", &ca.pem()),
        server_cert: write("server.pem", &server_pem),
        server_key: write("server.key", &server_key_pem),
        client_cert: write("client.pem", &client_pem),
        client_key: write("client.key", &client_key_pem),
        ca_pem: ca.pem(),
    }
}

#[tokio::test]
async fn both_services_serve_tls_and_media_requires_a_client_certificate() {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let client_tls = || {
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca_pem)).identity(Identity::from_pem(
            std::fs::read(&pki.client_cert).unwrap(),
            std::fs::read(&pki.client_key).unwrap(),
        ))
    };
    let path = |p: &Path| p.display().to_string();
    let media_env = [
        ("TLS_CERT", path(&pki.server_cert)),
        ("TLS_KEY", path(&pki.server_key)),
        ("TLS_CLIENT_CA", path(&pki.ca)),
        ("CREDENTIALS", media_credentials()),
    ];
    let media = Server::media().dir(dir.path()).envs(&media_env).tls(client_tls()).start().await.unwrap();
    let health_listen = format!("127.0.0.1:{}", free_port());
    let contacts_env = [
        ("MEDIA_ENDPOINT", media.endpoint()),
        ("MEDIA_TOKEN", CONTACTS_TO_MEDIA_TOKEN.to_owned()),
        ("MEDIA_TLS_CA", path(&pki.ca)),
        ("MEDIA_TLS_CERT", path(&pki.client_cert)),
        ("MEDIA_TLS_KEY", path(&pki.client_key)),
        ("TLS_CERT", path(&pki.server_cert)),
        ("TLS_KEY", path(&pki.server_key)),
        ("CREDENTIALS", contacts_credentials()),
        ("HEALTH_LISTEN", health_listen.clone()),
    ];
    let server_only_tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca_pem));
    let contacts =
        Server::contacts().dir(dir.path()).envs(&contacts_env).tls(server_only_tls.clone()).start().await.unwrap();

    // contacts-svc over TLS, and through it media-svc over mutual TLS.
    let mut client = ContactsServiceClient::new(contacts.channel());
    let created = create(&mut client, ACME_KEY, "Ada", photo(5)).await.expect("create over TLS and mTLS");
    assert_eq!(created.profile_picture.unwrap().renditions.len(), 2);

    // Without a client certificate, media-svc's handshake fails.
    let endpoint =
        tonic::transport::Endpoint::from_shared(media.endpoint()).unwrap().tls_config(server_only_tls).unwrap();
    let mut anonymous = MediaServiceClient::new(endpoint.connect_lazy());
    let status = anonymous
        .validate_image(call(Some(CONTACTS_TO_MEDIA_TOKEN), Some("acme"), ValidateImageRequest { data: photo(6) }))
        .await
        .unwrap_err();
    // With TLS 1.3 the server refuses the handshake after the client thinks it is done,
    // so the failure surfaces as whichever transport error the client hits first
    // (refused, broken pipe, closed connection), never as an answer from the service.
    assert!(
        matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled),
        "no client certificate: {status:?}"
    );
    assert!(error_info(&status).is_none(), "the service itself never answered: {status:?}");
    // And plaintext is not spoken at all.
    let plaintext = format!("http://{}", media.addr());
    let mut plain = MediaServiceClient::new(tonic::transport::Endpoint::from_shared(plaintext).unwrap().connect_lazy());
    assert!(plain.validate_image(call(None, Some("acme"), ValidateImageRequest { data: vec![] })).await.is_err());

    // Probes that cannot speak TLS use the plaintext health listener, which serves health and nothing else.
    let health = tonic::transport::Endpoint::from_shared(format!("http://{health_listen}")).unwrap().connect_lazy();
    assert_eq!(health_status(health.clone(), "").await, Some(ServingStatus::Serving), "readiness");
    assert_eq!(health_status(health.clone(), "liveness").await, Some(ServingStatus::Serving), "liveness");
    let status = ContactsServiceClient::new(health)
        .list_contacts(call(Some(ACME_KEY), None, ListContactsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "only health on the health listener: {status:?}");
    // And the healthcheck subcommand (container health checks) goes there.
    let healthcheck = |extra: &[&str], health_listen: Option<&str>| {
        let mut command = Server::contacts().command();
        command.arg("healthcheck").args(extra).env("CONTACTS_LISTEN", contacts.addr().to_string());
        match health_listen {
            Some(address) => command.env("HEALTH_LISTEN", address),
            None => command.env_remove("HEALTH_LISTEN"),
        };
        command.output().unwrap()
    };
    for extra in [&[][..], &["--liveness"][..]] {
        let output = healthcheck(extra, Some(&health_listen));
        assert!(output.status.success(), "healthcheck {extra:?}: {}", String::from_utf8_lossy(&output.stdout));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "SERVING");
    }
    assert!(!healthcheck(&[], None).status.success(), "the TLS port does not answer a plaintext probe");
}
