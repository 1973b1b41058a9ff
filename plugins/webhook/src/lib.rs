//! The `webhook` provider: rotates keys of any service whose API can create,
//! check and delete keys over HTTP, configured by request templates and JSON
//! pointers instead of code.
//!
//! - `generate`: `create-method base-url+create-path` with `create-body`,
//!   authenticated by `admin-header`; the key id and secret are read from
//!   the JSON response at `key-id-pointer` and `secret-pointer`.
//! - `verify`: `verify-method base-url+verify-path` authenticated with the
//!   *new* key through `verify-header`; 2xx means valid, 401/403 invalid.
//! - `revoke`: `revoke-method base-url+revoke-path`; a 404 counts as done.
//! - `list-keys`: `list-method base-url+list-path` (the create path by default,
//!   as REST APIs list where they create); each item of the array at
//!   `list-pointer` gives a key id at `list-id-pointer` and, at
//!   `list-tag-pointer`, the name `create-body` gave it, which carries the
//!   rotation id (`"rekey {rotation-id}"` by default). That is how the host
//!   finds a key whose creation it never heard back from.
//!
//! Templates take `{rotation-id}`, `{key-id}`, `{secret}`, `{admin-token}`
//! and any config field as `{field}`. Values are JSON-escaped in bodies and
//! percent-encoded in paths.

use rekey_sdk::template::{Call, Escape};
use rekey_sdk::{
    CallContext, Capabilities, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo, Provider,
    ProviderError, Verification,
};
use serde_json::Value;

/// The provider; see the crate documentation.
pub struct Webhook;

impl Provider for Webhook {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "webhook".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Keys of any HTTP API with create, verify and revoke endpoints, configured by templates"
                .into(),
            config: vec![
                ConfigField::new("base-url", FieldType::Url, "Base URL of the API; every path below is appended to it")
                    .required(),
                text("admin-token", "Token allowed to create and delete keys").placeholder(),
                text("admin-header", "Header sent on create and revoke")
                    .default_value("Authorization: Bearer {admin-token}"),
                text("create-method", "HTTP method that creates a key").default_value("POST"),
                text("create-path", "Path that creates a key").required(),
                text("create-body", "JSON body that creates a key").default_value(r#"{"name": "rekey {rotation-id}"}"#),
                text("key-id-pointer", "JSON pointer to the new key's id in the create response").default_value("/id"),
                text("secret-pointer", "JSON pointer to the new key's secret in the create response")
                    .default_value("/secret"),
                text("verify-method", "HTTP method of the request that checks a key").default_value("GET"),
                text("verify-path", "Path that answers 2xx to a valid key").required(),
                text("verify-header", "Header that presents the key being checked")
                    .default_value("Authorization: Bearer {secret}"),
                text(
                    "last-used-pointer",
                    "JSON pointer, in the verify response, to when the key was last used (Unix seconds)",
                ),
                text("revoke-method", "HTTP method that revokes a key").default_value("DELETE"),
                text("revoke-path", "Path that revokes a key").default_value("/keys/{key-id}"),
                text("list-method", "HTTP method of the request that lists keys").default_value("GET"),
                text("list-path", "Path that lists the keys [default: create-path]"),
                text("list-pointer", "JSON pointer to the array of keys in the list response").default_value(""),
                text("list-id-pointer", "JSON pointer to a listed key's id, within its item").default_value("/id"),
                text("list-tag-pointer", "JSON pointer to a listed key's name (where create-body put the rotation id)")
                    .default_value("/name"),
                text("list-created-pointer", "JSON pointer to when a listed key was created (Unix seconds)"),
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
        let call = Call::new(&ctx, None);
        let response: Value = call
            .admin(call.request("create-method", "create-path")?)?
            .body(call.render("create-body", Escape::Json)?)
            .header("content-type", "application/json")
            .send()?
            .json()?;
        let pick = |field: &str| -> Result<String, ProviderError> {
            let pointer = call.config.required(field)?;
            match response.pointer(pointer) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                _ => Err(ProviderError::Rejected(format!(
                    "the create response has no string at `{pointer}` (config `{field}`)"
                ))),
            }
        };
        Ok(Credential {
            key_id: pick("key-id-pointer")?,
            secret: pick("secret-pointer")?,
            attributes: vec![],
            expires_at: None,
        })
    }

    fn verify(ctx: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        let call = Call::new(&ctx, Some(&credential));
        let (name, value) = call.header("verify-header")?;
        let response = call.request("verify-method", "verify-path")?.header(&name, &value).send_any_status()?;
        let status = response.status();
        if status == 401 || status == 403 {
            return Ok(Verification {
                valid: false,
                detail: Some(format!("the API refused the key ({status})")),
                last_used: None,
            });
        }
        response.error_for_status("verify")?;
        let last_used = match call.config.get("last-used-pointer") {
            Some(pointer) if !pointer.is_empty() => response.json::<Value>()?.pointer(pointer).and_then(Value::as_u64),
            _ => None,
        };
        Ok(Verification { valid: true, detail: Some(format!("the API accepted the key ({status})")), last_used })
    }

    fn revoke(ctx: CallContext, credential: Credential) -> Result<(), ProviderError> {
        let call = Call::new(&ctx, Some(&credential));
        let response = call.admin(call.request("revoke-method", "revoke-path")?)?.send_any_status()?;
        if response.status() == 404 {
            return Ok(()); // already gone: revoking again is a success
        }
        response.error_for_status("revoke")
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let call = Call::new(&ctx, None);
        let path =
            if call.config.get("list-path").is_some_and(|p| !p.is_empty()) { "list-path" } else { "create-path" };
        let response: Value = call.admin(call.request("list-method", path)?)?.send()?.json()?;
        let pointer = call.config.get("list-pointer").unwrap_or_default();
        let Some(Value::Array(items)) = response.pointer(pointer) else {
            return Err(ProviderError::Rejected(format!(
                "the list response has no array at `{pointer}` (config `list-pointer`)"
            )));
        };
        let text = |item: &Value, field: &str| {
            let pointer = call.config.get(field).filter(|p| !p.is_empty())?;
            match item.pointer(pointer)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        items
            .iter()
            .map(|item| {
                Ok(KeySummary {
                    key_id: text(item, "list-id-pointer")
                        .ok_or_else(|| ProviderError::Rejected("a listed key has no id at `list-id-pointer`".into()))?,
                    tag: text(item, "list-tag-pointer"),
                    created_at: text(item, "list-created-pointer").and_then(|t| t.parse().ok()),
                    last_used: None,
                    attributes: vec![],
                })
            })
            .collect()
    }
}

rekey_sdk::export_provider!(Webhook);
