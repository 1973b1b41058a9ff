//! The `datadog-key` provider: Datadog API keys, or the admin user's
//! application keys (`kind = "application"`), through Key Management v2.
//!
//! - `generate`: a key named `KEY-NAME rekey ROTATION-ID` is looked for
//!   first (`GET …?filter=…`), and when one exists its value is read back
//!   (`GET …/{id}`, which Datadog answers with the key): a retried generate
//!   returns the key already made (`idempotent-generate`). An application
//!   key of an organisation in one-time read mode comes back without its
//!   value: it is deleted and made again, so there is still one key per
//!   rotation. Otherwise `POST`.
//! - `verify`: with the key itself. An API key: `GET /api/v2/validate`,
//!   which must name this key's id. An application key: reading itself
//!   (`GET …/application_keys/{id}`) with it. Its last use comes from the
//!   key's `date_last_used` (`last_used_at` for an application key).
//! - `revoke`: `DELETE …/{id}` (404: already gone).
//! - `list-keys`: the keys named `KEY-NAME rekey …`, page by page.
//!
//! The admin's API and application keys are placeholders: the plugin only
//! holds `{{secret:…}}`, which the host fills in on the way to Datadog.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rekey_sdk::http::{Request, Response};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use serde_json::{Value, json};

/// The provider; see the crate documentation.
pub struct Datadog;

/// Keys read per page, and at most this many pages.
const PAGE: usize = 100;
const PAGES: usize = 20;

/// Which keys: the organisation's API keys, or the admin user's
/// application keys.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Api,
    Application,
}

impl Kind {
    /// The collection's path.
    fn path(self) -> &'static str {
        match self {
            Kind::Api => "/api/v2/api_keys",
            Kind::Application => "/api/v2/current_user/application_keys",
        }
    }

    /// The JSON:API type of its keys.
    fn type_name(self) -> &'static str {
        match self {
            Kind::Api => "api_keys",
            Kind::Application => "application_keys",
        }
    }

    /// The attribute holding a key's last use.
    fn last_used(self) -> &'static str {
        match self {
            Kind::Api => "date_last_used",
            Kind::Application => "last_used_at",
        }
    }
}

/// One call's settings.
struct Org<'a> {
    api: &'a str,
    kind: Kind,
    /// Every key of this credential is named `{prefix}{rotation id}`.
    prefix: String,
}

impl<'a> Org<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let kind = match config.get("kind").unwrap_or("api") {
            "api" => Kind::Api,
            "application" => Kind::Application,
            other => {
                return Err(ProviderError::InvalidConfig(format!("kind `{other}`: use `api` or `application`")));
            }
        };
        Ok(Self {
            api: config.get("api-url").unwrap_or("https://api.datadoghq.com").trim_end_matches('/'),
            kind,
            prefix: format!("{} rekey ", config.required("key-name")?),
        })
    }

    /// A request as the admin (its API and application keys).
    fn admin(&self, method: &str, path: &str) -> Request {
        Request::new(method, &format!("{}{path}", self.api))
            .header("dd-api-key", "{{secret:admin-api-key}}")
            .header("dd-application-key", "{{secret:admin-application-key}}")
            .header("accept", "application/json")
    }

    /// This credential's keys whose name contains `filter`, every page.
    fn keys(&self, filter: &str) -> Result<Vec<Value>, ProviderError> {
        let mut keys = Vec::new();
        let filter = utf8_percent_encode(filter, NON_ALPHANUMERIC);
        for page in 0..PAGES {
            let path = format!("{}?filter={filter}&page[size]={PAGE}&page[number]={page}", self.kind.path());
            let listed = answer(self.admin("GET", &path).send_any_status()?, "list the API keys")?;
            let data = listed["data"].as_array().cloned().unwrap_or_default();
            let full = data.len() == PAGE;
            keys.extend(data.into_iter().filter(|key| name(key).starts_with(&self.prefix)));
            if !full {
                return Ok(keys);
            }
        }
        Err(ProviderError::Rejected(format!("more than {} keys match: listing stopped", PAGE * PAGES)))
    }

    /// The key `id`, with its value (unless one-time read hides it).
    fn key(&self, id: &str) -> Result<Value, ProviderError> {
        let path = format!("{}/{id}", self.kind.path());
        Ok(answer(self.admin("GET", &path).send_any_status()?, "read a key")?["data"].take())
    }

    fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let response = self.admin("DELETE", &format!("{}/{id}", self.kind.path())).send_any_status()?;
        rekey_sdk::done_if_gone(answer(response, "delete the key"))
    }
}

fn name(key: &Value) -> &str {
    key["attributes"]["name"].as_str().unwrap_or_default()
}

/// A time of the vendor's (RFC 3339) as Unix seconds.
fn seconds(time: &Value) -> Option<u64> {
    rekey_sdk::time::unix_seconds(time.as_str()?)
}

/// The key a Datadog answer holds, or why not.
fn credential(key: &Value) -> Result<Credential, ProviderError> {
    match (key["id"].as_str(), key["attributes"]["key"].as_str()) {
        (Some(id), Some(secret)) => {
            Ok(Credential { key_id: id.into(), secret: secret.into(), attributes: vec![], expires_at: None })
        }
        _ => Err(ProviderError::Rejected("Datadog's answer has no key id or key".into())),
    }
}

/// A Datadog answer's JSON (none for 204), or the failure as a provider
/// error with Datadog's message.
fn answer(response: Response, what: &str) -> Result<Value, ProviderError> {
    response.expect_json(&format!("Datadog: {what}"))
}

impl Provider for Datadog {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "datadog-key".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Datadog API keys, made idempotently per rotation".into(),
            config: vec![
                text("key-name", "What the keys are for; each is named `KEY-NAME rekey ROTATION-ID`").required(),
                text("kind", "api (the organisation's API keys) or application (the admin user's application keys)")
                    .default_value("api"),
                ConfigField::new("api-url", FieldType::Url, "The site's API, e.g. https://api.datadoghq.eu")
                    .default_value("https://api.datadoghq.com"),
                text("admin-api-key", "An API key of the organisation").placeholder(),
                text("admin-application-key", "An application key with api_keys_read and api_keys_write").placeholder(),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: true,
                idempotent_generate: true,
                lists_keys: true,
            },
            permissions: Permissions { http_hosts: vec!["{api-url}".into()], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let org = Org::from(&ctx)?;
        let wanted = format!("{}{}", org.prefix, ctx.rotation_id);
        if let Some(made) = org.keys(&wanted)?.iter().find(|key| name(key) == wanted) {
            let id = made["id"].as_str().unwrap_or_default();
            let found = org.key(id)?;
            if found["attributes"]["key"].is_string() {
                return credential(&found);
            }
            // One-time read: this rotation's key cannot be read back, so it
            // goes, and the rotation gets a new one.
            org.delete(id)?;
        }
        let body = json!({ "data": { "type": org.kind.type_name(), "attributes": { "name": wanted } } });
        let created = answer(org.admin("POST", org.kind.path()).json(&body).send_any_status()?, "create a key")?;
        credential(&created["data"])
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let org = Org::from(&ctx)?;
        let request = match org.kind {
            Kind::Api => Request::new("GET", &format!("{}/api/v2/validate", org.api)).header("dd-api-key", &key.secret),
            Kind::Application => Request::new("GET", &format!("{}{}/{}", org.api, org.kind.path(), key.key_id))
                .header("dd-api-key", "{{secret:admin-api-key}}")
                .header("dd-application-key", &key.secret),
        };
        let response = request.header("accept", "application/json").send_any_status()?;
        if matches!(response.status(), 401 | 403) {
            return Ok(Verification::invalid(format!("Datadog refused the key ({})", response.status())));
        }
        let answered = answer(response, "use the key")?;
        let attributes = &answered["data"]["attributes"];
        let itself = match org.kind {
            Kind::Api => attributes["valid"] == true && attributes["api_key_id"].as_str() == Some(&key.key_id),
            Kind::Application => answered["data"]["id"].as_str() == Some(&key.key_id),
        };
        if !itself {
            return Ok(Verification::invalid("Datadog took the key as another key, or not at all"));
        }
        let last_used = seconds(&org.key(&key.key_id)?["attributes"][org.kind.last_used()]);
        Ok(Verification { last_used, ..Verification::valid("Datadog takes it as this key") })
    }

    fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
        Org::from(&ctx)?.delete(&key.key_id)
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let org = Org::from(&ctx)?;
        Ok(org
            .keys(&org.prefix)?
            .iter()
            .filter_map(|key| {
                Some(KeySummary {
                    created_at: seconds(&key["attributes"]["created_at"]),
                    last_used: seconds(&key["attributes"][org.kind.last_used()]),
                    ..KeySummary::tagged(key["id"].as_str()?, name(key))
                })
            })
            .collect())
    }
}

rekey_sdk::export_provider!(Datadog);
