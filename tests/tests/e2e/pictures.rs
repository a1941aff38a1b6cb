//! Pictures as people have them: phone photos of several megabytes get
//! IMAGE_TOO_LARGE with their size and the limit, from either service; a
//! message over the transport limit is refused from its length prefix, still
//! naming the limit; and a flood of messages at that limit stays within the
//! in-flight byte budget.

use accommador_proto::{
    accommador::{contacts::v1::CreateContactRequest, media::v1::UploadImageRequest},
    reasons,
    status::{error_info, field_violations},
};
use accommador_server::{credentials::hash_token, limits::DEFAULT_MAX_REQUEST_MESSAGE_BYTES};
use accommador_tests::{
    Stack, TestDatabase, clients::media_client, pictures::jpeg, raw, requests::named, start_media, tenant_request,
};
use prost::Message;
use tonic::{Code, Status};

/// The default picture limit of both services (MAX_PICTURE_BYTES, MEDIA_MAX_IMAGE_BYTES).
const PICTURE_LIMIT: usize = 2_621_440;
/// The transport's limit on one request message (MAX_REQUEST_MESSAGE_BYTES).
const MESSAGE_LIMIT: usize = DEFAULT_MAX_REQUEST_MESSAGE_BYTES;

/// A JPEG header followed by padding, `size` bytes in all: the size is
/// checked before anything decodes it.
fn padded_jpeg(size: usize) -> Vec<u8> {
    let mut bytes = jpeg(64, 64, 3);
    bytes.resize(size, 0);
    bytes
}

/// The picture that makes `request(picture)` encode to exactly `message_bytes`.
fn picture_filling<M: Message>(message_bytes: usize, request: impl Fn(Vec<u8>) -> M) -> Vec<u8> {
    let mut size = message_bytes - 8;
    loop {
        let encoded = request(Vec::new()).encoded_len() + 1 + prost::length_delimiter_len(size) + size;
        if encoded == message_bytes {
            return padded_jpeg(size);
        }
        size = if encoded > message_bytes { size - 1 } else { size + 1 };
    }
}

/// The sizes people send: just over the limit, over media-svc's old
/// message limit, a phone photo, a large phone photo.
const OVERSIZED: [usize; 4] = [PICTURE_LIMIT + 1, 2_686_977, 4_404_019, 8_000_000];

/// An IMAGE_TOO_LARGE refusal of a `size`-byte picture, from `domain`, on `field`.
fn assert_picture_too_large(status: &Status, size: usize, domain: &str, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{size} bytes: {status:?}");
    let info = error_info(status).unwrap_or_else(|| panic!("{size} bytes: no ErrorInfo in {status:?}"));
    assert_eq!((info.reason.as_str(), info.domain.as_str()), (reasons::IMAGE_TOO_LARGE, domain), "{size} bytes");
    assert_eq!(info.metadata["size_bytes"], size.to_string());
    assert_eq!(info.metadata["limit_bytes"], PICTURE_LIMIT.to_string());
    let violations = field_violations(status);
    assert_eq!(violations.iter().map(|v| v.field.as_str()).collect::<Vec<_>>(), [field], "{size} bytes");
    let expected = format!(
        "the picture is {:.1} MiB ({size} bytes); the limit is 2.5 MiB (2621440 bytes)",
        size as f64 / (1 << 20) as f64
    );
    assert!(status.message().contains(&expected), "{size} bytes: {:?} should say {expected:?}", status.message());
    assert!(violations[0].description.contains(&expected), "{:?}", violations[0].description);
}

/// A MESSAGE_TOO_LARGE refusal of a `message_bytes` message, naming the
/// transport limit and `picture_hint`.
fn assert_message_too_large(status: &Status, message_bytes: usize, domain: &str, picture_hint: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let info = error_info(status).unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!((info.reason.as_str(), info.domain.as_str()), (reasons::MESSAGE_TOO_LARGE, domain));
    assert_eq!(info.metadata["message_bytes"], message_bytes.to_string());
    assert_eq!(info.metadata["limit_bytes"], MESSAGE_LIMIT.to_string());
    let expected = format!(
        "the request message is 16.1 MiB ({message_bytes} bytes); the limit, MAX_REQUEST_MESSAGE_BYTES, is \
         16.1 MiB ({MESSAGE_LIMIT} bytes); {picture_hint} 2.5 MiB (2621440 bytes)"
    );
    assert_eq!(status.message(), expected);
}

#[tokio::test]
async fn create_contact_refuses_every_oversized_picture_by_its_size_without_calling_media_svc() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.unwrap();
    let mut client = stack.contacts_client();
    let request = |picture: Vec<u8>| CreateContactRequest {
        contact: Some(named("Ada")),
        profile_picture: picture,
        request_id: String::new(),
    };

    let at_the_limit = picture_filling(MESSAGE_LIMIT, request);
    assert_eq!(request(at_the_limit.clone()).encoded_len(), MESSAGE_LIMIT);
    let pictures = OVERSIZED.into_iter().map(padded_jpeg).chain([at_the_limit]);
    for picture in pictures {
        let size = picture.len();
        let status = client.create_contact(tenant_request("acme", request(picture))).await.unwrap_err();
        assert_picture_too_large(&status, size, "contacts.accommador", "profile_picture");
    }

    // One byte more than the transport takes: refused from the length prefix.
    let over = picture_filling(MESSAGE_LIMIT + 1, request);
    let status = client.create_contact(tenant_request("acme", request(over))).await.unwrap_err();
    assert_message_too_large(&status, MESSAGE_LIMIT + 1, "contacts.accommador", "a profile picture may be at most");

    let media_metrics = stack.media.metrics().await.unwrap();
    assert!(!media_metrics.contains("UploadImage"), "media-svc received an upload:\n{media_metrics}");
    // The service still takes a picture within the limit.
    let fine = request(jpeg(600, 400, 5));
    client.create_contact(tenant_request("acme", fine)).await.expect("a picture within the limit");
}

#[tokio::test]
async fn upload_image_refuses_every_oversized_picture_by_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let media = start_media(dir.path(), &[]).await.unwrap();
    let mut client = media_client(&media);
    let request = |data: Vec<u8>| UploadImageRequest { data, request_id: String::new() };

    let at_the_limit = picture_filling(MESSAGE_LIMIT, request);
    assert_eq!(request(at_the_limit.clone()).encoded_len(), MESSAGE_LIMIT);
    for picture in OVERSIZED.into_iter().map(padded_jpeg).chain([at_the_limit]) {
        let size = picture.len();
        let status = client.upload_image(tenant_request("acme", request(picture))).await.unwrap_err();
        assert_picture_too_large(&status, size, "media.accommador", "data");
    }

    let over = picture_filling(MESSAGE_LIMIT + 1, request);
    let status = client.upload_image(tenant_request("acme", request(over))).await.unwrap_err();
    assert_message_too_large(&status, MESSAGE_LIMIT + 1, "media.accommador", "an image may be at most");
}

#[tokio::test]
async fn a_picture_limit_above_media_svcs_passes_media_svcs_refusal_through() {
    let contacts_env = [("MAX_PICTURE_BYTES", (4 << 20).to_string())];
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &contacts_env).await.unwrap();
    let request = CreateContactRequest {
        contact: Some(named("Ada")),
        profile_picture: padded_jpeg(3_000_000),
        request_id: String::new(),
    };
    let status = stack.contacts_client().create_contact(tenant_request("acme", request)).await.unwrap_err();
    assert_picture_too_large(&status, 3_000_000, "media.accommador", "profile_picture");
}

/// Sends `calls` CreateContact calls at once, each carrying a message of
/// exactly MAX_REQUEST_MESSAGE_BYTES, on one connection (the bytes are
/// shared, so the attacker's memory does not grow with them).
async fn flood(addr: std::net::SocketAddr, calls: usize, authorization: Option<&str>) -> Vec<Status> {
    let request = |picture: Vec<u8>| CreateContactRequest {
        contact: Some(named("Flood")),
        profile_picture: picture,
        request_id: String::new(),
    };
    let body = raw::framed(&request(picture_filling(MESSAGE_LIMIT, request)).encode_to_vec());
    let client = raw::connect(addr).await.unwrap();
    let path = "/accommador.contacts.v1.ContactsService/CreateContact";
    let calls = (0..calls).map(|_| {
        let (client, body) = (client.clone(), body.clone());
        let authorization = authorization.map(|token| format!("Bearer {token}"));
        tokio::spawn(async move {
            let mut metadata = vec![("x-tenant-id", "acme")];
            if let Some(value) = &authorization {
                metadata.push(("authorization", value.as_str()));
            }
            raw::unary(&client, addr, path, &metadata, body).await.unwrap()
        })
    });
    futures::future::join_all(calls).await.into_iter().map(Result::unwrap).collect()
}

#[tokio::test]
async fn a_flood_of_messages_at_the_limit_stays_within_the_byte_budget() {
    const BUDGET: u64 = 64 << 20;
    const CALLS: usize = 16;
    let key = "pictures-flood-key-0123456789";
    let contacts_env = [
        ("CREDENTIALS", format!("tenant acme-key acme {}", hash_token(key))),
        ("MAX_INFLIGHT_REQUEST_BYTES", BUDGET.to_string()),
    ];
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &contacts_env).await.unwrap();
    let baseline = stack.contacts.memory_bytes().unwrap();
    let addr = stack.contacts.addr();

    // One call alone, to see what a message at the limit costs the server
    // (reported, not asserted: the bound below is what counts).
    let alone = flood(addr, 1, Some(key)).await;
    assert_eq!(error_info(&alone[0]).map(|info| info.reason).as_deref(), Some(reasons::IMAGE_TOO_LARGE));
    let one_call = stack.contacts.peak_memory_bytes().unwrap().saturating_sub(baseline);
    println!("one call of 16 MiB: contacts-svc grew by {} MiB", one_call >> 20);

    // Without credentials: turned away before the body is read.
    let anonymous = flood(addr, CALLS, None).await;
    for status in &anonymous {
        let reason = error_info(status).map(|info| info.reason);
        assert!(
            matches!(
                (status.code(), reason.as_deref()),
                (Code::Unauthenticated, Some(reasons::UNAUTHENTICATED))
                    | (Code::ResourceExhausted, Some(reasons::INFLIGHT_BYTES_EXHAUSTED))
            ),
            "without credentials: {status:?}"
        );
    }

    // With a tenant's key: each call is either received whole and refused
    // for its picture, or refused for the budget while it arrives.
    let keyed = flood(addr, CALLS, Some(key)).await;
    let mut counts = (0, 0);
    for status in &keyed {
        let reason = error_info(status).map(|info| info.reason);
        match (status.code(), reason.as_deref()) {
            (Code::InvalidArgument, Some(reasons::IMAGE_TOO_LARGE)) => counts.0 += 1,
            (Code::ResourceExhausted, Some(reasons::INFLIGHT_BYTES_EXHAUSTED)) => counts.1 += 1,
            _ => panic!("with credentials: {status:?}"),
        }
    }
    println!(
        "{CALLS} calls of 16 MiB: {} received and refused for their picture, {} for the budget",
        counts.0, counts.1
    );
    assert!(counts.1 > 0, "the budget (64 MiB) cannot take {CALLS} x 16 MiB at once");

    let peak = stack.contacts.peak_memory_bytes().unwrap();
    let growth = peak.saturating_sub(baseline);
    println!("contacts-svc: baseline {} MiB, peak {} MiB", baseline >> 20, peak >> 20);
    // The documented bound (MAX_INFLIGHT_REQUEST_BYTES): twice the budget, as
    // tonic's buffer and the decoded picture both hold a message, plus the
    // connection's HTTP/2 window and the calls themselves.
    const SLACK: u64 = 32 << 20;
    assert!(
        growth < 2 * BUDGET + SLACK,
        "contacts-svc grew by {} MiB; the bound is 2 x {} MiB plus {} MiB",
        growth >> 20,
        BUDGET >> 20,
        SLACK >> 20
    );
    let metrics = stack.contacts.metrics().await.unwrap();
    assert!(metrics.contains("grpc_server_inflight_request_bytes 0"), "every byte was given back:\n{metrics}");

    // The server keeps answering.
    let mut request =
        tenant_request("acme", accommador_tests::requests::create_request(named("After"), jpeg(64, 64, 9)));
    request.metadata_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    stack.contacts_client().create_contact(request).await.expect("served after the flood");
}
