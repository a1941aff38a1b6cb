//! The store against real databases: SQLite always, PostgreSQL when
//! `TEST_POSTGRES_URL` names a server (see [`backends`]). Every test runs its
//! whole scenario on each database, on a fresh database of its own.
//!
//! One test binary: each module is one concern of the store.

mod backends;
mod contacts;
mod erase;
mod idempotency;
mod listing;
mod merge;
mod outbox;
mod replace;
mod search;
mod takedown;
mod unmerge;

use accommador_proto::tenant::TenantId;
use contacts_svc::domain::{Contact, ContactFields, ContactId};

/// Phone numbers read as a service in the US reads them.
pub fn us_phones() -> contacts_svc::domain::PhoneNormalizer {
    contacts_svc::domain::PhoneNormalizer { default_region: phonenumber::country::Id::US }
}

pub fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("a valid tenant id")
}

/// A first revision with the given names and email, written at `create_time_us`.
pub fn contact(first_name: &str, last_name: &str, email: &str, create_time_us: i64) -> Contact {
    Contact {
        id: ContactId::generate(),
        revision: 1,
        fields: ContactFields {
            first_name: first_name.into(),
            last_name: last_name.into(),
            email: email.into(),
            ..Default::default()
        },
        create_time_us,
        revision_create_time_us: create_time_us,
        merged_contact_ids: Vec::new(),
    }
}

/// A contact with a picture.
pub fn with_picture(mut contact: Contact, image_id: &str) -> Contact {
    contact.fields.image_id = Some(image_id.into());
    contact
}
