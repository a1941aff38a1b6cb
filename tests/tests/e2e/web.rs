//! The browser edge of contacts-svc's port, against the real binaries:
//! gRPC-Web over HTTP/1.1 (answers, errors and transport refusals as a
//! gRPC client gets them), CORS for the configured origins only, the stable
//! picture URLs (a redirect while the picture is stored, across signing
//! buckets; 404 for anything made up or altered, without asking media-svc;
//! 404 once the picture is taken down or erased), and the console's files.

use std::time::{Duration, Instant};

use accommador_proto::{
    accommador::contacts::v1::{
        Contact, EraseContactRequest, ListContactsRequest, ListContactsResponse, RemoveProfilePictureRequest,
    },
    reasons,
    status::error_info,
};
use accommador_tests::{Stack, TestDatabase, pictures::photo, requests::create_request, tenant_request};
use prost::Message;
use reqwest::{StatusCode, redirect::Policy};
use tonic::Code;

const LIST: &str = "/accommador.contacts.v1.ContactsService/ListContacts";
const ALLOWED_ORIGIN: &str = "https://app.example.com";

fn http() -> reqwest::Client {
    // HTTP/1.1 only, as a browser's gRPC-Web over plain HTTP; redirects are
    // looked at, not followed.
    reqwest::Client::builder().http1_only().redirect(Policy::none()).build().unwrap()
}

/// A gRPC-Web body: one length-prefixed message.
fn framed(message: &[u8]) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    body
}

/// A gRPC-Web response body's data frames and its trailer frame's text.
fn unframe(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.len() >= 5 {
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let payload = body[5..5 + len].to_vec();
        if body[0] & 0x80 != 0 {
            trailers = String::from_utf8(payload).unwrap();
        } else {
            messages.push(payload);
        }
        body = &body[5 + len..];
    }
    (messages, trailers)
}

async fn grpc_web(stack: &Stack, tenant: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut request = http()
        .post(format!("http://{}{LIST}", stack.contacts.addr()))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body);
    if let Some(tenant) = tenant {
        request = request.header("x-tenant-id", tenant);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    response
}

fn status_of(response: &reqwest::Response) -> tonic::Status {
    tonic::Status::from_header_map(response.headers()).expect("grpc-status in the headers")
}

#[tokio::test]
async fn a_browser_calls_the_api_over_grpc_web_and_gets_the_same_answers_and_errors() {
    let web = [("WEB_ALLOWED_ORIGINS", format!("{ALLOWED_ORIGIN}, http://127.0.0.1:5173"))];
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &web).await.unwrap();
    let mut client = stack.contacts_client();
    let ada = Contact { first_name: "Ada".into(), last_name: "Lovelace".into(), ..Default::default() };
    let ada = client.create_contact(tenant_request("acme", create_request(ada, vec![]))).await.unwrap().into_inner();

    let request = ListContactsRequest { page_size: 10, ..Default::default() };
    let response = grpc_web(&stack, Some("acme"), framed(&request.encode_to_vec())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/grpc-web+proto");
    let (messages, trailers) = unframe(&response.bytes().await.unwrap());
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let page = ListContactsResponse::decode(messages[0].as_slice()).unwrap();
    assert_eq!(page.contacts.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [ada.id.as_str()]);
    assert_eq!(page.contacts[0], ada, "the same contact a gRPC client reads");
    let placeholder = ada.avatar_placeholder.as_ref().expect("every contact has a placeholder");
    assert_eq!(placeholder.initials, "AL");
    for colour in [&placeholder.background_color, &placeholder.text_color] {
        assert!(colour.len() == 7 && colour.starts_with('#'), "{colour}");
    }

    // The interceptor's refusal, with its details, as gRPC-Web.
    let refused = grpc_web(&stack, None, framed(&request.encode_to_vec())).await;
    let status = status_of(&refused);
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(error_info(&status).unwrap().reason, reasons::TENANT_ID_INVALID);

    // The transport guard's refusal (a message declared larger than the
    // limit, refused from its prefix) reaches the browser as gRPC-Web too.
    let mut huge = vec![0];
    huge.extend_from_slice(&(200 * 1024 * 1024u32).to_be_bytes());
    huge.extend_from_slice(&[0; 64]);
    let refused = grpc_web(&stack, Some("acme"), huge).await;
    assert_eq!(refused.headers()["content-type"], "application/grpc-web+proto");
    let status = status_of(&refused);
    assert_eq!(error_info(&status).unwrap().reason, reasons::MESSAGE_TOO_LARGE, "{status:?}");

    // CORS: the listed origins only.
    let preflight = |origin: &'static str| {
        http()
            .request(reqwest::Method::OPTIONS, format!("http://{}{LIST}", stack.contacts.addr()))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-grpc-web,x-tenant-id,authorization")
            .send()
    };
    let allowed = preflight(ALLOWED_ORIGIN).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
    let allowed_headers = allowed.headers()["access-control-allow-headers"].to_str().unwrap().to_owned();
    for header in ["x-tenant-id", "authorization", "x-grpc-web"] {
        assert!(allowed_headers.contains(header), "{header} in {allowed_headers}");
    }
    let stranger = preflight("https://evil.example").await.unwrap();
    assert!(stranger.headers().get("access-control-allow-origin").is_none(), "{:?}", stranger.headers());
    let call = http()
        .post(format!("http://{}{LIST}", stack.contacts.addr()))
        .header("origin", ALLOWED_ORIGIN)
        .header("content-type", "application/grpc-web+proto")
        .header("x-tenant-id", "acme")
        .body(framed(&request.encode_to_vec()))
        .send()
        .await
        .unwrap();
    let exposed = call.headers()["access-control-expose-headers"].to_str().unwrap().to_owned();
    assert!(exposed.contains("grpc-status-details-bin"), "{exposed}");
}

#[tokio::test]
async fn an_unconfigured_origin_list_allows_no_cross_origin_call_and_refuses_bad_origins() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.unwrap();
    let preflight = http()
        .request(reqwest::Method::OPTIONS, format!("http://{}{LIST}", stack.contacts.addr()))
        .header("origin", ALLOWED_ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none(), "{:?}", preflight.headers());

    let dir = tempfile::tempdir().unwrap();
    let refused = std::process::Command::new(accommador_tests::binary_path("contacts-svc"))
        .env("DATA_DIR", dir.path())
        .env("CONTACTS_LISTEN", "127.0.0.1:0")
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .env("WEB_ALLOWED_ORIGINS", "https://app.example.com,*")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "`*` is refused at startup");
    assert!(stderr.contains("\"*\" is not an origin such as https://app.example.com"), "{stderr}");
}

/// GETs `url` (not following redirects); for a redirect, also what its
/// target answers.
async fn resolve(url: &str) -> (StatusCode, Option<(String, StatusCode, Vec<u8>)>) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status();
    if status != StatusCode::FOUND {
        return (status, None);
    }
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let cache = response.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.starts_with("private, max-age="), "{cache}");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let target = http().get(&location).send().await.unwrap();
    let target_status = target.status();
    if target_status == StatusCode::OK {
        // Content-addressed objects: cacheable for good.
        assert_eq!(target.headers()["cache-control"], "public, max-age=31536000, immutable");
    }
    (status, Some((location, target_status, target.bytes().await.unwrap().to_vec())))
}

async fn until_not_found(url: &str, what: &str) {
    let start = Instant::now();
    loop {
        let (status, _) = resolve(url).await;
        if status == StatusCode::NOT_FOUND {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: still {status} after a minute");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_stable_url_outlives_its_signed_url_and_ends_with_the_picture() {
    // Short buckets, so that one ends during the test.
    let settings = [("PICTURE_URL_TTL", "2s".to_owned())];
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &settings).await.unwrap();
    let mut client = stack.contacts_client();
    let create = |name: &str, picture| {
        let contact = Contact { first_name: name.into(), ..Default::default() };
        tenant_request("acme", create_request(contact, picture))
    };
    let ada = client.create_contact(create("ada", photo(1))).await.unwrap().into_inner();
    let bob = client.create_contact(create("bob", photo(2))).await.unwrap().into_inner();
    let renditions = &ada.profile_picture.as_ref().unwrap().renditions;
    assert_eq!(renditions.len(), 2);
    let (small, large) = (renditions[0].clone(), renditions[1].clone());
    let prefix = format!("http://{}/pictures/acme/", stack.contacts.addr());
    assert!(small.stable_url.starts_with(&prefix), "{}", small.stable_url);

    let (status, target) = resolve(&small.stable_url).await;
    let (first_location, target_status, bytes) = target.expect("a redirect");
    assert_eq!((status, target_status), (StatusCode::FOUND, StatusCode::OK));
    let signed_bytes = reqwest::get(&small.url).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes, signed_bytes, "the stable URL leads to the same rendition");
    let (_, target) = resolve(&large.stable_url).await;
    assert_ne!(target.unwrap().2, bytes, "each size has its own URL");

    // After the signed URL handed out at create has expired, the stable
    // URL handed out with it still leads to the picture, freshly signed.
    let start = Instant::now();
    while reqwest::get(&small.url).await.unwrap().status() == StatusCode::OK {
        assert!(start.elapsed() < Duration::from_secs(30), "the 2 s signed URL never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, target) = resolve(&small.stable_url).await;
    let (location, target_status, later_bytes) = target.expect("still a redirect");
    assert_eq!((status, target_status), (StatusCode::FOUND, StatusCode::OK));
    assert_ne!(location, first_location, "signed again in a later bucket");
    assert_eq!(later_bytes, bytes);

    // Anything not signed by us is 404 without reaching media-svc: the
    // attacker's 1,000 guesses cost no signing.
    let signed_before = signing_calls(&stack).await;
    let tag = small.stable_url.rsplit('/').next().unwrap();
    let image = &ada.profile_picture.as_ref().unwrap().image_id;
    let mut guesses = vec![
        small.stable_url.replace("/acme/", "/globex/"),
        small.stable_url.replace("/128/", "/512/"),
        small.stable_url.replace(image.as_str(), &bob.profile_picture.as_ref().unwrap().image_id),
        format!("{prefix}{image}/128/db"),
        format!("{prefix}{image}/128/{tag}/extra"),
        format!("{prefix}../../../etc/passwd"),
    ];
    guesses.extend((0..1_000).map(|n| format!("{prefix}{image}/128/db.{n:022}")));
    let answers = futures::future::join_all(guesses.iter().map(|url| async move {
        let response = http().get(url).send().await.unwrap();
        (url, response.status())
    }))
    .await;
    for (url, status) in answers {
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
    }
    assert_eq!(signing_calls(&stack).await, signed_before, "no guess reached media-svc");

    // Taken down: the stable URL ends once the release is delivered.
    let take_down =
        RemoveProfilePictureRequest { id: ada.id.clone(), reason: "wrong person".into(), request_id: String::new() };
    client.remove_profile_picture(tenant_request("acme", take_down)).await.unwrap();
    until_not_found(&small.stable_url, "taken down").await;
    until_not_found(&large.stable_url, "taken down, the other size").await;

    // Erased: the same.
    let bob_url = bob.profile_picture.as_ref().unwrap().renditions[0].stable_url.clone();
    assert_eq!(resolve(&bob_url).await.0, StatusCode::FOUND);
    let erase = EraseContactRequest { id: bob.id.clone(), reason: "GDPR".into(), request_id: String::new() };
    client.erase_contact(tenant_request("acme", erase)).await.unwrap();
    until_not_found(&bob_url, "erased").await;
}

/// SignImageUrls calls media-svc has answered so far.
async fn signing_calls(stack: &Stack) -> f64 {
    let metrics = stack.media.metrics().await.unwrap();
    metrics
        .lines()
        .filter(|line| line.starts_with("grpc_server_handled_total") && line.contains("SignImageUrls"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn the_console_is_served_from_its_folder_with_a_strict_policy_and_nothing_else_is() {
    let console = tempfile::tempdir().unwrap();
    let site = console.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), "<!doctype html><title>Accommador</title>").unwrap();
    std::fs::write(site.join("console.js"), "console.log('hi')").unwrap();
    std::fs::write(console.path().join("secret.txt"), "outside the folder").unwrap();
    let settings = [("WEB_CONSOLE_DIR", site.display().to_string())];
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &settings).await.unwrap();
    let base = format!("http://{}", stack.contacts.addr());

    let index = http().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(index.headers()["content-type"], "text/html");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    let policy = index.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(index.text().await.unwrap().contains("Accommador"));
    let script = http().get(format!("{base}/console.js")).send().await.unwrap();
    assert_eq!(
        (script.status(), script.headers()["content-type"].to_str().unwrap()),
        (StatusCode::OK, "text/javascript")
    );

    let (long_segment, long_path) = (format!("/{}", "a".repeat(300)), format!("/x/{}", "b/".repeat(2000)));
    for path in ["/secret.txt", "/nope.js", "/..%2Fsecret.txt", "/%2e%2e/secret.txt", "//.", &long_segment, &long_path]
    {
        let response = http().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // A path that climbs out of the folder, sent as is (clients would tidy it).
    let raw = raw_get(stack.contacts.addr(), "/../secret.txt").await;
    assert!(raw.starts_with("HTTP/1.1 404") || raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(!raw.contains("outside the folder"), "{raw}");
    let post = http().post(format!("{base}/")).body("x").send().await.unwrap();
    assert_eq!(post.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "only GET and HEAD read files");
    assert!(!stack.contacts.log().contains("ERROR"), "no request above logged an error");

    // Nothing but a gRPC or gRPC-Web POST reaches a handler: not another
    // method, not another content type, not gRPC over HTTP/1.1.
    let create = "/accommador.contacts.v1.ContactsService/CreateContact";
    let message = framed(
        &accommador_proto::accommador::contacts::v1::CreateContactRequest {
            contact: Some(Contact { first_name: "Sneaky".into(), ..Default::default() }),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    for (method, content_type, expected) in [
        (reqwest::Method::POST, "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (reqwest::Method::POST, "application/x-www-form-urlencoded", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (reqwest::Method::GET, "application/grpc-web+proto", StatusCode::METHOD_NOT_ALLOWED),
        (reqwest::Method::PUT, "application/grpc", StatusCode::METHOD_NOT_ALLOWED),
        (reqwest::Method::POST, "application/grpc", StatusCode::HTTP_VERSION_NOT_SUPPORTED),
    ] {
        let response = http()
            .request(method.clone(), format!("{base}{create}"))
            .header("content-type", content_type)
            .header("x-tenant-id", "acme")
            .body(message.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{method} {content_type}");
    }
    let mut client = stack.contacts_client();
    let listed = client.list_contacts(tenant_request("acme", ListContactsRequest::default())).await.unwrap();
    assert!(listed.into_inner().contacts.is_empty(), "none of them created a contact");

    // Headers over MAX_HEADER_LIST_BYTES are refused on HTTP/1.1 as on HTTP/2.
    let large = http().get(format!("{base}/")).header("x-big", "x".repeat(17_000)).send().await.unwrap();
    assert_eq!(large.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // gRPC to a method we do not have is still UNIMPLEMENTED, not a page.
    let unknown = http()
        .post(format!("{base}/accommador.contacts.v1.ContactsService/DropTables"))
        .header("content-type", "application/grpc-web+proto")
        .body(framed(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(status_of(&unknown).code(), Code::Unimplemented);
}

#[tokio::test]
async fn without_a_console_folder_the_root_is_not_found() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.unwrap();
    let response = http().get(format!("http://{}/", stack.contacts.addr())).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn stable_urls_resolving_beyond_the_bound_get_503_and_made_up_ones_still_404() {
    let settings = [("STABLE_URL_MAX_IN_PROGRESS", "1".to_owned()), ("MEDIA_TIMEOUT", "20s".to_owned())];
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &settings).await.unwrap();
    let contact = Contact { first_name: "ada".into(), ..Default::default() };
    let ada = stack.contacts_client().create_contact(tenant_request("acme", create_request(contact, photo(1)))).await;
    let stable = ada.unwrap().into_inner().profile_picture.unwrap().renditions[0].stable_url.clone();

    // media-svc stops answering: the first resolution holds the only slot.
    stack.media.pause().unwrap();
    let first = tokio::spawn({
        let stable = stable.clone();
        async move { http().get(&stable).send().await.unwrap().status() }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = http().get(&stable).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "1");
    let made_up = stable.replace("/128/", "/512/");
    assert_eq!(http().get(&made_up).send().await.unwrap().status(), StatusCode::NOT_FOUND, "needs no slot");
    stack.media.resume().unwrap();
    assert_eq!(first.await.unwrap(), StatusCode::FOUND, "the first one finishes once media-svc answers");
    assert_eq!(http().get(&stable).send().await.unwrap().status(), StatusCode::FOUND, "the slot is free again");
}
