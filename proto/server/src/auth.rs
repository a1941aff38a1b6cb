//! Who may call: a bearer token checked against the configured
//! [`Credentials`], and what each kind of credential may do.

use std::net::SocketAddr;

use accommador_proto::{
    reasons,
    status::{ErrorInfo, FieldViolation, with_details},
    tenant::{TENANT_ID_HEADER, TenantIdError, single},
};
use tonic::{Code, Request, Status, metadata::MetadataMap};

use crate::credentials::{Credentials, Role};

/// Metadata key of the bearer token.
pub const AUTHORIZATION_HEADER: &str = "authorization";

/// Which callers a server admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Tenant API keys (bound to their tenant) and service credentials.
    TenantsAndServices,
    /// Service credentials only: media-svc serves other services, not tenants.
    ServicesOnly,
}

/// Who made a call, as the credentials name them: put into every admitted
/// request's extensions, for the audit trails of writes that need one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// The caller of every request when no credentials are configured (open
/// mode, loopback only).
pub const OPEN_MODE_CALLER: &str = "anonymous (open mode)";

/// A tonic interceptor enforcing the credentials; health and reflection are
/// served beside it, unauthenticated.
#[derive(Clone)]
pub struct Authenticator {
    credentials: Credentials,
    admit: Admit,
    domain: &'static str,
}

impl Authenticator {
    pub fn new(credentials: Credentials, admit: Admit, domain: &'static str) -> Self {
        Self { credentials, admit, domain }
    }

    fn refuse(&self, code: Code, reason: &str, message: &str) -> Status {
        let info = ErrorInfo { reason: reason.into(), domain: self.domain.into(), metadata: Default::default() };
        with_details(code, message, info, vec![])
    }

    /// Checks the bearer token and, for a tenant key, the tenant; fills in
    /// `x-tenant-id` when a tenant key's call left it out.
    ///
    /// A token or tenant sent more than once is refused before anything
    /// else: which of them would count is not for a server to guess.
    pub fn authorize(&self, metadata: &mut MetadataMap) -> Result<(), Status> {
        self.authorize_caller(metadata).map(|_| ())
    }

    /// [`Authenticator::authorize`], naming the caller it admitted.
    pub fn authorize_caller(&self, metadata: &mut MetadataMap) -> Result<Caller, Status> {
        if let Err(times) = single(metadata, TENANT_ID_HEADER) {
            let message = TenantIdError::Repeated(times).to_string();
            let info = ErrorInfo::new(reasons::TENANT_ID_INVALID, self.domain, std::collections::HashMap::new());
            let violation = FieldViolation::new(TENANT_ID_HEADER, message.clone());
            return Err(with_details(Code::InvalidArgument, message, info, [violation]));
        }
        if self.credentials.is_empty() {
            return Ok(Caller(OPEN_MODE_CALLER.to_owned())); // open mode, loopback only (see `check_exposure`)
        }
        let token = single(metadata, AUTHORIZATION_HEADER)
            .map_err(|times| {
                self.refuse(
                    Code::Unauthenticated,
                    reasons::UNAUTHENTICATED,
                    &format!("metadata `{AUTHORIZATION_HEADER}` was sent {times} times; it must be sent once"),
                )
            })?
            .and_then(|value| value.to_str().ok())
            // The scheme is case-insensitive (RFC 9110, section 11.1).
            .and_then(|value| value.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
            .map(|(_, token)| token)
            .ok_or_else(|| {
                self.refuse(
                    Code::Unauthenticated,
                    reasons::UNAUTHENTICATED,
                    "metadata `authorization: Bearer <token>` is required",
                )
            })?;
        let credential = self.credentials.verify(token.trim()).ok_or_else(|| {
            self.refuse(Code::Unauthenticated, reasons::UNAUTHENTICATED, "the bearer token is not valid")
        })?;
        let caller = Caller(credential.name.clone());
        match (&credential.role, self.admit) {
            (Role::Service, _) => Ok(caller),
            (Role::Tenant(_), Admit::ServicesOnly) => Err(self.refuse(
                Code::Unauthenticated,
                reasons::SERVICE_CREDENTIAL_REQUIRED,
                "this service accepts service credentials only",
            )),
            (Role::Tenant(own), Admit::TenantsAndServices) => match metadata.get(TENANT_ID_HEADER) {
                None => {
                    metadata.insert(TENANT_ID_HEADER, own.as_str().parse().expect("tenant ids are valid metadata"));
                    Ok(caller)
                }
                Some(asked) if asked.as_bytes() == own.as_str().as_bytes() => Ok(caller),
                Some(_) => Err(self.refuse(
                    Code::PermissionDenied,
                    reasons::TENANT_MISMATCH,
                    "this API key belongs to another tenant than `x-tenant-id` names",
                )),
            },
        }
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = self.authorize_caller(request.metadata_mut())?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// Refuses to run open (no credentials) anywhere but on loopback, and says
/// loudly when it does run open.
pub fn check_exposure(service: &str, listen: SocketAddr, credentials: &Credentials) -> Result<(), String> {
    if !credentials.is_empty() {
        tracing::info!(credentials = ?credentials.names(), "{service}: bearer-token authentication enabled");
        return Ok(());
    }
    if !listen.ip().is_loopback() {
        return Err(format!(
            "{service} has no credentials configured and would listen on {listen}, beyond loopback; \
             set CREDENTIALS or CREDENTIALS_FILE, or listen on 127.0.0.1"
        ));
    }
    tracing::warn!(
        "{service}: NO AUTHENTICATION: no credentials configured, every caller is trusted. \
         This is only allowed on loopback ({listen}); configure CREDENTIALS for anything else"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::hash_token;

    fn metadata(pairs: &[(&'static str, &str)]) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        for (key, value) in pairs {
            metadata.insert(*key, value.parse().unwrap());
        }
        metadata
    }

    fn credentials() -> Credentials {
        let text = format!(
            "tenant acme-key acme {}\n# comment\nservice conversations {}",
            hash_token("acme-secret"),
            hash_token("service-secret")
        );
        Credentials::parse(&text).unwrap()
    }

    #[test]
    fn the_caller_is_named_by_its_credential_for_audit_trails() {
        let auth = Authenticator::new(credentials(), Admit::TenantsAndServices, "test");
        let mut tenant = metadata(&[("authorization", "Bearer acme-secret")]);
        assert_eq!(auth.authorize_caller(&mut tenant).unwrap(), Caller("acme-key".into()));
        let mut service = metadata(&[("authorization", "Bearer service-secret"), (TENANT_ID_HEADER, "globex")]);
        assert_eq!(auth.authorize_caller(&mut service).unwrap(), Caller("conversations".into()));
        let open = Authenticator::new(Credentials::default(), Admit::TenantsAndServices, "test");
        assert_eq!(open.authorize_caller(&mut metadata(&[])).unwrap(), Caller(OPEN_MODE_CALLER.into()));
    }

    #[test]
    fn tenant_keys_are_bound_to_their_tenant() {
        let auth = Authenticator::new(credentials(), Admit::TenantsAndServices, "test");
        let mut defaulted = metadata(&[("authorization", "Bearer acme-secret")]);
        auth.authorize(&mut defaulted).unwrap();
        assert_eq!(defaulted.get(TENANT_ID_HEADER).unwrap(), "acme", "a missing tenant defaults to the key's");
        let mut other = metadata(&[("authorization", "Bearer acme-secret"), (TENANT_ID_HEADER, "globex")]);
        assert_eq!(auth.authorize(&mut other).unwrap_err().code(), Code::PermissionDenied);
    }

    #[test]
    fn services_act_for_any_tenant_and_unknown_tokens_are_refused() {
        let auth = Authenticator::new(credentials(), Admit::TenantsAndServices, "test");
        let mut service = metadata(&[("authorization", "Bearer service-secret"), (TENANT_ID_HEADER, "globex")]);
        auth.authorize(&mut service).unwrap();
        let mut lower_case = metadata(&[("authorization", "bearer service-secret"), (TENANT_ID_HEADER, "globex")]);
        auth.authorize(&mut lower_case).expect("the scheme is case-insensitive");
        for pairs in [vec![], vec![("authorization", "Bearer nope")], vec![("authorization", "acme-secret")]] {
            let status = auth.authorize(&mut metadata(&pairs)).unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{pairs:?}");
            assert!(!status.message().contains("nope") && !status.message().contains("acme-secret"), "no echo");
        }
    }

    #[test]
    fn a_token_or_tenant_sent_twice_is_refused() {
        let auth = Authenticator::new(credentials(), Admit::TenantsAndServices, "test");
        let mut tokens = metadata(&[("authorization", "Bearer acme-secret")]);
        tokens.append("authorization", "Bearer service-secret".parse().unwrap());
        let status = auth.authorize(&mut tokens).unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(status.message().contains("`authorization` was sent 2 times"), "{}", status.message());
        assert!(!status.message().contains("secret"), "no echo");

        // A tenant key whose own tenant comes first must not slip another one through.
        for auth in [auth, Authenticator::new(Credentials::default(), Admit::TenantsAndServices, "test")] {
            let mut tenants = metadata(&[("authorization", "Bearer acme-secret"), (TENANT_ID_HEADER, "acme")]);
            tenants.append(TENANT_ID_HEADER, "globex".parse().unwrap());
            let status = auth.authorize(&mut tenants).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert_eq!(status.message(), "metadata `x-tenant-id` was sent 2 times; it must be sent once");
            let info = accommador_proto::status::error_info(&status).unwrap();
            assert_eq!((info.reason.as_str(), info.domain.as_str()), (reasons::TENANT_ID_INVALID, "test"));
        }
    }

    #[test]
    fn services_only_refuses_tenant_keys() {
        let auth = Authenticator::new(credentials(), Admit::ServicesOnly, "test");
        let status = auth.authorize(&mut metadata(&[("authorization", "Bearer acme-secret")])).unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        auth.authorize(&mut metadata(&[("authorization", "Bearer service-secret")])).unwrap();
    }

    #[test]
    fn open_mode_only_on_loopback() {
        let open = Credentials::default();
        assert!(check_exposure("svc", "127.0.0.1:1".parse().unwrap(), &open).is_ok());
        assert!(check_exposure("svc", "0.0.0.0:1".parse().unwrap(), &open).is_err());
        assert!(check_exposure("svc", "0.0.0.0:1".parse().unwrap(), &credentials()).is_ok());
    }
}
