//! The `mysql-user` provider: the password of a MariaDB or MySQL account,
//! in one of three strategies.
//!
//! - `single`: `generate` sets a new password on the one account; the old
//!   one stops working at once.
//! - `alternating`: two accounts with the same grants take turns. The
//!   *standby* is the locked one (`ACCOUNT LOCK`): `generate` gives it a new
//!   password and unlocks it, applications move to it stage by stage while
//!   the active account keeps working, and `revoke` locks the old one.
//! - `dual` (MySQL 8.0.14 and later): one account holds two passwords;
//!   `generate` sets the new one with `RETAIN CURRENT PASSWORD`, and
//!   `revoke` runs `DISCARD OLD PASSWORD`.
//!
//! On MariaDB the new password travels as its `mysql_native_password` hash
//! (`IDENTIFIED BY PASSWORD '*…'`), so the plaintext never reaches the
//! server or its logs; MySQL rewrites `IDENTIFIED BY` in its own logs.
//!
//! `list-keys` lists the accounts that can log in, each with a key id
//! made from the account's stored credential, the same `generate` returns:
//! a key whose answer was lost is found there and revoked by `rekey
//! reconcile`.

mod wire;

use rekey_sdk::login;
use rekey_sdk::secret::{Encoding, random_secret};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use wire::{MyError, Session};

/// The provider; see the crate documentation.
pub struct MysqlUser;

/// How keys are rotated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Single,
    Alternating,
    Dual,
}

/// One call's settings.
struct Server<'a> {
    address: String,
    host: &'a str,
    port: u64,
    /// The name to verify the server's certificate as, when in TLS.
    tls: Option<&'a str>,
    strategy: Strategy,
    config: Config<'a>,
}

impl<'a> Server<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let host = config.required("host")?;
        let port = config.integer("port", 3306)?;
        let address = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        // The host always verifies the certificate and the name: `required`
        // is accepted for MySQL's spelling and means `verify-identity` here.
        let tls = match config.get("ssl-mode").unwrap_or("disabled") {
            "disabled" => None,
            "required" | "verify-identity" => Some(config.get("tls-server-name").unwrap_or(host)),
            other => {
                return Err(ProviderError::InvalidConfig(format!(
                    "`ssl-mode` must be `disabled`, `required` or `verify-identity`, got `{other}`"
                )));
            }
        };
        let strategy = match config.get("strategy").unwrap_or("single") {
            "single" => Strategy::Single,
            "alternating" => Strategy::Alternating,
            "dual" => Strategy::Dual,
            other => {
                return Err(ProviderError::InvalidConfig(format!(
                    "`strategy` must be `single`, `alternating` or `dual`, got `{other}`"
                )));
            }
        };
        Ok(Self { address, host, port, tls, strategy, config })
    }

    fn admin(&self) -> Result<Session, ProviderError> {
        let user = self.config.required("admin-user")?;
        Session::open(&self.address, self.tls, user, self.config.secret("admin-password")?).map_err(|e| {
            if e.is_access_denied() {
                ProviderError::Unauthorized(format!("the server refused the admin user `{user}`: {e}"))
            } else {
                failure(e)
            }
        })
    }

    /// The accounts rotated: one, or the two of `alternating`.
    fn accounts(&self) -> Result<Vec<&'a str>, ProviderError> {
        if self.strategy != Strategy::Alternating {
            return Ok(vec![self.config.required("user")?]);
        }
        let (a, b) = self.config.pair("users")?;
        Ok(vec![a, b])
    }

    /// `'user'@'host'`.
    fn account(&self, user: &str) -> String {
        format!("{}@{}", literal(user), literal(self.config.get("account-host").unwrap_or("%")))
    }

    /// What applications receive: the password, or a URI naming the user.
    fn secret(&self, user: &str, password: &str) -> Result<String, ProviderError> {
        match self.config.get("secret-format").unwrap_or("password") {
            "password" => Ok(password.to_string()),
            "uri" => Ok(format!("mysql://{user}:{password}@{}:{}/", self.host, self.port)),
            other => {
                Err(ProviderError::InvalidConfig(format!("`secret-format` must be `password` or `uri`, got `{other}`")))
            }
        }
    }

    /// Whether `password` logs in as `user` now.
    fn logs_in(&self, user: &str, password: &str) -> Result<Result<(), String>, ProviderError> {
        match Session::open(&self.address, self.tls, user, password) {
            Ok(_) => Ok(Ok(())),
            Err(e) if e.is_access_denied() => Ok(Err(format!("the server refused the password of `{user}`: {e}"))),
            Err(e) => Err(failure(e)),
        }
    }
}

/// What is known of one account.
struct Account {
    user: String,
    locked: bool,
    /// `SHOW CREATE USER`, without its lock clause: what a key id is made from.
    created: String,
}

fn show(admin: &mut Session, server: &Server, user: &str) -> Result<Option<Account>, ProviderError> {
    match admin.query(&format!("SHOW CREATE USER {}", server.account(user))) {
        Ok(rows) => {
            let text = rows.into_iter().next().and_then(|r| r.into_iter().next().flatten()).unwrap_or_default();
            let locked = text.contains("ACCOUNT LOCK");
            let created = text.replace(" ACCOUNT LOCK", "").replace(" ACCOUNT UNLOCK", "");
            Ok(Some(Account { user: user.into(), locked, created }))
        }
        // ER_CANNOT_USER / ER_NONEXISTING_GRANT: no such account.
        Err(MyError::Server { code: 1396 | 1141, .. }) => Ok(None),
        Err(e) => Err(failure(e)),
    }
}

/// A key id that names the account and its stored credential (never the
/// password): the same for the key `generate` made and for `list-keys`.
fn key_id(account: &Account) -> String {
    format!("{}#{}", account.user, &hex::encode(Sha256::digest(account.created.as_bytes()))[..16])
}

fn failure(error: MyError) -> ProviderError {
    match error {
        MyError::Network(m) if m.contains("access-denied") => {
            ProviderError::Rejected(format!("the sandbox refused the connection: {m}"))
        }
        MyError::Network(m) => ProviderError::Unavailable(format!("cannot talk to the server: {m}")),
        MyError::Tls(m) => ProviderError::InvalidConfig(format!("no verified TLS connection to the server: {m}")),
        MyError::Server { code: 1044 | 1142 | 1227 | 1045, message } => {
            ProviderError::Unauthorized(format!("the admin user may not do this: {message}"))
        }
        other => ProviderError::Rejected(other.to_string()),
    }
}

/// `'text'`, quotes and backslashes escaped.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// How `ALTER USER` sets `password`: on MariaDB as its hash, so the
/// plaintext never reaches the server or its logs; on MySQL, which
/// rewrites the statement in its own logs, as the password.
fn identified_by(mariadb: bool, password: &str) -> String {
    if mariadb {
        format!("IDENTIFIED BY PASSWORD {}", literal(&native_hash(password)))
    } else {
        format!("IDENTIFIED BY {}", literal(password))
    }
}

/// The `mysql_native_password` hash MariaDB stores: `*` and SHA1(SHA1(password)).
fn native_hash(password: &str) -> String {
    format!("*{}", hex::encode_upper(Sha1::digest(Sha1::digest(password.as_bytes()))))
}

impl Provider for MysqlUser {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "mysql-user".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Passwords of MariaDB and MySQL accounts (single, two alternating accounts, or MySQL's dual passwords)"
                    .into(),
            config: vec![
                text("host", "IP address of the server").required(),
                ConfigField::new("port", FieldType::Integer, "Its port").default_value("3306"),
                text(
                    "ssl-mode",
                    "`disabled`, or `verify-identity` for TLS (`required` means the same: the host always verifies)",
                )
                .default_value("disabled"),
                text(
                    "tls-server-name",
                    "The name the server's certificate carries, when it is not `host` (grant it to the credential)",
                ),
                text("admin-user", "An account with CREATE USER that changes the passwords").required(),
                text("admin-password", "Its password").secret(),
                text("strategy", "`single`, `alternating` (two accounts taking turns) or `dual` (MySQL 8.0.14+)")
                    .default_value("single"),
                text("user", "The account's user, for `single` and `dual`"),
                text("users", "The two accounts' users, comma-separated, for `alternating`"),
                text("account-host", "The host part of the accounts").default_value("%"),
                text(
                    "secret-format",
                    "What applications receive: `password` or `uri` (mysql://user:password@host:port/)",
                )
                .default_value("password"),
                ConfigField::new("length", FieldType::Integer, "Characters of a new password (alphanumeric)")
                    .default_value("40"),
            ],
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
        let server = Server::from(&ctx)?;
        let length = server.config.password_length()?;
        let mut admin = server.admin()?;
        let mariadb = admin.version.contains("MariaDB");
        let accounts = server.accounts()?;
        let mut known = Vec::new();
        for user in &accounts {
            known.push(show(&mut admin, &server, user)?.ok_or_else(|| {
                ProviderError::NotFound(format!("the account {} does not exist; create it first", server.account(user)))
            })?);
        }
        let user = match server.strategy {
            // Both locked (before the first rotation): the first one.
            Strategy::Alternating => match known.iter().find(|a| a.locked) {
                Some(standby) => standby.user.clone(),
                None => {
                    return Err(ProviderError::Rejected(format!(
                        "both {} and {} can log in, so neither is the standby: let the rotation in its grace period end, or lock the account not in use (`rekey reconcile` finds a key rekey does not hold)",
                        server.account(accounts[0]),
                        server.account(accounts[1])
                    )));
                }
            },
            _ => accounts[0].to_string(),
        };
        let password = random_secret(length, Encoding::Alphanumeric);
        let identified = identified_by(mariadb, &password);
        let tail = match server.strategy {
            Strategy::Single => String::new(),
            Strategy::Alternating => " ACCOUNT UNLOCK".into(),
            Strategy::Dual if mariadb => {
                return Err(ProviderError::InvalidConfig(
                    "MariaDB has no dual passwords: use `strategy = \"alternating\"` with two accounts".into(),
                ));
            }
            Strategy::Dual => " RETAIN CURRENT PASSWORD".into(),
        };
        admin.query(&format!("ALTER USER {} {identified}{tail}", server.account(&user))).map_err(failure)?;
        let account = show(&mut admin, &server, &user)?.ok_or_else(|| {
            ProviderError::Unavailable(format!(
                "the account {} vanished while its password was set",
                server.account(&user)
            ))
        })?;
        Ok(Credential {
            key_id: key_id(&account),
            attributes: vec![Pair { key: "user".into(), value: user.clone() }],
            secret: server.secret(&user, &password)?,
            expires_at: None,
        })
    }

    fn verify(ctx: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        let server = Server::from(&ctx)?;
        let user = login::account(&credential, "user", server.config.get("user"));
        Ok(match server.logs_in(user, login::password(&credential.secret))? {
            Ok(()) => Verification { valid: true, detail: Some(format!("logged in as `{user}`")), last_used: None },
            Err(detail) => Verification { valid: false, detail: Some(detail), last_used: None },
        })
    }

    fn revoke(ctx: CallContext, credential: Credential) -> Result<(), ProviderError> {
        let server = Server::from(&ctx)?;
        let user = login::account(&credential, "user", server.config.get("user"));
        let mut admin = server.admin()?;
        // A key found by `list-keys` comes without its secret: it is the
        // account as listed, if its stored credential has not changed since.
        let still_live = if credential.secret.is_empty() {
            show(&mut admin, &server, user)?.is_some_and(|a| !a.locked && key_id(&a) == credential.key_id)
        } else {
            server.logs_in(user, login::password(&credential.secret))?.is_ok()
        };
        if !still_live {
            return Ok(());
        }
        let statement = match server.strategy {
            Strategy::Alternating => format!("ALTER USER {} ACCOUNT LOCK", server.account(user)),
            Strategy::Dual => format!("ALTER USER {} DISCARD OLD PASSWORD", server.account(user)),
            Strategy::Single => {
                let nobody = random_secret(64, Encoding::Alphanumeric);
                let identified = identified_by(admin.version.contains("MariaDB"), &nobody);
                format!("ALTER USER {} {identified}", server.account(user))
            }
        };
        admin.query(&statement).map(drop).map_err(failure)
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let server = Server::from(&ctx)?;
        let mut admin = server.admin()?;
        let mut keys = Vec::new();
        for user in server.accounts()? {
            if let Some(account) = show(&mut admin, &server, user)?.filter(|a| !a.locked) {
                keys.push(KeySummary {
                    key_id: key_id(&account),
                    tag: None,
                    created_at: None,
                    last_used: None,
                    attributes: vec![Pair { key: "user".into(), value: account.user }],
                });
            }
        }
        Ok(keys)
    }
}

rekey_sdk::export_provider!(MysqlUser);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_hash_is_mariadbs() {
        // SELECT PASSWORD('secret') on MariaDB 10.11.
        assert_eq!(native_hash("secret"), "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7");
    }
}
