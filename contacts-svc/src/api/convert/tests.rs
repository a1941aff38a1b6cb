//! The proto <-> domain conversions, field by field.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::domain::{Contact, ContactFields, Rendition};

fn view(picture: Option<Picture>) -> ContactView {
    let contact = Contact {
        id: ContactId::generate(),
        revision: 3,
        fields: ContactFields {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone: "+14155552671".into(),
            company_name: "Analytical".into(),
            tags: vec!["vip".into()],
            source: "import".into(),
            additional_emails: vec!["ada@work.example".into()],
            additional_phones: vec!["+14155550000".into()],
            image_id: picture.as_ref().map(|p| p.image_id.clone()),
        },
        create_time_us: 1_700_000_000_123_456,
        revision_create_time_us: -1,
        merged_contact_ids: vec!["gone".into()],
    };
    ContactView { contact, picture }
}

#[test]
fn a_contact_keeps_every_field_and_microsecond_times() {
    let view = view(None);
    let id = view.contact.id.to_string();
    let message = contact(view);
    assert_eq!(message.id, id);
    assert_eq!(message.revision, 3);
    assert_eq!((message.first_name.as_str(), message.last_name.as_str()), ("Ada", "Lovelace"));
    assert_eq!((message.email.as_str(), message.phone.as_str()), ("ada@example.com", "+14155552671"));
    assert_eq!((message.company_name.as_str(), message.source.as_str()), ("Analytical", "import"));
    assert_eq!(message.tags, ["vip"]);
    assert_eq!(message.additional_emails, ["ada@work.example"]);
    assert_eq!(message.additional_phones, ["+14155550000"]);
    assert_eq!(message.merged_contact_ids, ["gone"]);
    assert_eq!(message.create_time, Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 123_456_000 }));
    assert_eq!(
        message.revision_create_time,
        Some(prost_types::Timestamp { seconds: -1, nanos: 999_999_000 }),
        "before the epoch, nanos stay positive"
    );
    assert_eq!(message.profile_picture, None);
}

#[test]
fn a_picture_keeps_its_renditions_stable_urls_expiry_and_preview() {
    let expire = UNIX_EPOCH + Duration::new(1_800_000_000, 5);
    let picture = Picture {
        image_id: "img".into(),
        renditions: vec![Rendition {
            size: 128,
            width: 128,
            height: 96,
            content_type: "image/jpeg".into(),
            url: "https://s3/img-128".into(),
            stable_url: "http://contacts/pictures/acme/img/128/db.tag".into(),
        }],
        url_expire_time: Some(expire),
        thumbhash: vec![1, 2, 3],
        dominant_color: "#aabbcc".into(),
    };
    let message = contact(view(Some(picture))).profile_picture.expect("a picture");
    assert_eq!(message.image_id, "img");
    assert_eq!(
        message.renditions,
        [pb::Rendition {
            size: 128,
            width: 128,
            height: 96,
            content_type: "image/jpeg".into(),
            url: "https://s3/img-128".into(),
            stable_url: "http://contacts/pictures/acme/img/128/db.tag".into(),
        }]
    );
    assert_eq!((message.thumbhash, message.dominant_color), (vec![1, 2, 3], "#aabbcc".to_owned()));
    assert_eq!(message.url_expire_time, Some(prost_types::Timestamp { seconds: 1_800_000_000, nanos: 5 }));
    let unsigned = contact(view(Some(Picture::unsigned("img".into())))).profile_picture.unwrap();
    assert!(unsigned.renditions.is_empty() && unsigned.url_expire_time.is_none(), "{unsigned:?}");
}

#[test]
fn a_draft_takes_the_editable_fields_only() {
    let message = pb::Contact {
        id: "client-chosen".into(),
        revision: 9,
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: "ada@example.com".into(),
        phone: "415".into(),
        company_name: "Analytical".into(),
        tags: vec!["vip".into()],
        source: "web".into(),
        additional_emails: vec!["x@example.com".into()],
        ..Default::default()
    };
    let draft = draft(Some(message));
    assert_eq!((draft.first_name.as_str(), draft.last_name.as_str()), ("Ada", "Lovelace"));
    assert_eq!((draft.email.as_str(), draft.phone.as_str()), ("ada@example.com", "415"));
    assert_eq!((draft.company_name.as_str(), draft.source.as_str()), ("Analytical", "web"));
    assert_eq!(draft.tags, ["vip"]);
    assert!(super::draft(None).first_name.is_empty(), "a missing contact is an empty draft");
}

#[test]
fn match_reasons_map_one_to_one() {
    assert_eq!(match_reason(MatchReason::Email), pb::MatchReason::Email);
    assert_eq!(match_reason(MatchReason::Phone), pb::MatchReason::Phone);
    assert_eq!(match_reason(MatchReason::FullName), pb::MatchReason::FullName);
}

#[test]
fn the_fingerprint_ignores_the_request_id_but_not_the_request() {
    let request = |id: &str, name: &str| pb::MergeContactsRequest {
        request_id: id.into(),
        primary_id: name.into(),
        ..Default::default()
    };
    let key = |message: &pb::MergeContactsRequest| {
        idempotency(&message.request_id, message, |m| m.request_id.clear()).unwrap()
    };
    assert!(key(&request("", "a")).is_none(), "no request id, no idempotency");
    let first = key(&request("r1", "a")).unwrap();
    assert_eq!(first.request_id, "r1");
    assert_eq!(first.fingerprint, key(&request("r2", "a")).unwrap().fingerprint);
    assert_ne!(first.fingerprint, key(&request("r1", "b")).unwrap().fingerprint);
    let long = "r".repeat(MAX_REQUEST_ID_LEN + 1);
    assert!(matches!(idempotency(&long, &request(&long, "a"), |_| {}), Err(Error::InvalidFields(_))));
    let invisible = "r1\0";
    assert!(matches!(idempotency(invisible, &request(invisible, "a"), |_| {}), Err(Error::InvalidFields(_))));
}

#[test]
fn merge_fields_list_every_unknown_name_by_index() {
    assert_eq!(
        merge_fields(&["email".into(), "profile_picture".into()]).unwrap(),
        [MergeField::Email, MergeField::ProfilePicture]
    );
    let Err(Error::InvalidFields(violations)) = merge_fields(&["email".into(), "age".into(), "x".into()]) else {
        panic!("unknown names must be refused");
    };
    let fields: Vec<&str> = violations.iter().map(|violation| violation.field.as_str()).collect();
    assert_eq!(fields, ["take_from_duplicate[1]", "take_from_duplicate[2]"]);
    let Err(Error::InvalidFields(too_many)) = merge_fields(&vec!["email".to_owned(); 1000]) else {
        panic!("too many names must be refused");
    };
    assert_eq!(too_many.len(), 1, "counted, not listed one by one");
}

#[test]
fn batch_ids_are_checked_together_and_counted_first() {
    let good = ContactId::generate();
    assert_eq!(batch_ids(&[good.to_string()], 2).unwrap(), std::slice::from_ref(&good));
    let Err(Error::InvalidFields(empty)) = batch_ids(&[], 2) else { panic!("no ids must be refused") };
    assert_eq!(empty[0].field, "ids");
    let Err(Error::InvalidFields(bad)) = batch_ids(&[good.to_string(), "nope".into()], 2) else {
        panic!("a bad id must be refused");
    };
    assert_eq!(bad.iter().map(|violation| violation.field.as_str()).collect::<Vec<_>>(), ["ids[1]"]);
    let Err(Error::InvalidFields(many)) = batch_ids(&vec!["nope".to_owned(); 3], 2) else {
        panic!("too many ids must be refused");
    };
    assert_eq!(many.len(), 1, "{many:?}");
}
