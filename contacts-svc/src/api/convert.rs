//! Conversions between protobuf messages and contacts-svc's domain types:
//! the only place that knows both.

use accommador_proto::{accommador::contacts::v1 as pb, status::Violations};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::{
    book::{ContactView, Idempotency},
    domain::{ContactDraft, ContactFields, ContactId, MatchReason, MergeField, Picture, avatar_placeholder},
    error::Error,
};

/// Longest accepted request id (AIP-155).
pub const MAX_REQUEST_ID_LEN: usize = 128;

fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

pub fn contact(view: ContactView) -> pb::Contact {
    let ContactView { contact, picture } = view;
    let id = contact.id.to_string();
    let placeholder = placeholder(&id, &contact.fields);
    let fields = contact.fields;
    pb::Contact {
        id,
        revision: contact.revision,
        first_name: fields.first_name,
        last_name: fields.last_name,
        email: fields.email,
        phone: fields.phone,
        company_name: fields.company_name,
        tags: fields.tags,
        source: fields.source,
        additional_emails: fields.additional_emails,
        additional_phones: fields.additional_phones,
        profile_picture: picture.map(profile_picture),
        create_time: Some(timestamp(contact.create_time_us)),
        revision_create_time: Some(timestamp(contact.revision_create_time_us)),
        merged_contact_ids: contact.merged_contact_ids,
        avatar_placeholder: Some(placeholder),
    }
}

fn placeholder(id: &str, fields: &ContactFields) -> pb::AvatarPlaceholder {
    let placeholder = avatar_placeholder(id, fields);
    pb::AvatarPlaceholder {
        initials: placeholder.initials,
        background_color: placeholder.background_color.to_owned(),
        text_color: placeholder.text_color.to_owned(),
    }
}

fn profile_picture(picture: Picture) -> pb::ProfilePicture {
    pb::ProfilePicture {
        image_id: picture.image_id,
        renditions: picture
            .renditions
            .into_iter()
            .map(|r| pb::Rendition {
                size: r.size,
                width: r.width,
                height: r.height,
                content_type: r.content_type,
                url: r.url,
                stable_url: r.stable_url,
            })
            .collect(),
        url_expire_time: picture.url_expire_time.map(prost_types::Timestamp::from),
        thumbhash: picture.thumbhash,
        dominant_color: picture.dominant_color,
    }
}

pub fn match_reason(reason: MatchReason) -> pb::MatchReason {
    match reason {
        MatchReason::Email => pb::MatchReason::Email,
        MatchReason::Phone => pb::MatchReason::Phone,
        MatchReason::FullName => pb::MatchReason::FullName,
    }
}

/// The user-editable fields of a CreateContact request; output-only fields are ignored.
pub fn draft(contact: Option<pb::Contact>) -> ContactDraft {
    let contact = contact.unwrap_or_default();
    ContactDraft {
        first_name: contact.first_name,
        last_name: contact.last_name,
        email: contact.email,
        phone: contact.phone,
        company_name: contact.company_name,
        tags: contact.tags,
        source: contact.source,
    }
}

pub fn contact_id(field: &str, raw: &str) -> Result<ContactId, Error> {
    ContactId::parse(raw).map_err(|problem| Error::invalid_field(field, problem))
}

/// `primary_id` and `duplicate_id` of an UnmergeContacts request, with
/// every violation at once.
pub fn contact_id_pair(primary: &str, duplicate: &str) -> Result<(ContactId, ContactId), Error> {
    match (contact_id("primary_id", primary), contact_id("duplicate_id", duplicate)) {
        (Ok(primary), Ok(duplicate)) => Ok((primary, duplicate)),
        (primary, duplicate) => {
            let violations = [primary.err(), duplicate.err()]
                .into_iter()
                .flatten()
                .flat_map(|error| match error {
                    Error::InvalidFields(fields) => fields,
                    other => Violations::one("request", other.to_string()),
                })
                .collect();
            Err(Error::InvalidFields(violations))
        }
    }
}

/// The idempotency key of a write, with the fingerprint of the request
/// without its key: the same key with a different request is refused.
pub fn idempotency<M: Message + Clone>(
    request_id: &str,
    message: &M,
    without_key: impl FnOnce(&mut M),
) -> Result<Option<Idempotency>, Error> {
    if request_id.is_empty() {
        return Ok(None);
    }
    if request_id.chars().count() > MAX_REQUEST_ID_LEN {
        return Err(Error::invalid_field(
            "request_id",
            format!("request_id is {} characters; the limit is {MAX_REQUEST_ID_LEN}", request_id.chars().count()),
        ));
    }
    // A key is compared byte for byte and shows up in logs: nothing invisible in it.
    if let Some(control) = request_id.chars().find(|c| c.is_control()) {
        return Err(Error::invalid_field(
            "request_id",
            format!("request_id contains U+{:04X}, a control character; use printable characters", u32::from(control)),
        ));
    }
    let mut canonical = message.clone();
    without_key(&mut canonical);
    let fingerprint = hex::encode(Sha256::digest(canonical.encode_to_vec()));
    Ok(Some(Idempotency { request_id: request_id.to_owned(), fingerprint }))
}

/// The fields of a MergeContacts request, with every violation at once.
pub fn merge_fields(names: &[String]) -> Result<Vec<MergeField>, Error> {
    // Counted before anything is listed: one violation per element of a
    // million-element list would make the error itself the attack.
    let limit = MergeField::NAMES.len();
    if names.len() > limit {
        let problem = format!("{} field names; there are only {limit} mergeable fields", names.len());
        return Err(Error::invalid_field("take_from_duplicate", problem));
    }
    let mut fields = Vec::new();
    let mut violations = Violations::new();
    for (index, name) in names.iter().enumerate() {
        match MergeField::parse(name) {
            Ok(field) => fields.push(field),
            Err(problem) => violations.add(format!("take_from_duplicate[{index}]"), problem),
        }
    }
    violations.into_result(fields).map_err(Error::InvalidFields)
}

/// The ids of a BatchGetContacts request, with every violation at once.
pub fn batch_ids(raw: &[String], limit: usize) -> Result<Vec<ContactId>, Error> {
    let mut violations = Violations::new();
    if raw.is_empty() {
        violations.add("ids", "at least one id is required");
    }
    if raw.len() > limit {
        // Counted before the ids are checked one by one: the error lists at most `limit` of them.
        return Err(Error::invalid_field("ids", format!("{} ids; the limit is {limit} per call", raw.len())));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for (index, id) in raw.iter().enumerate() {
        match ContactId::parse(id) {
            Ok(id) => ids.push(id),
            Err(problem) => violations.add(format!("ids[{index}]"), problem),
        }
    }
    violations.into_result(ids).map_err(Error::InvalidFields)
}

#[cfg(test)]
mod tests;

/// Who made the call, as the auth layer named it.
pub fn caller<T>(request: &tonic::Request<T>) -> String {
    request
        .extensions()
        .get::<accommador_server::auth::Caller>()
        .map_or_else(|| accommador_server::auth::OPEN_MODE_CALLER.to_owned(), |caller| caller.0.clone())
}

pub fn erasure(erasure: crate::store::Erasure) -> pb::EraseContactResponse {
    pb::EraseContactResponse {
        erased_contact_ids: erasure.contact_ids.into_iter().map(|id| id.to_string()).collect(),
        erase_time: Some(timestamp(erasure.time_us)),
    }
}

pub fn event(logged: crate::domain::LoggedEvent) -> pb::ContactEvent {
    use crate::domain::ContactEvent as Event;
    use pb::contact_event::Kind;
    let kind = match logged.event {
        Event::ContactCreated { contact_id, image_id } => {
            Kind::Created(pb::ContactCreated { contact_id, image_id: image_id.unwrap_or_default() })
        }
        Event::ContactMerged { primary_id, duplicate_id, revision, fields_taken } => {
            Kind::Merged(pb::ContactMerged { primary_id, duplicate_id, revision, fields_taken })
        }
        Event::ProfilePictureChanged { contact_id, revision, image_id } => {
            Kind::PictureChanged(pb::ProfilePictureChanged {
                contact_id,
                revision,
                image_id: image_id.unwrap_or_default(),
            })
        }
        Event::ContactUnmerged { primary_id, duplicate_id, primary_revision, duplicate_revision } => {
            Kind::Unmerged(pb::ContactUnmerged { primary_id, duplicate_id, primary_revision, duplicate_revision })
        }
        Event::ContactErased { contact_ids } => Kind::Erased(pb::ContactErased { contact_ids }),
    };
    pb::ContactEvent {
        event_id: logged.event_id,
        cursor: crate::book::event_cursor(logged.sequence),
        sequence: logged.sequence,
        event_time: Some(timestamp(logged.time_us)),
        kind: Some(kind),
    }
}

/// The id and audit reason of RemoveProfilePicture and EraseContact, every
/// problem reported at once: the reason is required (`why` completes "say
/// why ...") and follows the text rules of contact fields.
pub fn audited(id: &str, reason: &str, why: &str) -> Result<(ContactId, String), Error> {
    let mut violations = Violations::new();
    let id = contact_id("id", id).map_err(|error| match error {
        Error::InvalidFields(fields) => violations.extend(fields),
        other => violations.add("id", other.to_string()),
    });
    let reason = match crate::domain::clean_text(reason, crate::book::MAX_REASON_LEN) {
        Ok(reason) if reason.is_empty() => {
            violations.add("reason", format!("reason is required: say why {why}"));
            None
        }
        Ok(reason) => Some(reason),
        Err(problem) => {
            violations.add("reason", problem.describe("reason"));
            None
        }
    };
    match (id, reason) {
        (Ok(id), Some(reason)) if violations.is_empty() => Ok((id, reason)),
        _ => Err(Error::InvalidFields(violations)),
    }
}
