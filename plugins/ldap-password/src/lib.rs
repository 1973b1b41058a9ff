//! The `ldap-password` provider: the bind password of an LDAP service
//! account, changed with the Password Modify extended operation (RFC 3062)
//! over LDAPS or StartTLS, never in clear.
//!
//! - `generate` binds as the admin DN and sets a new random password on the
//!   account. The directory holds one password per account, so the old one
//!   stops working at once: deploy targets should follow quickly (keep the
//!   grace period short).
//! - `verify` binds as the account with the new password, on a fresh
//!   connection.
//! - `revoke` makes a password unusable: if it still opens the account (a
//!   rollback revoking the new key, or a key revoked in an emergency), the
//!   account gets a random password nobody holds; if it does not (the old
//!   key after a rotation), there is nothing left to do.
//!
//! `generate` may run twice for one rotation (a lost answer): the second
//! call sets another password, so no password rekey does not hold stays
//! live.

mod wire;

use rekey_sdk::secret::{Encoding, random_secret};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use sha2::{Digest, Sha256};
use wire::{Connection, LdapError, Security, is_invalid_credentials};

/// The provider; see the crate documentation.
pub struct LdapPassword;

/// One call's settings.
struct Directory<'a> {
    address: String,
    security: Security,
    /// The name the server's certificate is verified as.
    name: &'a str,
    account: &'a str,
    config: Config<'a>,
}

impl<'a> Directory<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let host = config.required("host")?;
        let security = match config.get("security").unwrap_or("ldaps") {
            "ldaps" => Security::Ldaps,
            "starttls" => Security::StartTls,
            other => {
                return Err(ProviderError::InvalidConfig(format!(
                    "`security` must be `ldaps` or `starttls` (a password is never sent in clear), got `{other}`"
                )));
            }
        };
        let default_port = if security == Security::Ldaps { 636 } else { 389 };
        let port = config.integer("port", default_port)?;
        let address = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let name = config.get("tls-server-name").unwrap_or(host);
        Ok(Self { address, security, name, account: config.required("account-dn")?, config })
    }

    fn connect(&self) -> Result<Connection, ProviderError> {
        Connection::open(&self.address, self.security, self.name).map_err(failure)
    }

    /// A connection bound as the admin DN.
    fn admin(&self) -> Result<Connection, ProviderError> {
        let mut connection = self.connect()?;
        let dn = self.config.required("admin-dn")?;
        connection.bind(dn, self.config.secret("admin-password")?).map_err(|e| {
            if is_invalid_credentials(&e) {
                ProviderError::Unauthorized(format!("the directory refused the admin DN `{dn}`: {e}"))
            } else {
                failure(e)
            }
        })?;
        Ok(connection)
    }

    /// Sets a new random password of `length` on the account.
    fn set_password(&self, length: usize) -> Result<String, ProviderError> {
        let password = random_secret(length, Encoding::Alphanumeric);
        self.admin()?.modify_password(self.account, &password).map_err(|e| match e {
            LdapError::Result { code, message } => ProviderError::Rejected(format!(
                "the directory refused to change the password of `{}`: {code:?} {message} (may the admin DN write its userPassword?)",
                self.account
            )),
            other => failure(other),
        })?;
        Ok(password)
    }

    /// Whether `password` opens the account now.
    fn opens(&self, password: &str) -> Result<Result<(), String>, ProviderError> {
        match self.connect()?.bind(self.account, password) {
            Ok(()) => Ok(Ok(())),
            Err(e) if is_invalid_credentials(&e) => Ok(Err(format!("the directory refused the password: {e}"))),
            Err(e) => Err(failure(e)),
        }
    }
}

fn failure(error: LdapError) -> ProviderError {
    match error {
        LdapError::Network(m) if m.contains("access-denied") => {
            ProviderError::Rejected(format!("the sandbox refused the connection: {m}"))
        }
        LdapError::Network(m) => ProviderError::Unavailable(format!("cannot talk to the directory: {m}")),
        LdapError::Tls(m) => ProviderError::InvalidConfig(format!("no verified TLS connection to the directory: {m}")),
        other => ProviderError::Rejected(other.to_string()),
    }
}

/// A non-secret id for a password: the account and a prefix of the
/// password's SHA-256.
fn key_id(account: &str, password: &str) -> String {
    format!("{account}#{}", &hex::encode(Sha256::digest(password.as_bytes()))[..16])
}

impl Provider for LdapPassword {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "ldap-password".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Bind passwords of LDAP service accounts, set with Password Modify (RFC 3062) over LDAPS or StartTLS"
                    .into(),
            config: vec![
                text("host", "IP address of the directory server").required(),
                ConfigField::new("port", FieldType::Integer, "Its port [default: 636 for ldaps, 389 for starttls]"),
                text("security", "`ldaps` (TLS from the first byte) or `starttls`; never in clear")
                    .default_value("ldaps"),
                text(
                    "tls-server-name",
                    "The name the server's certificate carries, when it is not `host` (grant it to the credential)",
                ),
                text("account-dn", "DN of the service account whose password is rotated").required(),
                text("admin-dn", "DN allowed to change the account's password").required(),
                text("admin-password", "Password of the admin DN").secret(),
                ConfigField::new("length", FieldType::Integer, "Characters of a new password (alphanumeric)")
                    .default_value("40"),
            ],
            capabilities: Capabilities {
                concurrent_keys: false,
                reports_last_use: false,
                idempotent_generate: true,
                lists_keys: false,
            },
            permissions: Permissions { http_hosts: vec![], tcp: vec!["{host}:{port}".into()] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let directory = Directory::from(&ctx)?;
        let length = directory.config.password_length()?;
        let password = directory.set_password(length)?;
        Ok(Credential {
            key_id: key_id(directory.account, &password),
            attributes: vec![Pair { key: "account".into(), value: directory.account.into() }],
            secret: password,
            expires_at: None,
        })
    }

    fn verify(ctx: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        let directory = Directory::from(&ctx)?;
        Ok(match directory.opens(&credential.secret)? {
            Ok(()) => {
                Verification { valid: true, detail: Some(format!("bound as `{}`", directory.account)), last_used: None }
            }
            Err(detail) => Verification { valid: false, detail: Some(detail), last_used: None },
        })
    }

    fn revoke(ctx: CallContext, credential: Credential) -> Result<(), ProviderError> {
        let directory = Directory::from(&ctx)?;
        if credential.secret.is_empty() || directory.opens(&credential.secret)?.is_err() {
            return Ok(());
        }
        directory.set_password(64).map(drop)
    }

    fn list_keys(_: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        Err(rekey_sdk::cannot_list())
    }
}

rekey_sdk::export_provider!(LdapPassword);
