//! {{name}}: a rekey provider for a service reached over TCP with its own
//! wire protocol. The template speaks Redis's (RESP): each key is a
//! password of an ACL user, which Redis lets hold several at once, so the
//! old password keeps working until rekey revokes it. Change the protocol
//! and the commands to your service's.
//!
//! TCP goes through the host: the plugin declares `{host}:{port}` and can
//! reach nothing else; the sandbox does no name lookups, so `host` is an IP
//! address. An admin secret sent over TCP cannot be a placeholder (the
//! host fills those into HTTP requests only): the plugin holds it for the
//! call, and the host masks it in everything the plugin prints.
//!
//! Build with `cargo build --target wasm32-wasip2 --release`, then check it
//! against a real server with `rekey plugin test`.

use rekey_sdk::secret::{Encoding, random_secret};
use rekey_sdk::tcp::TcpStream;
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use std::io::{BufRead, BufReader, Write};

/// The provider.
pub struct Plugin;

impl Provider for Plugin {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Passwords of a Redis ACL user".into(),
            config: vec![
                ConfigField::new("host", FieldType::Text, "IP address of the server").required(),
                ConfigField::new("port", FieldType::Integer, "Port of the server").default_value("6379"),
                ConfigField::new("user", FieldType::Text, "The ACL user whose password is rotated").required(),
                ConfigField::new("admin-user", FieldType::Text, "User allowed to run ACL SETUSER")
                    .default_value("default"),
                ConfigField::new("admin-password", FieldType::Text, "Password of the admin user").secret(),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: false,
            },
            permissions: Permissions { http_hosts: vec![], tcp: vec!["{host}:{port}".into()] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let server = Server::new(&ctx)?;
        let password = random_secret(40, Encoding::Alphanumeric);
        server.admin()?.command(&["ACL", "SETUSER", server.user, "on", &format!(">{password}")])?;
        let key_id = format!("{}#{}", server.user, random_secret(8, Encoding::Hex));
        Ok(Credential { key_id, secret: password, attributes: vec![], expires_at: None })
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let server = Server::new(&ctx)?;
        let valid = match server.connect()?.command(&["AUTH", server.user, &key.secret]) {
            Ok(_) => true,
            Err(ProviderError::Unauthorized(_)) => false,
            Err(other) => return Err(other),
        };
        Ok(Verification { valid, detail: None, last_used: None })
    }

    fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
        let server = Server::new(&ctx)?;
        if key.secret.is_empty() {
            return Err(ProviderError::Rejected("a password is removed by its value, which this key lacks".into()));
        }
        match server.admin()?.command(&["ACL", "SETUSER", server.user, &format!("<{}", key.secret)]) {
            // Already gone: revoking twice is not an error.
            Err(ProviderError::Rejected(error)) if error.contains("does not exist") => Ok(()),
            other => other.map(drop),
        }
    }

    fn list_keys(_ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        Err(rekey_sdk::cannot_list())
    }
}

rekey_sdk::export_provider!(Plugin);

/// The configured server.
struct Server<'a> {
    address: String,
    user: &'a str,
    admin_user: &'a str,
    admin_password: &'a str,
}

impl<'a> Server<'a> {
    fn new(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        Ok(Self {
            address: format!("{}:{}", config.required("host")?, config.get("port").unwrap_or("6379")),
            user: config.required("user")?,
            admin_user: config.get("admin-user").unwrap_or("default"),
            admin_password: config.secret("admin-password")?,
        })
    }

    fn connect(&self) -> Result<Connection, ProviderError> {
        let stream = TcpStream::connect(&self.address)
            .map_err(|e| ProviderError::Unavailable(format!("cannot connect to {}: {e}", self.address)))?;
        Ok(Connection(BufReader::new(stream)))
    }

    /// A connection authenticated as the admin.
    fn admin(&self) -> Result<Connection, ProviderError> {
        let mut connection = self.connect()?;
        connection.command(&["AUTH", self.admin_user, self.admin_password])?;
        Ok(connection)
    }
}

/// One connection, speaking RESP.
struct Connection(BufReader<TcpStream>);

impl Connection {
    /// Sends a command and reads a one-line reply: its text, or the error
    /// it stands for.
    fn command(&mut self, parts: &[&str]) -> Result<String, ProviderError> {
        let lost = |e: std::io::Error| ProviderError::Unavailable(format!("the connection failed: {e}"));
        self.0.get_mut().write_all(&encode(parts)).map_err(lost)?;
        let mut line = String::new();
        self.0.read_line(&mut line).map_err(lost)?;
        parse_reply(line.trim_end())
    }
}

/// A command as a RESP array of bulk strings.
fn encode(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend(format!("${}\r\n", part.len()).bytes());
        out.extend(part.bytes());
        out.extend(b"\r\n");
    }
    out
}

/// A simple reply (`+OK`), or the error a `-` reply means. The message is
/// Redis's own, which never repeats a password.
fn parse_reply(line: &str) -> Result<String, ProviderError> {
    match line.split_at_checked(1) {
        Some(("+", text)) => Ok(text.into()),
        Some(("-", error)) if error.starts_with("WRONGPASS") || error.starts_with("NOAUTH") => {
            Err(ProviderError::Unauthorized(error.into()))
        }
        Some(("-", error)) => Err(ProviderError::Rejected(error.into())),
        _ => Err(ProviderError::Unavailable(format!("unexpected reply `{line}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_an_array_of_bulk_strings() {
        assert_eq!(encode(&["AUTH", "app", "pw"]), b"*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$2\r\npw\r\n");
    }

    #[test]
    fn a_refused_password_is_unauthorized_and_other_errors_are_rejections() {
        assert_eq!(parse_reply("+OK").unwrap(), "OK");
        assert!(matches!(parse_reply("-WRONGPASS invalid username-password pair"), Err(ProviderError::Unauthorized(_))));
        assert!(matches!(parse_reply("-ERR unknown command"), Err(ProviderError::Rejected(_))));
    }
}
