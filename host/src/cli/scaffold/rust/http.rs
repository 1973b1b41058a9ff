//! {{name}}: a rekey provider for a key API over HTTP.
//!
//! The API this template speaks (change it to yours):
//! - `POST {base-url}{keys-path}` with the admin token, body
//!   `{"name": "rekey <rotation id>"}`, answers `{"id": "…", "secret": "…"}`;
//! - `GET {base-url}{verify-path}` with the key as bearer token answers
//!   200 when the key works, 401 or 403 when it does not;
//! - `DELETE {base-url}{keys-path}/<id>` with the admin token (404: gone);
//! - `GET {base-url}{keys-path}` with the admin token lists the keys:
//!   `[{"id": "…", "name": "…"}]`.
//!
//! Build with `cargo build --target wasm32-wasip2 --release`, then check it
//! against the real API with `rekey plugin test`.

use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification, http,
};
use serde_json::Value;

/// The provider.
pub struct Plugin;

impl Provider for Plugin {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "API keys of a service with a key API over HTTP".into(),
            config: vec![
                ConfigField::new("base-url", FieldType::Url, "Base URL of the API, e.g. https://api.example.com")
                    .required(),
                ConfigField::new("keys-path", FieldType::Text, "Path of the keys collection").default_value("/keys"),
                ConfigField::new("verify-path", FieldType::Text, "Path that answers 200 to a working key")
                    .default_value("/me"),
                // A placeholder never enters the sandbox: the plugin sees
                // `{{secret:admin-token}}` and the host fills in the value
                // on the way out.
                ConfigField::new("admin-token", FieldType::Text, "Token allowed to create and delete keys")
                    .placeholder(),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: true,
            },
            permissions: Permissions { http_hosts: vec!["{base-url}".into()], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let api = Api::new(&ctx)?;
        let body = serde_json::json!({ "name": format!("rekey {}", ctx.rotation_id) });
        let created: Value = http::Request::post(&api.keys()).bearer(api.admin).json(&body).send()?.json()?;
        parse_created(&created)
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let api = Api::new(&ctx)?;
        let status = http::Request::get(&api.url(api.verify_path)).bearer(&key.secret).send_any_status()?.status();
        match status {
            200..=299 => Ok(Verification { valid: true, detail: None, last_used: None }),
            401 | 403 => Ok(Verification { valid: false, detail: Some(format!("the API answered {status}")), last_used: None }),
            _ => Err(ProviderError::Unavailable(format!("verify answered {status}"))),
        }
    }

    fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
        let api = Api::new(&ctx)?;
        let url = format!("{}/{}", api.keys(), key.key_id);
        // Already gone: revoking twice is not an error.
        rekey_sdk::done_if_gone(http::Request::delete(&url).bearer(api.admin).send())
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let api = Api::new(&ctx)?;
        let listed: Value = http::Request::get(&api.keys()).bearer(api.admin).send()?.json()?;
        parse_listed(&listed)
    }
}

rekey_sdk::export_provider!(Plugin);

/// The configured API.
struct Api<'a> {
    base: &'a str,
    keys_path: &'a str,
    verify_path: &'a str,
    admin: &'a str,
}

impl<'a> Api<'a> {
    fn new(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        Ok(Self {
            base: config.required("base-url")?.trim_end_matches('/'),
            keys_path: config.get("keys-path").unwrap_or("/keys"),
            verify_path: config.get("verify-path").unwrap_or("/me"),
            admin: config.secret("admin-token")?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn keys(&self) -> String {
        self.url(self.keys_path)
    }
}

/// The key in a create's answer.
fn parse_created(created: &Value) -> Result<Credential, ProviderError> {
    let field = |name: &str| {
        created[name].as_str().map(String::from).ok_or_else(|| {
            ProviderError::Rejected(format!("the create answer has no string `{name}`"))
        })
    };
    Ok(Credential { key_id: field("id")?, secret: field("secret")?, attributes: vec![], expires_at: None })
}

/// The keys in a listing, each with the name `generate` gave it (which
/// holds the rotation id).
fn parse_listed(listed: &Value) -> Result<Vec<KeySummary>, ProviderError> {
    let keys = listed.as_array().ok_or_else(|| ProviderError::Rejected("the listing is not an array".into()))?;
    Ok(keys
        .iter()
        .filter_map(|key| {
            Some(KeySummary {
                key_id: key["id"].as_str()?.into(),
                tag: key["name"].as_str().map(String::from),
                created_at: key["created"].as_u64(),
                last_used: None,
                attributes: vec![],
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekey_sdk::Pair;
    use rekey_sdk::testing::Host;

    const KEYS: &str = "https://api.example.com/keys";

    /// A call for rotation `r-1` against api.example.com.
    fn context() -> CallContext {
        let pair = |key: &str, value: &str| Pair { key: key.into(), value: value.into() };
        CallContext {
            rotation_id: "r-1".into(),
            config: vec![pair("base-url", "https://api.example.com")],
            admin_secrets: vec![pair("admin-token", "{{secret:admin-token}}")],
        }
    }

    #[test]
    fn generate_creates_a_key_named_after_the_rotation_with_the_admin_token() {
        let host = Host::new().respond("POST", KEYS, 201, r#"{"id": "k1", "secret": "s3cret"}"#);
        let key = Plugin::generate(context()).unwrap();
        assert_eq!((key.key_id.as_str(), key.secret.as_str()), ("k1", "s3cret"));
        let sent = &host.requests()[0];
        // The placeholder goes out as is: the host puts the token in.
        assert_eq!(sent.header("authorization"), Some("Bearer {{secret:admin-token}}"));
        assert_eq!(sent.json()["name"], "rekey r-1");
    }

    #[test]
    fn a_refused_admin_token_is_unauthorized() {
        let _host = Host::new().respond("POST", KEYS, 401, "");
        assert!(matches!(Plugin::generate(context()), Err(ProviderError::Unauthorized(_))));
    }

    #[test]
    fn revoking_a_key_already_gone_succeeds() {
        let _host = Host::new().respond("DELETE", "https://api.example.com/keys/k1", 404, "");
        let key = Credential { key_id: "k1".into(), secret: String::new(), attributes: vec![], expires_at: None };
        assert!(Plugin::revoke(context(), key).is_ok());
    }

    #[test]
    fn a_create_answer_gives_the_key() {
        let key = parse_created(&serde_json::json!({ "id": "k1", "secret": "s3cret" })).unwrap();
        assert_eq!((key.key_id.as_str(), key.secret.as_str()), ("k1", "s3cret"));
        assert!(matches!(parse_created(&serde_json::json!({ "id": "k1" })), Err(ProviderError::Rejected(_))));
    }

    #[test]
    fn a_listing_keeps_each_keys_name_as_its_tag() {
        let listed = serde_json::json!([{ "id": "k1", "name": "rekey rot-1" }, { "name": "no id" }]);
        let keys = parse_listed(&listed).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].tag.as_deref(), Some("rekey rot-1"));
    }
}
