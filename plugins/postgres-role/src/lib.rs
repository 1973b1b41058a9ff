//! The `postgres-role` provider: the password of a PostgreSQL login role,
//! in one of two strategies.
//!
//! - `single`: `generate` sets a new password on the one role. The old
//!   password stops working at once, so applications must pick the new one
//!   up quickly; `revoke` has nothing left to do.
//! - `alternating`: two login roles (members of one group role that holds
//!   the privileges) take turns. `generate` gives the *standby* role a new
//!   password and lets it log in; applications switch to it stage by stage
//!   while the active role keeps working; `revoke` retires the old role
//!   (a random unknown password, expired, or `NOLOGIN` by config). The
//!   standby is the role that cannot log in (NOLOGIN or an expired
//!   password), so the server itself records whose turn it is.
//!
//! Passwords are sent as SCRAM-SHA-256 verifiers computed in the plugin, so
//! the plaintext never reaches the server or its logs.
//!
//! `generate` is idempotent per rotation id, so a lost answer leaves no
//! login behind: `single` sets the one role's password, and a second call
//! simply sets another; `alternating` labels the role it enabled with
//! `COMMENT ON ROLE … IS 'rekey <rotation-id>'`, in the same transaction,
//! and a second call for the same rotation picks that role again (it can
//! log in now, so it would no longer look like the standby).

mod wire;

use postgres_protocol::password::scram_sha_256;
use rekey_sdk::login;
use rekey_sdk::secret::{Encoding, random_secret};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use sha2::{Digest, Sha256};
use wire::{PgError, Session};

/// The provider; see the crate documentation.
pub struct PostgresRole;

/// One call's settings.
struct Server<'a> {
    address: String,
    /// The name to verify the server's certificate as, when in TLS.
    tls: Option<&'a str>,
    sslmode: &'a str,
    host: &'a str,
    port: u64,
    database: &'a str,
    config: Config<'a>,
}

impl<'a> Server<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let host = config.required("host")?;
        let port = config.integer("port", 5432)?;
        let address = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        // The host always verifies the certificate and the name: `require`
        // is accepted for libpq's spelling and means `verify-full` here.
        let sslmode = config.get("sslmode").unwrap_or("disable");
        let tls = match sslmode {
            "disable" => None,
            "require" | "verify-full" => Some(config.get("tls-server-name").unwrap_or(host)),
            other => {
                return Err(ProviderError::InvalidConfig(format!(
                    "`sslmode` must be `disable`, `require` or `verify-full`, got `{other}`"
                )));
            }
        };
        Ok(Self { address, tls, sslmode, host, port, database: config.get("database").unwrap_or("postgres"), config })
    }

    fn admin(&self) -> Result<Session, ProviderError> {
        let user = self.config.required("admin-user")?;
        Session::open(&self.address, self.tls, user, self.config.secret("admin-password")?, self.database).map_err(
            |e| {
                if e.is_auth() {
                    ProviderError::Unauthorized(format!("PostgreSQL refused the admin role `{user}`: {e}"))
                } else {
                    network(e)
                }
            },
        )
    }

    fn alternating(&self) -> Result<bool, ProviderError> {
        match self.config.get("strategy").unwrap_or("single") {
            "single" => Ok(false),
            "alternating" => Ok(true),
            other => Err(ProviderError::InvalidConfig(format!(
                "`strategy` must be `single` or `alternating`, got `{other}`"
            ))),
        }
    }

    /// The secret applications receive: the password, or a connection URI
    /// (which also names the role, as alternating needs).
    fn secret(&self, role: &str, password: &str) -> Result<String, ProviderError> {
        match self.config.get("secret-format").unwrap_or("password") {
            "password" => Ok(password.to_string()),
            "uri" => {
                let uri = format!("postgresql://{role}:{password}@{}:{}/{}", self.host, self.port, self.database);
                Ok(if self.tls.is_some() { format!("{uri}?sslmode={}", self.sslmode) } else { uri })
            }
            other => {
                Err(ProviderError::InvalidConfig(format!("`secret-format` must be `password` or `uri`, got `{other}`")))
            }
        }
    }
}

fn network(error: PgError) -> ProviderError {
    match error {
        PgError::Network(m) if m.contains("access-denied") => {
            ProviderError::Rejected(format!("the sandbox refused the connection: {m}"))
        }
        PgError::Network(m) => ProviderError::Unavailable(format!("cannot talk to PostgreSQL: {m}")),
        PgError::Tls(m) => ProviderError::InvalidConfig(format!("no verified TLS connection to PostgreSQL: {m}")),
        PgError::Server { code, message } if code.starts_with("42") => {
            ProviderError::Unauthorized(format!("the admin role may not do this: {message} (SQLSTATE {code})"))
        }
        other => ProviderError::Rejected(other.to_string()),
    }
}

/// `"name"`, with quotes doubled.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Provider for PostgresRole {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "postgres-role".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Passwords of PostgreSQL login roles (single, or two alternating roles), sent as SCRAM-SHA-256 verifiers".into(),
            config: vec![
                text("host", "IP address of the PostgreSQL server").required(),
                ConfigField::new("port", FieldType::Integer, "Port of the server").default_value("5432"),
                text("database", "Database to connect to").default_value("postgres"),
                text("admin-user", "Role with CREATEROLE that changes the passwords").required(),
                text("admin-password", "Password of the admin role").secret(),
                text("strategy", "`single` (one role) or `alternating` (two roles taking turns)").default_value("single"),
                text("role", "The login role, for `single`"),
                text("roles", "The two login roles, comma-separated, for `alternating`"),
                text("revoke", "How a retired alternating role is shut: `password` (random, expired) or `nologin`").default_value("password"),
                text("secret-format", "What applications receive: `password` or `uri` (postgresql://role:password@host:port/db)").default_value("password"),
                ConfigField::new("length", FieldType::Integer, "Characters of a new password (alphanumeric)").default_value("40"),
                text("sslmode", "`disable`, or `verify-full` for TLS (`require` means the same: the host always verifies the certificate and the name)").default_value("disable"),
                text("tls-server-name", "The name the server's certificate carries, when it is not `host` (grant it to the credential)"),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: true,
                lists_keys: false,
            },
            permissions: Permissions { http_hosts: vec![], tcp: vec!["{host}:{port}".into()] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let server = Server::from(&ctx)?;
        let length = server.config.password_length()?;
        let mut admin = server.admin()?;
        let label = format!("rekey {}", ctx.rotation_id);
        let alternating = server.alternating()?;
        let role = if alternating {
            standby(&server, &mut admin, &label)?
        } else {
            server.config.required("role")?.to_string()
        };
        let password = random_secret(length, Encoding::Alphanumeric);
        let verifier = scram_sha_256(password.as_bytes());
        let mut sql =
            format!("ALTER ROLE {} WITH LOGIN PASSWORD {} VALID UNTIL 'infinity'", ident(&role), literal(&verifier));
        if alternating {
            // One simple query is one transaction: the role is enabled and
            // labelled together, or neither.
            sql += &format!("; COMMENT ON ROLE {} IS {}", ident(&role), literal(&label));
        }
        admin.query(&sql).map_err(network)?;
        Ok(Credential {
            key_id: format!("{role}#{}", &hex::encode(Sha256::digest(password.as_bytes()))[..16]),
            secret: server.secret(&role, &password)?,
            attributes: vec![Pair { key: "role".into(), value: role }],
            expires_at: None,
        })
    }

    fn verify(ctx: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        let server = Server::from(&ctx)?;
        let role = login::account(&credential, "role", None);
        Ok(
            match Session::open(&server.address, server.tls, role, login::password(&credential.secret), server.database)
            {
                Ok(_) => Verification { valid: true, detail: Some(format!("logged in as `{role}`")), last_used: None },
                Err(e) if e.is_auth() => Verification {
                    valid: false,
                    detail: Some(format!("PostgreSQL refused the password: {e}")),
                    last_used: None,
                },
                Err(e) => return Err(network(e)),
            },
        )
    }

    fn revoke(ctx: CallContext, credential: Credential) -> Result<(), ProviderError> {
        let server = Server::from(&ctx)?;
        if !server.alternating()? {
            // The old password was replaced when the new one was set.
            return Ok(());
        }
        let role = login::account(&credential, "role", None);
        let unknown = scram_sha_256(random_secret(40, Encoding::Alphanumeric).as_bytes());
        let shut = match server.config.get("revoke").unwrap_or("password") {
            "nologin" => "NOLOGIN ",
            "password" => "",
            other => {
                return Err(ProviderError::InvalidConfig(format!(
                    "`revoke` must be `password` or `nologin`, got `{other}`"
                )));
            }
        };
        let sql =
            format!("ALTER ROLE {} WITH {shut}PASSWORD {} VALID UNTIL '-infinity'", ident(role), literal(&unknown));
        server.admin()?.query(&sql).map_err(network)?;
        Ok(())
    }

    fn list_keys(_ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        Err(rekey_sdk::cannot_list())
    }
}

/// The alternating role whose turn it is: the one an earlier call for this
/// rotation (`label`) enabled, or else the one that cannot log in now.
fn standby(server: &Server<'_>, admin: &mut Session, label: &str) -> Result<String, ProviderError> {
    let roles: Vec<&str> =
        server.config.required("roles")?.split(',').map(str::trim).filter(|r| !r.is_empty()).collect();
    let [a, b] = roles[..] else {
        return Err(ProviderError::InvalidConfig(
            "`roles` must name exactly two roles, e.g. `app_blue,app_green`".into(),
        ));
    };
    let sql = format!(
        "SELECT rolname, rolcanlogin AND COALESCE(rolvaliduntil > now(), true), shobj_description(oid, 'pg_authid') = {}
         FROM pg_roles WHERE rolname IN ({}, {}) ORDER BY rolname",
        literal(label),
        literal(a),
        literal(b)
    );
    let rows = admin.query(&sql).map_err(network)?;
    if rows.len() != 2 {
        return Err(ProviderError::NotFound(format!("the roles `{a}` and `{b}` must both exist; create them first")));
    }
    if let Some(row) = rows.iter().find(|row| row.get(2).and_then(|v| v.as_deref()) == Some("t")) {
        return Ok(row[0].clone().unwrap_or_default());
    }
    let active = |row: &Vec<Option<String>>| row.get(1).and_then(|v| v.as_deref()) == Some("t");
    match rows.iter().find(|row| !active(row)) {
        Some(row) => Ok(row[0].clone().unwrap_or_default()),
        None => Err(ProviderError::Rejected(format!(
            "both `{a}` and `{b}` can log in, so neither is the standby; retire the one not in use (ALTER ROLE … NOLOGIN)"
        ))),
    }
}

rekey_sdk::export_provider!(PostgresRole);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted_against_injection() {
        assert_eq!(ident(r#"app"; DROP TABLE x; --"#), r#""app""; DROP TABLE x; --""#);
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn a_verifier_never_contains_the_password() {
        let verifier = scram_sha_256(b"correct-horse");
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:") && !verifier.contains("correct-horse"));
    }
}
