//! The `redis-acl` provider: the password of a Redis ACL user.
//!
//! Redis lets one user hold several passwords, which gives a rotation with no
//! downtime: `generate` adds a new password (`ACL SETUSER user >new`),
//! applications move to it stage by stage while the old one keeps working,
//! `verify` opens a fresh connection and authenticates as the user with the
//! new password, and `revoke` removes the old one (`ACL SETUSER user <old`).
//! Nothing else about the user (its rules, keys, channels) is touched.
//!
//! It speaks RESP over TCP from inside the sandbox, to `host:port` from its
//! config and nowhere else; with `tls = "true"` (`rediss`), over TLS that
//! the host runs and verifies from the first byte.

mod resp;

use rekey_sdk::secret::{Encoding, random_secret};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use resp::{Connection, Reply};
use sha2::{Digest, Sha256};

/// The provider; see the crate documentation.
pub struct RedisAcl;

/// One call's settings.
struct Target<'a> {
    address: String,
    /// The name to verify the server's certificate as, in TLS.
    tls: Option<&'a str>,
    user: &'a str,
    admin_user: &'a str,
    admin_password: &'a str,
}

impl<'a> Target<'a> {
    fn from(config: &Config<'a>) -> Result<Self, ProviderError> {
        let port = config.integer("port", 6379)?;
        let host = config.required("host")?;
        let address = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let tls = config.boolean("tls", false)?.then(|| config.get("tls-server-name").unwrap_or(host));
        Ok(Self {
            address,
            tls,
            user: config.required("user")?,
            admin_user: config.get("admin-user").unwrap_or("default"),
            admin_password: config.secret("admin-password")?,
        })
    }

    /// A connection authenticated as the admin user.
    fn admin(&self) -> Result<Connection, ProviderError> {
        let mut connection = Connection::open(&self.address, self.tls)?;
        match connection.command(&["AUTH", self.admin_user, self.admin_password])? {
            Reply::Simple(_) => Ok(connection),
            Reply::Error(e) => {
                Err(ProviderError::Unauthorized(format!("Redis refused the admin user `{}`: {e}", self.admin_user)))
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Runs `ACL SETUSER user RULE` as the admin.
    fn set_user(&self, connection: &mut Connection, rule: &str) -> Result<Reply, ProviderError> {
        match connection.command(&["ACL", "SETUSER", self.user, rule])? {
            Reply::Error(e) if e.starts_with("NOPERM") => Err(ProviderError::Unauthorized(format!(
                "the admin user `{}` may not change ACL users: {e}",
                self.admin_user
            ))),
            reply => Ok(reply),
        }
    }
}

/// A non-secret id for a password: the user and a prefix of the password's
/// SHA-256, which Redis itself shows in `ACL GETUSER`.
fn key_id(user: &str, sha256: &str) -> String {
    format!("{user}#{}", &sha256[..16.min(sha256.len())])
}

/// A password's SHA-256 in hex, as Redis stores and shows it.
fn hash(password: &str) -> String {
    hex::encode(Sha256::digest(password.as_bytes()))
}

fn unexpected(reply: &Reply) -> ProviderError {
    ProviderError::Rejected(format!("unexpected reply from Redis: {reply:?}"))
}

impl Provider for RedisAcl {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "redis-acl".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Passwords of Redis ACL users, rotated with no downtime (a user may hold two passwords)"
                .into(),
            config: vec![
                ConfigField::new("host", FieldType::Text, "IP address of the Redis server").required(),
                ConfigField::new("port", FieldType::Integer, "Port of the Redis server").default_value("6379"),
                ConfigField::new("user", FieldType::Text, "The ACL user whose password is rotated").required(),
                ConfigField::new("admin-user", FieldType::Text, "ACL user allowed to run ACL SETUSER")
                    .default_value("default"),
                ConfigField::new("admin-password", FieldType::Text, "Password of the admin user").secret(),
                ConfigField::new("length", FieldType::Integer, "Characters of a new password (alphanumeric)")
                    .default_value("40"),
                ConfigField::new("tls", FieldType::Boolean, "TLS from the first byte, as `rediss://` (a `--tls-port`)")
                    .default_value("false"),
                ConfigField::new(
                    "tls-server-name",
                    FieldType::Text,
                    "The name the server's certificate carries, when it is not `host` (grant it to the credential)",
                ),
            ],
            // Every password the user holds can be listed (by its SHA-256),
            // but Redis keeps no label with a password: listed keys carry
            // no rotation id, so the host reports them and `rekey
            // reconcile` removes them.
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: true,
            },
            permissions: Permissions { http_hosts: vec![], tcp: vec!["{host}:{port}".into()] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let config = Config::new(&ctx);
        let target = Target::from(&config)?;
        let length = config.password_length()?;
        let mut admin = target.admin()?;
        if admin.command(&["ACL", "GETUSER", target.user])? == Reply::Array(None) {
            return Err(ProviderError::NotFound(format!(
                "the Redis ACL user `{}` does not exist; create it first",
                target.user
            )));
        }
        let password = random_secret(length, Encoding::Alphanumeric);
        match target.set_user(&mut admin, &format!(">{password}"))? {
            Reply::Simple(_) => Ok(Credential {
                key_id: key_id(target.user, &hash(&password)),
                attributes: vec![
                    Pair { key: "user".into(), value: target.user.into() },
                    Pair { key: "sha256".into(), value: hash(&password) },
                ],
                secret: password,
                expires_at: None,
            }),
            Reply::Error(e) => Err(ProviderError::Rejected(format!("Redis refused the new password: {e}"))),
            other => Err(unexpected(&other)),
        }
    }

    fn verify(ctx: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        let config = Config::new(&ctx);
        let target = Target::from(&config)?;
        let mut connection = Connection::open(&target.address, target.tls)?;
        Ok(match connection.command(&["AUTH", target.user, &credential.secret])? {
            Reply::Simple(_) => Verification {
                valid: true,
                detail: Some(format!("authenticated as `{}`", target.user)),
                last_used: None,
            },
            Reply::Error(e) => {
                Verification { valid: false, detail: Some(format!("Redis refused the password: {e}")), last_used: None }
            }
            other => return Err(unexpected(&other)),
        })
    }

    fn revoke(ctx: CallContext, credential: Credential) -> Result<(), ProviderError> {
        let config = Config::new(&ctx);
        let target = Target::from(&config)?;
        let mut admin = target.admin()?;
        // A key found by `list-keys` comes without its secret: remove it by hash.
        let rule = match credential.attributes.iter().find(|p| p.key == "sha256") {
            Some(sha256) if credential.secret.is_empty() => format!("!{}", sha256.value),
            _ => format!("<{}", credential.secret),
        };
        match target.set_user(&mut admin, &rule)? {
            Reply::Simple(_) => Ok(()),
            // Already removed: revoking again is a success.
            Reply::Error(e) if e.contains("does not exist") => Ok(()),
            Reply::Error(e) => Err(ProviderError::Rejected(format!("Redis refused to remove the password: {e}"))),
            other => Err(unexpected(&other)),
        }
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let config = Config::new(&ctx);
        let target = Target::from(&config)?;
        let mut admin = target.admin()?;
        let Reply::Array(Some(fields)) = admin.command(&["ACL", "GETUSER", target.user])? else {
            return Err(ProviderError::NotFound(format!("the Redis ACL user `{}` does not exist", target.user)));
        };
        // A flat list of name/value pairs; `passwords` holds the hashes.
        let passwords = fields.chunks(2).find_map(|pair| match pair {
            [Reply::Bulk(Some(name)), Reply::Array(Some(hashes))] if name.as_slice() == b"passwords" => Some(hashes),
            _ => None,
        });
        Ok(passwords
            .into_iter()
            .flatten()
            .filter_map(|reply| match reply {
                Reply::Bulk(Some(hash)) => Some(String::from_utf8_lossy(hash).into_owned()),
                _ => None,
            })
            .map(|sha256| KeySummary {
                key_id: key_id(target.user, &sha256),
                tag: None,
                created_at: None,
                last_used: None,
                attributes: vec![
                    Pair { key: "user".into(), value: target.user.into() },
                    Pair { key: "sha256".into(), value: sha256 },
                ],
            })
            .collect())
    }
}

rekey_sdk::export_provider!(RedisAcl);
