//! The `http-target` deploy target: puts keys into any HTTP API that stores
//! a value, configured by request templates instead of code, as the
//! `webhook` provider does for keys.
//!
//! - `write`: `write-method base-url+write-path` with `write-body`
//!   (`Content-Type: content-type`), authenticated by `admin-header`. A PUT
//!   of the same value again is harmless, which makes a resumed write safe.
//! - `check`: `check-method base-url+check-path` (the write path by
//!   default); the value at `check-pointer` in the JSON answer (the whole
//!   body when empty) must equal `check-value` (the written body by default).
//!   The comparison happens in the sandbox: the value never comes back.
//! - `restore`: the previous key written again as `write` would; with none
//!   (a first rotation), `delete-method` on the write path (a 404 is done).
//!
//! Templates take `{secret}`, `{key-id}`, `{rotation-id}`, `{admin-token}`
//! and the plugin's own config fields as `{field}`; values are JSON-escaped in a JSON body
//! and percent-encoded in paths.

use rekey_sdk::http::{Request, Response};
use rekey_sdk::template::{Call, Escape};
use rekey_sdk::{
    CallContext, ConfigField, Credential, FieldType, Permissions, Placed, ProviderError, Target, TargetInfo,
    Verification,
};
use serde_json::Value;

/// The target; see the crate documentation.
pub struct HttpTarget;

/// The body `write` sends for the call's key, JSON-escaped when it is JSON.
fn body(call: &Call<'_>) -> Result<String, ProviderError> {
    let json = call.config.get("content-type").unwrap_or_default().contains("json");
    call.render("write-body", if json { Escape::Json } else { Escape::None })
}

/// A request with the method of the config field `method` to the path of
/// `path`, with the admin header when there is an admin token.
fn request(call: &Call<'_>, method: &str, path: &str) -> Result<Request, ProviderError> {
    let request = call.request(method, path)?;
    if call.config.secret("admin-token").is_ok() { call.admin(request) } else { Ok(request) }
}

/// Writes the call's key.
fn write(call: &Call<'_>) -> Result<Response, ProviderError> {
    let request = request(call, "write-method", "write-path")?;
    let content_type = call.config.get("content-type").unwrap_or("text/plain");
    request.header("content-type", content_type).body(body(call)?).send_any_status()?.expect_success("write: the API")
}

impl Target for HttpTarget {
    fn info() -> TargetInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        TargetInfo {
            name: "http-target".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Any HTTP API that stores a value (an env-var API, a WebDAV store), by request templates"
                .into(),
            config: vec![
                ConfigField::new("base-url", FieldType::Url, "Base URL of the API; every path is appended to it")
                    .required(),
                text("write-path", "Path the value is written to, e.g. /kv/app/api-key").required(),
                text("write-method", "HTTP method that writes it").default_value("PUT"),
                text("write-body", "Body that writes it").default_value("{secret}"),
                text("content-type", "Content-Type of the body").default_value("text/plain"),
                text("check-method", "HTTP method of the request that reads it back").default_value("GET"),
                text("check-path", "Path that reads it back [default: write-path]"),
                text("check-pointer", "JSON pointer to the value in the check answer [default: the whole body]"),
                text("check-value", "What the value read back must be [default: write-body]"),
                text("delete-method", "HTTP method that removes it, when a first rotation rolls back")
                    .default_value("DELETE"),
                text("admin-token", "Token allowed to write the value").placeholder(),
                text("admin-header", "Header sent with every request")
                    .default_value("Authorization: Bearer {admin-token}"),
            ],
            permissions: Permissions { http_hosts: vec!["{base-url}".into()], tcp: vec![] },
            stages_keys: false,
        }
    }

    fn write(ctx: CallContext, key: Credential, _staged: bool) -> Result<Placed, ProviderError> {
        let call = Call::new(&ctx, Some(&key));
        let written = write(&call)?;
        Ok(Placed { location: call.url("write-path")?, revision: written.header("etag").map(str::to_string) })
    }

    fn check(ctx: CallContext, key: Credential, _staged: bool) -> Result<Verification, ProviderError> {
        let call = Call::new(&ctx, Some(&key));
        let set = |field: &str| call.config.get(field).is_some_and(|value| !value.is_empty());
        let path = if set("check-path") { "check-path" } else { "write-path" };
        let location = call.url("write-path")?;
        let response = match request(&call, "check-method", path)?.send_any_status()?.expect_success("check: the API") {
            Ok(response) => response,
            Err(ProviderError::NotFound(_)) => {
                let detail = format!("{location} holds nothing");
                return Ok(Verification { valid: false, detail: Some(detail), last_used: None });
            }
            Err(e) => return Err(e),
        };
        let expected = if set("check-value") { call.render("check-value", Escape::None)? } else { body(&call)? };
        let got = match call.config.get("check-pointer").filter(|p| !p.is_empty()) {
            Some(pointer) => {
                let json: Value = serde_json::from_slice(response.bytes()).unwrap_or_default();
                match json.pointer(pointer) {
                    Some(Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                }
            }
            None => response.text(),
        };
        let holds = got == expected;
        let detail = format!("{location} {} the key", if holds { "holds" } else { "does not hold" });
        Ok(Verification { valid: holds, detail: Some(detail), last_used: None })
    }

    fn promote(_ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        // Not called: the target does not stage keys.
        Ok(())
    }

    fn restore(ctx: CallContext, previous: Option<Credential>) -> Result<(), ProviderError> {
        let call = Call::new(&ctx, previous.as_ref());
        if previous.is_some() {
            return write(&call).map(drop);
        }
        let deleted =
            request(&call, "delete-method", "write-path")?.send_any_status()?.expect_success("delete: the API");
        rekey_sdk::done_if_gone(deleted)
    }
}

rekey_sdk::export_target!(HttpTarget);
