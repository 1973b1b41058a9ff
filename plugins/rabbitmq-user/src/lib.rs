//! The `rabbitmq-user` provider: the password of a RabbitMQ user, through
//! the management HTTP API, in one of two strategies.
//!
//! - `single`: `generate` sets a new password on the one user; the old one
//!   stops working at once.
//! - `alternating`: two users take turns. `generate` gives the *standby*
//!   (the one that cannot log in with a password, or does not exist yet) a
//!   new password, the other's tags, and the other's permissions and topic
//!   permissions in every vhost; applications move to it stage by stage
//!   while the active user keeps working; `revoke` removes the old user's
//!   password, so it is the standby next time.
//!
//! `verify` logs in as the user with the new password (`/api/whoami`).
//! `generate` is idempotent per rotation: the user it chose carries the tag
//! `rekey-<rotation id>` until its key is revoked, and a second call for the
//! same rotation picks that user again and sets another password, so a lost
//! answer leaves no password rekey does not hold.

mod api;

use api::{Api, User};
use rekey_sdk::login;
use rekey_sdk::secret::{Encoding, random_secret};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use sha2::{Digest, Sha256};

/// The provider; see the crate documentation.
pub struct RabbitmqUser;

/// The prefix of the tag that marks the user a rotation chose.
const LABEL: &str = "rekey-";

/// One call's settings.
struct Broker<'a> {
    api: Api<'a>,
    config: Config<'a>,
}

impl<'a> Broker<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let api = Api::new(config.required("url")?, config.required("admin-user")?, config.secret("admin-password")?);
        Ok(Self { api, config })
    }

    /// The two users of `alternating`, or `None` for `single`.
    fn pair(&self) -> Result<Option<(&'a str, &'a str)>, ProviderError> {
        match self.config.get("strategy").unwrap_or("single") {
            "single" => Ok(None),
            "alternating" => self.config.pair("users").map(Some),
            other => Err(ProviderError::InvalidConfig(format!(
                "`strategy` must be `single` or `alternating`, got `{other}`"
            ))),
        }
    }

    /// What applications receive: the password, or an AMQP URI that also
    /// names the user (as alternating needs).
    fn secret(&self, user: &str, password: &str) -> Result<String, ProviderError> {
        match self.config.get("secret-format").unwrap_or("password") {
            "password" => Ok(password.to_string()),
            "uri" => {
                let base = self.config.required("amqp-uri")?;
                let (scheme, rest) = base.split_once("://").ok_or_else(|| {
                    ProviderError::InvalidConfig(format!(
                        "`amqp-uri` must look like amqp://host:5672/vhost, got `{base}`"
                    ))
                })?;
                Ok(format!("{scheme}://{user}:{password}@{rest}"))
            }
            other => {
                Err(ProviderError::InvalidConfig(format!("`secret-format` must be `password` or `uri`, got `{other}`")))
            }
        }
    }
}

/// A user's tags without rekey's rotation labels.
fn own_tags(user: Option<&User>) -> Vec<String> {
    user.map(|u| u.tags.iter().filter(|t| !t.starts_with(LABEL)).cloned().collect()).unwrap_or_default()
}

/// Whether a user can log in with a password.
fn has_password(user: &Option<User>) -> bool {
    user.as_ref().is_some_and(|u| !u.password_hash.is_empty())
}

impl Provider for RabbitmqUser {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "rabbitmq-user".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Passwords of RabbitMQ users, through the management API (single, or two alternating users with their permissions copied)".into(),
            config: vec![
                ConfigField::new("url", FieldType::Url, "The management API, e.g. https://10.0.0.5:15671").required(),
                text("admin-user", "A user tagged `administrator` that manages the users").required(),
                text("admin-password", "Its password").secret(),
                text("strategy", "`single` (one user) or `alternating` (two users taking turns)").default_value("single"),
                text("user", "The user, for `single`"),
                text("users", "The two users, comma-separated, for `alternating`"),
                text("secret-format", "What applications receive: `password` or `uri` (an AMQP URI naming the user)").default_value("password"),
                text("amqp-uri", "The AMQP URI without credentials, for `uri`, e.g. amqps://10.0.0.5:5671/%2F"),
                ConfigField::new("length", FieldType::Integer, "Characters of a new password (alphanumeric)").default_value("40"),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: true,
                lists_keys: false,
            },
            permissions: Permissions { http_hosts: vec!["{url}".into()], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let broker = Broker::from(&ctx)?;
        let length = broker.config.password_length()?;
        let password = random_secret(length, Encoding::Alphanumeric);
        let label = format!("{LABEL}{}", ctx.rotation_id);
        let user = match broker.pair()? {
            None => {
                let user = broker.config.required("user")?;
                let existing = broker.api.user(user)?.ok_or_else(|| {
                    ProviderError::NotFound(format!("the RabbitMQ user `{user}` does not exist; create it first"))
                })?;
                broker.api.put_user(user, Some(&password), &own_tags(Some(&existing)))?;
                user
            }
            Some((a, b)) => {
                let (user_a, user_b) = (broker.api.user(a)?, broker.api.user(b)?);
                let labelled = |u: &Option<User>| u.as_ref().is_some_and(|u| u.tags.contains(&label));
                let (target, active) = if labelled(&user_a) {
                    ((a, &user_a), (b, &user_b))
                } else if labelled(&user_b) {
                    ((b, &user_b), (a, &user_a))
                } else if !has_password(&user_a) {
                    ((a, &user_a), (b, &user_b))
                } else if !has_password(&user_b) {
                    ((b, &user_b), (a, &user_a))
                } else {
                    return Err(ProviderError::Rejected(format!(
                        "both `{a}` and `{b}` can log in, so neither is the standby: let the rotation in its grace period end (or revoke the old key) first"
                    )));
                };
                let Some(active_user) = active.1 else {
                    return Err(ProviderError::NotFound(format!(
                        "the RabbitMQ user `{}` does not exist: create the user applications use now, and name it in `users`",
                        active.0
                    )));
                };
                let mut tags = own_tags(Some(active_user));
                tags.push(label);
                broker.api.put_user(target.0, Some(&password), &tags)?;
                broker.api.copy_permissions(active.0, target.0)?;
                target.0
            }
        };
        Ok(Credential {
            key_id: format!("{user}#{}", &hex::encode(Sha256::digest(password.as_bytes()))[..16]),
            attributes: vec![Pair { key: "user".into(), value: user.into() }],
            secret: broker.secret(user, &password)?,
            expires_at: None,
        })
    }

    fn verify(ctx: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        let broker = Broker::from(&ctx)?;
        let user = login::account(&credential, "user", broker.config.get("user"));
        Ok(match broker.api.logs_in(user, login::password(&credential.secret))? {
            Ok(()) => Verification { valid: true, detail: Some(format!("logged in as `{user}`")), last_used: None },
            Err(detail) => Verification { valid: false, detail: Some(detail), last_used: None },
        })
    }

    fn revoke(ctx: CallContext, credential: Credential) -> Result<(), ProviderError> {
        let broker = Broker::from(&ctx)?;
        let user = login::account(&credential, "user", broker.config.get("user"));
        // A password that no longer logs in was replaced already: the user
        // may hold a newer key now, which must keep working.
        if credential.secret.is_empty() || broker.api.logs_in(user, login::password(&credential.secret))?.is_err() {
            return Ok(());
        }
        let existing = broker.api.user(user)?;
        broker.api.put_user(user, None, &own_tags(existing.as_ref()))
    }

    fn list_keys(_: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        Err(rekey_sdk::cannot_list())
    }
}

rekey_sdk::export_provider!(RabbitmqUser);
