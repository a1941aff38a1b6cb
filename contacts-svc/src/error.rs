//! The one error type of contacts-svc, and the one place it becomes a `tonic::Status`.

use std::collections::HashMap;

use accommador_proto::{
    status::{ErrorInfo, FieldViolation, with_details},
    tenant::TenantIdError,
};
use tonic::{Code, Status};

/// `ErrorInfo.domain` of every error this service returns.
pub const ERROR_DOMAIN: &str = "contacts.accommador";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    TenantId(#[from] TenantIdError),
    #[error("{0} is not implemented yet")]
    Unimplemented(&'static str),
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        // Exhaustive on purpose: a new variant must decide its code and reason here.
        let (code, reason, violations) = match &error {
            Error::TenantId(_) => (
                Code::InvalidArgument,
                "TENANT_ID_INVALID",
                vec![FieldViolation::new(accommador_proto::tenant::TENANT_ID_HEADER, message.clone())],
            ),
            Error::Unimplemented(_) => (Code::Unimplemented, "UNIMPLEMENTED", vec![]),
        };
        let info = ErrorInfo { reason: reason.into(), domain: ERROR_DOMAIN.into(), metadata: HashMap::new() };
        with_details(code, message, info, violations)
    }
}
