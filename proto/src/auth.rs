//! Who may call: bearer tokens checked against credentials hashed at rest,
//! and the TLS settings both servers share.
//!
//! A credentials list has one entry per line (or separated by `;` when it
//! comes from an environment variable); `#` starts a comment:
//!
//! ```text
//! tenant  <name> <tenant-id> <sha256-hex of the token>   # a tenant API key
//! service <name> <sha256-hex of the token>               # a trusted internal caller
//! ```
//!
//! `<binary> hash-token` prints the hash of a token read from stdin.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::{Code, Request, Status, metadata::MetadataMap};

use crate::{
    status::{ErrorInfo, with_details},
    tenant::{TENANT_ID_HEADER, TenantId},
};

/// Metadata key of the bearer token.
pub const AUTHORIZATION_HEADER: &str = "authorization";

/// Shortest token `hash-token` accepts, in bytes: 16 random bytes are out of
/// reach of guessing, and anything shorter is most likely a placeholder or a
/// password someone typed.
pub const MIN_TOKEN_BYTES: usize = 16;

/// The SHA-256 of a token, in hex: what configuration stores.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// The hash of a new token, for `hash-token`: refuses empty and short
/// tokens, which would let in anyone who tries them.
pub fn hash_new_token(token: &str) -> Result<String, String> {
    let length = token.trim().len();
    if length < MIN_TOKEN_BYTES {
        return Err(format!(
            "the token is {length} bytes; use at least {MIN_TOKEN_BYTES} random bytes, e.g. the output of \
             `python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`"
        ));
    }
    Ok(hash_token(token))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Acts for exactly one tenant.
    Tenant(TenantId),
    /// A trusted internal service that may act for any tenant.
    Service,
}

#[derive(Clone)]
struct Credential {
    name: String,
    role: Role,
    token_sha256: [u8; 32],
}

/// The configured credentials; empty means "open", allowed only on loopback.
#[derive(Clone, Default)]
pub struct Credentials {
    entries: Arc<Vec<Credential>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: hashes are not secrets, but they have no business in logs either.
        f.debug_list().entries(self.entries.iter().map(|c| &c.name)).finish()
    }
}

/// The `hash-token` subcommand both services share: reads a token from
/// stdin and prints its hash, or says why not and exits with status 2.
pub fn run_hash_token() -> std::io::Result<()> {
    let mut token = String::new();
    std::io::stdin().read_line(&mut token)?;
    match hash_new_token(&token) {
        Ok(hash) => println!("{hash}"),
        Err(problem) => {
            eprintln!("hash-token: {problem}");
            std::process::exit(2);
        }
    }
    Ok(())
}

fn parse_hash(raw: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(raw).map_err(|_| format!("{raw:?} is not a hex SHA-256"))?;
    let hash: [u8; 32] = bytes.try_into().map_err(|_| "a token hash has 64 hex characters".to_owned())?;
    // An empty `Authorization: Bearer` header hashes to this: such an entry
    // would admit every caller that sends one.
    if hash.as_slice() == Sha256::digest(b"").as_slice() {
        return Err("a credential is the hash of the empty token, which anyone can present; hash a real token".into());
    }
    Ok(hash)
}

impl Credentials {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (number, line) in text.split(['\n', ';']).enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let entry = match fields.as_slice() {
                ["tenant", name, tenant, hash] => Credential {
                    name: (*name).to_owned(),
                    role: Role::Tenant(TenantId::parse(tenant).map_err(|e| e.to_string())?),
                    token_sha256: parse_hash(hash)?,
                },
                ["service", name, hash] => {
                    Credential { name: (*name).to_owned(), role: Role::Service, token_sha256: parse_hash(hash)? }
                }
                _ => {
                    return Err(format!(
                        "credential entry {} is not `tenant NAME TENANT SHA256` or `service NAME SHA256`",
                        number + 1
                    ));
                }
            };
            entries.push(entry);
        }
        Ok(Self { entries: Arc::new(entries) })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The credential `token` belongs to. Every entry is compared, in
    /// constant time, so timing tells nothing about near misses.
    fn verify(&self, token: &str) -> Option<&Credential> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for credential in self.entries.iter() {
            if bool::from(credential.token_sha256.ct_eq(&presented)) {
                found = Some(credential);
            }
        }
        found
    }
}

/// Which callers a server admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Tenant API keys (bound to their tenant) and service credentials.
    TenantsAndServices,
    /// Service credentials only: media-svc serves other services, not tenants.
    ServicesOnly,
}

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
    pub fn authorize(&self, metadata: &mut MetadataMap) -> Result<(), Status> {
        if self.credentials.is_empty() {
            return Ok(()); // open mode, loopback only (see `check_exposure`)
        }
        let token = metadata
            .get(AUTHORIZATION_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                self.refuse(
                    Code::Unauthenticated,
                    "UNAUTHENTICATED",
                    "metadata `authorization: Bearer <token>` is required",
                )
            })?;
        let credential = self
            .credentials
            .verify(token.trim())
            .ok_or_else(|| self.refuse(Code::Unauthenticated, "UNAUTHENTICATED", "the bearer token is not valid"))?;
        match (&credential.role, self.admit) {
            (Role::Service, _) => Ok(()),
            (Role::Tenant(_), Admit::ServicesOnly) => Err(self.refuse(
                Code::Unauthenticated,
                "SERVICE_CREDENTIAL_REQUIRED",
                "this service accepts service credentials only",
            )),
            (Role::Tenant(own), Admit::TenantsAndServices) => match metadata.get(TENANT_ID_HEADER) {
                None => {
                    metadata.insert(TENANT_ID_HEADER, own.as_str().parse().expect("tenant ids are valid metadata"));
                    Ok(())
                }
                Some(asked) if asked.as_bytes() == own.as_str().as_bytes() => Ok(()),
                Some(_) => Err(self.refuse(
                    Code::PermissionDenied,
                    "TENANT_MISMATCH",
                    "this API key belongs to another tenant than `x-tenant-id` names",
                )),
            },
        }
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        self.authorize(request.metadata_mut())?;
        Ok(request)
    }
}

/// Refuses to run open (no credentials) anywhere but on loopback, and says
/// loudly when it does run open.
pub fn check_exposure(service: &str, listen: SocketAddr, credentials: &Credentials) -> Result<(), String> {
    if !credentials.is_empty() {
        tracing::info!(credentials = ?credentials, "{service}: bearer-token authentication enabled");
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

/// Authentication and TLS settings, shared by both servers' command lines.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecurityConfig {
    /// File of credentials (see the README): `tenant NAME TENANT SHA256` and
    /// `service NAME SHA256` lines, with token hashes from `hash-token`.
    #[arg(long, env = "CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,

    /// Credentials inline, entries separated by `;` (added to the file's).
    #[arg(long, env = "CREDENTIALS", hide_env_values = true)]
    pub credentials: Option<String>,

    /// PEM certificate chain: serve TLS with it (needs --tls-key).
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate: require client certificates signed by it (mutual TLS).
    #[arg(long, env = "TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl SecurityConfig {
    pub fn load_credentials(&self) -> anyhow::Result<Credentials> {
        let mut text = String::new();
        if let Some(path) = &self.credentials_file {
            text.push_str(&std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?);
            text.push('\n');
        }
        if let Some(inline) = &self.credentials {
            text.push_str(inline);
        }
        Credentials::parse(&text).map_err(anyhow::Error::msg)
    }

    /// The server's TLS configuration, when a certificate is configured.
    pub fn server_tls(&self) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else { return Ok(None) };
        let read = |path: &PathBuf| std::fs::read(path).map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()));
        let mut tls = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(read(cert)?, read(key)?));
        if let Some(ca) = &self.tls_client_ca {
            tls = tls.client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?));
        }
        Ok(Some(tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn short_and_empty_tokens_are_not_hashed() {
        assert!(hash_new_token("").is_err());
        assert!(hash_new_token("  fifteen-bytes!!  ").unwrap_err().contains("15 bytes"));
        assert_eq!(hash_new_token("sixteen-bytes-ok").unwrap(), hash_token("sixteen-bytes-ok"));
    }

    #[test]
    fn a_configured_hash_of_the_empty_token_is_refused() {
        let text = format!("service anyone {}", hash_token(""));
        assert!(Credentials::parse(&text).unwrap_err().contains("empty token"));
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
        for pairs in [vec![], vec![("authorization", "Bearer nope")], vec![("authorization", "acme-secret")]] {
            let status = auth.authorize(&mut metadata(&pairs)).unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{pairs:?}");
            assert!(!status.message().contains("nope") && !status.message().contains("acme-secret"), "no echo");
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

    #[test]
    fn malformed_entries_are_refused_with_their_number() {
        let error = Credentials::parse("service only-two").unwrap_err();
        assert!(error.contains("entry 1"), "{error}");
        assert!(Credentials::parse("service s 1234").is_err(), "short hash");
    }
}
