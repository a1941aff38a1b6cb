//! Rows to domain contacts and back: the only place that knows both.

use accommador_proto::tenant::TenantId;
use sea_orm::ActiveValue::Set;

use super::entities::{contact_match_key, contact_revision};
use crate::{
    domain::{self, Contact, ContactFields, ContactId},
    error::Error,
};

fn json_list(text: &str) -> Result<Vec<String>, Error> {
    serde_json::from_str(text).map_err(|error| Error::Internal(format!("corrupt list column: {error}")))
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("string lists serialize")
}

pub(super) fn contact(row: contact_revision::Model) -> Result<Contact, Error> {
    Ok(Contact {
        id: ContactId::from_trusted(row.contact_id),
        revision: row.revision,
        fields: ContactFields {
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            phone: row.phone,
            company_name: row.company_name,
            tags: json_list(&row.tags)?,
            source: row.source,
            additional_emails: json_list(&row.additional_emails)?,
            additional_phones: json_list(&row.additional_phones)?,
            image_id: row.image_id,
        },
        create_time_us: row.create_time_us,
        revision_create_time_us: row.revision_create_time_us,
        merged_contact_ids: json_list(&row.merged_contact_ids)?,
    })
}

pub(super) fn revision_row(tenant: &TenantId, contact: &Contact) -> contact_revision::ActiveModel {
    let fields = &contact.fields;
    contact_revision::ActiveModel {
        tenant: Set(tenant.to_string()),
        contact_id: Set(contact.id.to_string()),
        revision: Set(contact.revision),
        first_name: Set(fields.first_name.clone()),
        last_name: Set(fields.last_name.clone()),
        email: Set(fields.email.clone()),
        email_key: Set(domain::fold_case(&fields.email)),
        phone: Set(fields.phone.clone()),
        company_name: Set(fields.company_name.clone()),
        tags: Set(to_json(&fields.tags)),
        source: Set(fields.source.clone()),
        additional_emails: Set(to_json(&fields.additional_emails)),
        additional_phones: Set(to_json(&fields.additional_phones)),
        image_id: Set(fields.image_id.clone()),
        create_time_us: Set(contact.create_time_us),
        revision_create_time_us: Set(contact.revision_create_time_us),
        merged_contact_ids: Set(to_json(&contact.merged_contact_ids)),
        search_text: Set(domain::search_text(fields)),
        full_name_key: Set(fields.full_name_key().unwrap_or_default()),
    }
}

/// The duplicate-search keys of a revision, written beside it.
pub(super) fn match_key_rows(tenant: &TenantId, contact: &Contact) -> Vec<contact_match_key::ActiveModel> {
    contact
        .fields
        .match_keys()
        .into_iter()
        .map(|key| contact_match_key::ActiveModel {
            tenant: Set(tenant.to_string()),
            kind: Set(key.kind.as_str().to_owned()),
            key: Set(key.key),
            contact_id: Set(contact.id.to_string()),
            revision: Set(contact.revision),
        })
        .collect()
}
