//! The `sendgrid-api-key` provider: Twilio SendGrid API keys.
//!
//! - `generate`: `POST /v3/api_keys` with the name `KEY-NAME rekey
//!   ROTATION-ID` and the scopes of the key being replaced (read with `GET
//!   /v3/api_keys/{id}` from the newest key of this credential), or the
//!   configured `scopes`. SendGrid returns a key's secret only when it is
//!   made, so generate cannot be idempotent: a key made by a generate whose
//!   answer was lost is found by `list-keys` (its name carries the rotation
//!   id) and revoked by reconciliation.
//! - `verify`: `GET /v3/scopes` with the key itself.
//! - `revoke`: `DELETE /v3/api_keys/{id}` (404: already gone).
//! - `list-keys`: `GET /v3/api_keys`, only the keys named `KEY-NAME rekey …`:
//!   other keys of the account are never this credential's.
//!
//! The admin key is a placeholder secret: the plugin only holds
//! `{{secret:admin-key}}`, which the host fills in on the way to SendGrid.

use rekey_sdk::http::{Request, Response};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use serde_json::{Value, json};

/// The provider; see the crate documentation.
pub struct SendGrid;

/// One call's settings.
struct Account<'a> {
    api: &'a str,
    /// Every key of this credential is named `{prefix}{rotation id}`.
    prefix: String,
    subuser: Option<&'a str>,
    config: Config<'a>,
}

impl<'a> Account<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let name = config.required("key-name")?;
        Ok(Self {
            api: config.get("api-url").unwrap_or("https://api.sendgrid.com").trim_end_matches('/'),
            prefix: format!("{name} rekey "),
            subuser: config.get("subuser"),
            config,
        })
    }

    /// A request with the admin key (and the subuser, if any).
    fn admin(&self, method: &str, path: &str) -> Request {
        let request =
            Request::new(method, &format!("{}{path}", self.api)).header("authorization", "Bearer {{secret:admin-key}}");
        match self.subuser {
            Some(subuser) => request.header("on-behalf-of", subuser),
            None => request,
        }
    }

    /// This credential's keys: `(id, name)`, as SendGrid lists them.
    fn keys(&self) -> Result<Vec<(String, String)>, ProviderError> {
        let listed = answer(self.admin("GET", "/v3/api_keys").send_any_status()?, "list the API keys")?;
        let keys = listed["result"].as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(keys
            .iter()
            .filter_map(|key| Some((key["api_key_id"].as_str()?.to_string(), key["name"].as_str()?.to_string())))
            .filter(|(_, name)| name.starts_with(&self.prefix))
            .collect())
    }

    /// The scopes a new key gets: the configured ones, or those of a key of
    /// this credential (the one being replaced), or of `copy-scopes-from`.
    fn scopes(&self) -> Result<Vec<String>, ProviderError> {
        if let Some(scopes) = self.config.get("scopes") {
            return Ok(scopes.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect());
        }
        let from = match self.keys()?.pop() {
            Some((id, _)) => id,
            None => self.config.get("copy-scopes-from").map(String::from).ok_or_else(|| {
                ProviderError::InvalidConfig(format!(
                    "no key named `{}…` exists to copy scopes from: give `scopes` (or `copy-scopes-from`, a key's \
                     id) for the first key, since a key made without scopes would have full access",
                    self.prefix
                ))
            })?,
        };
        let key = answer(self.admin("GET", &format!("/v3/api_keys/{from}")).send_any_status()?, "read a key's scopes")?;
        // The description answers `{"result": [{…, "scopes"}]}`; SendGrid's
        // documentation shows the object itself: both are read.
        let found = key["result"][0]["scopes"].as_array().or(key["scopes"].as_array());
        let scopes: Vec<String> = found.into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect();
        if scopes.is_empty() {
            return Err(ProviderError::Rejected(format!("the key {from} has no scopes to copy")));
        }
        Ok(scopes)
    }
}

/// A SendGrid answer's JSON (none for 204), or the failure as a provider
/// error with SendGrid's message.
fn answer(response: Response, what: &str) -> Result<Value, ProviderError> {
    response.expect_json(&format!("SendGrid: {what}"))
}

impl Provider for SendGrid {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "sendgrid-api-key".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Twilio SendGrid API keys, each made with the scopes of the key it replaces".into(),
            config: vec![
                text("key-name", "What the keys are for; each is named `KEY-NAME rekey ROTATION-ID`").required(),
                text("scopes", "The new key's scopes, comma-separated (default: those of the key it replaces)"),
                text("copy-scopes-from", "A key's id whose scopes the first key gets, when `scopes` is not given"),
                text("subuser", "Act for this subuser (the on-behalf-of header)"),
                ConfigField::new("api-url", FieldType::Url, "The API (EU subusers: https://api.eu.sendgrid.com)")
                    .default_value("https://api.sendgrid.com"),
                ConfigField::new("admin-key", FieldType::Text, "An API key with the api_keys scopes").placeholder(),
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
        let body = json!({ "name": format!("{}{}", account.prefix, ctx.rotation_id), "scopes": account.scopes()? });
        let created = answer(account.admin("POST", "/v3/api_keys").json(&body).send_any_status()?, "create a key")?;
        let (Some(id), Some(secret)) = (created["api_key_id"].as_str(), created["api_key"].as_str()) else {
            return Err(ProviderError::Rejected("SendGrid's answer has no api_key_id or api_key".into()));
        };
        Ok(Credential { key_id: id.into(), secret: secret.into(), attributes: vec![], expires_at: None })
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let account = Account::from(&ctx)?;
        let response =
            Request::new("GET", &format!("{}/v3/scopes", account.api)).bearer(&key.secret).send_any_status()?;
        match response.status() {
            401 | 403 => Ok(Verification::invalid(format!("SendGrid refused the key ({})", response.status()))),
            _ => {
                let scopes = answer(response, "read the key's scopes")?;
                Ok(Verification::valid(format!("{} scopes", scopes["scopes"].as_array().map_or(0, Vec::len))))
            }
        }
    }

    fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
        let account = Account::from(&ctx)?;
        let response = account.admin("DELETE", &format!("/v3/api_keys/{}", key.key_id)).send_any_status()?;
        rekey_sdk::done_if_gone(answer(response, "delete the key"))
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let account = Account::from(&ctx)?;
        Ok(account.keys()?.into_iter().map(|(key_id, name)| KeySummary::tagged(key_id, name)).collect())
    }
}

rekey_sdk::export_provider!(SendGrid);
