//! The credentials a server accepts, hashed at rest.
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

use std::sync::Arc;

use accommador_proto::tenant::TenantId;
use secrecy::{ExposeSecret, SecretBox};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

/// The `hash-token` subcommand: reads a token from stdin and prints its
/// hash, or says why not and exits with status 2.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Acts for exactly one tenant.
    Tenant(TenantId),
    /// A trusted internal service that may act for any tenant.
    Service,
}

#[derive(Debug)]
pub(crate) struct Credential {
    /// Who the entry is, for logs: never the token.
    pub(crate) name: String,
    pub(crate) role: Role,
    /// Not a secret by itself, but it has no business in logs either.
    token_sha256: SecretBox<[u8; 32]>,
}

/// The configured credentials; empty means "open", allowed only on loopback.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    entries: Arc<Vec<Credential>>,
}

fn parse_hash(raw: &str) -> Result<SecretBox<[u8; 32]>, String> {
    let bytes = hex::decode(raw).map_err(|_| format!("{raw:?} is not a hex SHA-256"))?;
    let hash: [u8; 32] = bytes.try_into().map_err(|_| "a token hash has 64 hex characters".to_owned())?;
    // An empty `Authorization: Bearer` header hashes to this: such an entry
    // would admit every caller that sends one.
    if hash.as_slice() == Sha256::digest(b"").as_slice() {
        return Err("a credential is the hash of the empty token, which anyone can present; hash a real token".into());
    }
    Ok(SecretBox::new(Box::new(hash)))
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

    /// The entries' names, what logs may say about the credentials.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|credential| credential.name.as_str()).collect()
    }

    /// The credential `token` belongs to. Every entry is compared, in
    /// constant time, so timing tells nothing about near misses.
    pub(crate) fn verify(&self, token: &str) -> Option<&Credential> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for credential in self.entries.iter() {
            if bool::from(credential.token_sha256.expose_secret().ct_eq(&presented)) {
                found = Some(credential);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn malformed_entries_are_refused_with_their_number() {
        let error = Credentials::parse("service only-two").unwrap_err();
        assert!(error.contains("entry 1"), "{error}");
        assert!(Credentials::parse("service s 1234").is_err(), "short hash");
    }

    #[test]
    fn debug_output_names_entries_but_never_their_hashes() {
        let hash = hash_token("service-secret-token");
        let credentials = Credentials::parse(&format!("service conversations {hash}")).unwrap();
        let shown = format!("{credentials:?}");
        assert!(shown.contains("conversations"), "{shown}");
        assert!(!shown.contains(&hash[..16]), "{shown}");
        assert_eq!(credentials.names(), ["conversations"]);
    }
}
