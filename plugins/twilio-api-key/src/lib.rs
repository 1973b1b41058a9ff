//! The `twilio-api-key` provider: standard API keys of a Twilio account.
//!
//! - `generate`: `POST /2010-04-01/Accounts/{AccountSid}/Keys.json` with the
//!   friendly name `KEY-NAME rekey ROTATION-ID`; the key's SID is the key id,
//!   its secret (returned only then) the secret.
//! - `verify`: an authenticated call made with the new key itself, `GET
//!   /2010-04-01/Accounts/{AccountSid}/Balance.json`, as its SID and secret
//!   (a standard key may not read the account or its keys).
//! - `revoke`: `DELETE …/Keys/{Sid}.json` (404: already gone).
//! - `list-keys`: `GET …/Keys.json`, every page, only the keys named
//!   `KEY-NAME rekey …`.
//!
//! Twilio authenticates with HTTP Basic (the account SID and its auth
//! token), which the plugin must encode itself: the auth token is a secret
//! the plugin sees, not a placeholder.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rekey_sdk::http::{Request, Response};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use serde_json::Value;

/// The provider; see the crate documentation.
pub struct Twilio;

/// Twilio's longest friendly name.
const NAME_CHARS: usize = 64;
/// At most this many pages of keys are read (50 keys each).
const PAGES: usize = 20;

/// One call's settings.
struct Account<'a> {
    api: &'a str,
    sid: &'a str,
    /// Every key of this credential is named `{prefix}{rotation id}`.
    prefix: String,
    authorization: String,
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

impl<'a> Account<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let sid = config.required("account-sid")?;
        if !(sid.len() == 34 && sid.starts_with("AC") && sid[2..].chars().all(|c| c.is_ascii_hexdigit())) {
            return Err(ProviderError::InvalidConfig(format!("account-sid `{sid}` is not AC and 32 hex digits")));
        }
        Ok(Self {
            api: config.get("api-url").unwrap_or("https://api.twilio.com").trim_end_matches('/'),
            sid,
            prefix: format!("{} rekey ", config.required("key-name")?),
            authorization: basic(sid, config.secret("auth-token")?),
        })
    }

    fn keys_url(&self) -> String {
        format!("{}/2010-04-01/Accounts/{}/Keys.json", self.api, self.sid)
    }

    fn admin(&self, method: &str, url: &str) -> Request {
        Request::new(method, url).header("authorization", &self.authorization).header("accept", "application/json")
    }

    /// This credential's keys, every page: `(sid, friendly name)`.
    fn keys(&self) -> Result<Vec<(String, String)>, ProviderError> {
        let mut keys = Vec::new();
        let mut url = format!("{}?PageSize=50", self.keys_url());
        for _ in 0..PAGES {
            let page = answer(self.admin("GET", &url).send_any_status()?, "list the API keys")?;
            for key in page["keys"].as_array().into_iter().flatten() {
                if let (Some(sid), Some(name)) = (key["sid"].as_str(), key["friendly_name"].as_str())
                    && name.starts_with(&self.prefix)
                {
                    keys.push((sid.to_string(), name.to_string()));
                }
            }
            match page["next_page_uri"].as_str() {
                Some(next) if !next.is_empty() => url = format!("{}{}", self.api, path_of(next)),
                _ => return Ok(keys),
            }
        }
        Err(ProviderError::Rejected(format!("the account has more than {} API keys: listing stopped", PAGES * 50)))
    }
}

/// The path and query of a page URI, asked of the configured API: Twilio
/// answers a relative URI, its description an absolute one.
fn path_of(uri: &str) -> &str {
    match uri.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None => uri,
    }
}

/// A Twilio answer's JSON (none for 204), or the failure as a provider
/// error with Twilio's message.
fn answer(response: Response, what: &str) -> Result<Value, ProviderError> {
    response.expect_json(&format!("Twilio: {what}"))
}

impl Provider for Twilio {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "twilio-api-key".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Standard API keys of a Twilio account".into(),
            config: vec![
                text("account-sid", "The account's SID (AC…)").required(),
                text("key-name", "What the keys are for; each is named `KEY-NAME rekey ROTATION-ID`").required(),
                ConfigField::new("api-url", FieldType::Url, "The API").default_value("https://api.twilio.com"),
                text("auth-token", "The account's auth token (HTTP Basic, which the plugin encodes)").secret(),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: true,
            },
            permissions: Permissions { http_hosts: vec!["{api-url}".into()], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let account = Account::from(&ctx)?;
        let name = format!("{}{}", account.prefix, ctx.rotation_id);
        if name.chars().count() > NAME_CHARS {
            return Err(ProviderError::InvalidConfig(format!(
                "the key's name `{name}` is longer than Twilio's {NAME_CHARS} characters: shorten key-name"
            )));
        }
        let body = format!("FriendlyName={}", utf8_percent_encode(&name, NON_ALPHANUMERIC));
        let request = account
            .admin("POST", &account.keys_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let created = answer(request.send_any_status()?, "create a key")?;
        let (Some(sid), Some(secret)) = (created["sid"].as_str(), created["secret"].as_str()) else {
            return Err(ProviderError::Rejected("Twilio's answer has no sid or secret".into()));
        };
        Ok(Credential { key_id: sid.into(), secret: secret.into(), attributes: vec![], expires_at: None })
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let account = Account::from(&ctx)?;
        let url = format!("{}/2010-04-01/Accounts/{}/Balance.json", account.api, account.sid);
        let response = Request::new("GET", &url)
            .header("authorization", &basic(&key.key_id, &key.secret))
            .header("accept", "application/json")
            .send_any_status()?;
        match response.status() {
            401 | 403 => Ok(Verification::invalid(format!("Twilio refused the key ({})", response.status()))),
            _ => {
                answer(response, "read the balance with the key")?;
                Ok(Verification::valid("it reads the balance"))
            }
        }
    }

    fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
        let account = Account::from(&ctx)?;
        let url = format!("{}/2010-04-01/Accounts/{}/Keys/{}.json", account.api, account.sid, key.key_id);
        rekey_sdk::done_if_gone(answer(account.admin("DELETE", &url).send_any_status()?, "delete the key"))
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let account = Account::from(&ctx)?;
        Ok(account.keys()?.into_iter().map(|(key_id, name)| KeySummary::tagged(key_id, name)).collect())
    }
}

rekey_sdk::export_provider!(Twilio);

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_uri_is_asked_of_the_configured_api_whether_relative_or_absolute() {
        let next = "/2010-04-01/Accounts/AC1/Keys.json?Page=1";
        assert_eq!(super::path_of(next), next);
        assert_eq!(super::path_of(&format!("https://api.twilio.com{next}")), next);
    }
}
