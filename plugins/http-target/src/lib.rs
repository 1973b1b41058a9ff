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
use rekey_sdk::template::{Escape, render};
use rekey_sdk::{
    CallContext, Config, ConfigField, Credential, FieldType, Permissions, Placed, ProviderError, Target, TargetInfo,
    Verification,
};
use serde_json::Value;

/// The target; see the crate documentation.
pub struct HttpTarget;

/// One call's config, with the values its templates can use.
struct Call<'a> {
    config: Config<'a>,
    ctx: &'a CallContext,
    key: Option<&'a Credential>,
}

impl<'a> Call<'a> {
    fn new(ctx: &'a CallContext, key: Option<&'a Credential>) -> Self {
        Self { config: Config::new(ctx), ctx, key }
    }

    fn var(&self, name: &str) -> Option<String> {
        match name {
            "rotation-id" => Some(self.ctx.rotation_id.clone()),
            "key-id" => self.key.map(|k| k.key_id.clone()),
            "secret" => self.key.map(|k| k.secret.clone()),
            "admin-token" => self.config.secret("admin-token").ok().map(str::to_string),
            other => self.config.get(other).map(str::to_string),
        }
    }

    /// The config field `field` (or `fallback`'s, when it is not set), rendered.
    fn render(&self, field: &str, fallback: &str, escape: Escape) -> Result<String, ProviderError> {
        let (used, template) = match self.config.get(field).filter(|t| !t.is_empty()) {
            Some(template) => (field, template),
            None => (fallback, self.config.required(fallback)?),
        };
        render(template, escape, &|name| self.var(name))
            .map_err(|e| ProviderError::InvalidConfig(format!("config field `{used}`: {e}")))
    }

    /// The body `write` sends for the key, JSON-escaped when it is JSON.
    fn body(&self) -> Result<String, ProviderError> {
        let json = self.config.get("content-type").unwrap_or_default().contains("json");
        self.render("write-body", "write-body", if json { Escape::Json } else { Escape::None })
    }

    /// A request: the method of `method` (or `fallback_method`), to the path
    /// of `path` (or the write path), with the admin header.
    fn request(&self, method: &str, fallback_method: &str, path: &str) -> Result<Request, ProviderError> {
        let base = self.config.required("base-url")?.trim_end_matches('/');
        let url = format!("{base}{}", self.render(path, "write-path", Escape::Path)?);
        let method = self.config.get(method).or(self.config.get(fallback_method)).unwrap_or("PUT");
        let mut request = Request::new(method, &url);
        if self.config.secret("admin-token").is_ok() {
            let header = self.render("admin-header", "admin-header", Escape::None)?;
            let (name, value) = header.split_once(':').ok_or_else(|| {
                ProviderError::InvalidConfig("config field `admin-header` must look like `Name: value`".into())
            })?;
            request = request.header(name.trim(), value.trim());
        }
        Ok(request)
    }

    /// Writes the key.
    fn write(&self) -> Result<Response, ProviderError> {
        let content_type = self.config.get("content-type").unwrap_or("text/plain");
        let request = self.request("write-method", "write-method", "write-path")?;
        let response = request.header("content-type", content_type).body(self.body()?).send_any_status()?;
        answer(response, "write")
    }

    fn location(&self) -> Result<String, ProviderError> {
        let base = self.config.required("base-url")?.trim_end_matches('/');
        Ok(format!("{base}{}", self.render("write-path", "write-path", Escape::Path)?))
    }
}

/// A 2xx answer, or the failure as a provider error.
fn answer(response: Response, what: &str) -> Result<Response, ProviderError> {
    let status = response.status();
    let message = format!("{what}: the API answered {status}");
    match status {
        200..=299 => Ok(response),
        401 | 403 => Err(ProviderError::Unauthorized(message)),
        404 => Err(ProviderError::NotFound(message)),
        429 => Err(ProviderError::RateLimited(rekey_sdk::RateLimit {
            retry_after_seconds: response.header("retry-after").and_then(|v| v.parse().ok()),
            message,
        })),
        408 | 500.. => Err(ProviderError::Unavailable(message)),
        _ => Err(ProviderError::Rejected(message)),
    }
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
        let written = call.write()?;
        Ok(Placed { location: call.location()?, revision: written.header("etag").map(str::to_string) })
    }

    fn check(ctx: CallContext, key: Credential, _staged: bool) -> Result<Verification, ProviderError> {
        let call = Call::new(&ctx, Some(&key));
        let request = call.request("check-method", "check-method", "check-path")?;
        let response = match answer(request.send_any_status()?, "check") {
            Ok(response) => response,
            Err(ProviderError::NotFound(_)) => {
                let detail = format!("{} holds nothing", call.location()?);
                return Ok(Verification { valid: false, detail: Some(detail), last_used: None });
            }
            Err(e) => return Err(e),
        };
        let expected = match call.config.get("check-value").filter(|v| !v.is_empty()) {
            Some(_) => call.render("check-value", "check-value", Escape::None)?,
            None => call.body()?,
        };
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
        let detail = format!("{} {} the key", call.location()?, if holds { "holds" } else { "does not hold" });
        Ok(Verification { valid: holds, detail: Some(detail), last_used: None })
    }

    fn promote(_ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        // Not called: the target does not stage keys.
        Ok(())
    }

    fn restore(ctx: CallContext, previous: Option<Credential>) -> Result<(), ProviderError> {
        let call = Call::new(&ctx, previous.as_ref());
        if previous.is_some() {
            return call.write().map(drop);
        }
        let request = call.request("delete-method", "delete-method", "write-path")?;
        match answer(request.send_any_status()?, "delete") {
            Ok(_) | Err(ProviderError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

rekey_sdk::export_target!(HttpTarget);
