//! Text as people and integrations send it: invisible and control
//! characters, over-long values, phone extensions, metadata sent twice.

use accommador_proto::{
    accommador::{
        contacts::v1::{Contact, GetContactRequest, ListContactsRequest},
        media::v1::SignImageUrlsRequest,
    },
    reasons,
    status::{error_info, field_violations},
    tenant::TENANT_ID_HEADER,
};
use accommador_tests::{
    Stack, TestDatabase, clients::media_client, databases, requests::create_request, tenant_request,
};
use tonic::Code;

#[tokio::test]
async fn a_phone_extension_round_trips_through_create_and_get() {
    for database in databases().await {
        let stack = Stack::start(&database, &[], &[]).await.expect("both services start");
        let mut client = stack.contacts_client();
        let contact = Contact {
            first_name: "Jose\u{0301}".into(),
            phone: "+1 (415) 555-0101 ext. 99".into(),
            tags: vec!["VIP".into(), "vip".into(), "Vip".into()],
            ..Default::default()
        };
        let created = client
            .create_contact(tenant_request("acme", create_request(contact, vec![])))
            .await
            .unwrap_or_else(|status| panic!("{}: {status:?}", database.name))
            .into_inner();
        let request = GetContactRequest { id: created.id.clone(), revision: 0 };
        let got = client.get_contact(tenant_request("acme", request)).await.unwrap().into_inner();
        assert_eq!(got.phone, "+14155550101;ext=99", "{}: the extension is kept", database.name);
        assert_eq!(got.first_name, "Jos\u{E9}", "{}: stored as NFC", database.name);
        assert_eq!(got.tags, ["VIP"], "{}: tags are case-insensitive, first spelling kept", database.name);
    }
}

#[tokio::test]
async fn control_characters_and_invisible_names_are_refused_by_field() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.expect("both services start");
    let mut client = stack.contacts_client();
    let mut create = async |contact: Contact| {
        client.create_contact(tenant_request("acme", create_request(contact, vec![]))).await.expect_err("refused")
    };

    let status =
        create(Contact { first_name: "Ada\0".into(), last_name: "Love\u{202E}lace".into(), ..Default::default() })
            .await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(error_info(&status).unwrap().reason, reasons::CONTACT_INVALID);
    let violations = field_violations(&status);
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["contact.first_name", "contact.last_name"]);
    assert!(violations[0].description.contains("U+0000"), "{}", violations[0].description);
    assert!(violations[1].description.contains("U+202E") && violations[1].description.contains("character 5"));
    assert!(!status.message().contains(['\0', '\u{202E}']), "the raw characters are never echoed");

    let status =
        create(Contact { first_name: "\u{200B}".into(), last_name: "\u{FEFF}".into(), ..Default::default() }).await;
    assert_eq!(field_violations(&status)[0].field, "contact", "invisible names are no names: {status:?}");
}

#[tokio::test]
async fn a_5000_character_email_is_one_short_invalid_argument() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.expect("both services start");
    let mut client = stack.contacts_client();
    let email = format!("{}@example.com", "a".repeat(4988));
    let contact = Contact { email, ..Default::default() };
    let status = client.create_contact(tenant_request("acme", create_request(contact, vec![]))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "not RESOURCE_EXHAUSTED: {}", status.message());
    let violations = field_violations(&status);
    assert_eq!(violations.len(), 1, "length only, no syntax error on top: {violations}");
    assert_eq!(violations[0].description, "email is 5000 characters; the limit is 254");
    // What travels as metadata: grpc-message, and the details in base64.
    let metadata_bytes = status.message().len() + status.details().len().div_ceil(3) * 4;
    assert!(metadata_bytes < 1024, "the error's metadata is {metadata_bytes} bytes");
}

#[tokio::test]
async fn a_tenant_sent_twice_is_refused_by_both_services() {
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &[]).await.expect("both services start");
    let status = stack.contacts_client().list_contacts(twice(ListContactsRequest::default())).await.unwrap_err();
    assert_tenant_repeated(&status, "contacts.accommador");

    let mut media = media_client(&stack.media);
    let status = media.sign_image_urls(twice(SignImageUrlsRequest::default())).await.unwrap_err();
    assert_tenant_repeated(&status, "media.accommador");
}

/// `message` for tenant `acme`, then `globex`.
fn twice<T>(message: T) -> tonic::Request<T> {
    let mut request = tenant_request("acme", message);
    request.metadata_mut().append(TENANT_ID_HEADER, "globex".parse().unwrap());
    request
}

fn assert_tenant_repeated(status: &tonic::Status, domain: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "metadata `x-tenant-id` was sent 2 times; it must be sent once");
    let info = error_info(status).expect("ErrorInfo attached");
    assert_eq!((info.reason.as_str(), info.domain.as_str()), (reasons::TENANT_ID_INVALID, domain));
    assert_eq!(field_violations(status)[0].field, TENANT_ID_HEADER);
}
