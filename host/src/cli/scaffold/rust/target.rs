//! {{name}}: a rekey deploy target that stores each new key in an HTTP API.
//!
//! The API this template speaks (change it to yours):
//! - `PUT {base-url}{path}` with the admin token and the key as the body
//!   stores it (writing the same value again is harmless);
//! - `GET {base-url}{path}` answers what is stored;
//! - `DELETE {base-url}{path}` removes it (404: nothing there).
//!
//! `check` compares what is stored with the key inside the sandbox, so no
//! secret goes back to the host; `restore` puts the previous key back in a
//! rollback, or removes the value when there was none.
//!
//! Build with `cargo build --target wasm32-wasip2 --release`, then check it
//! against the real API with `rekey plugin test`.

use rekey_sdk::{
    CallContext, Config, ConfigField, Credential, FieldType, Permissions, Placed, ProviderError, Target, TargetInfo,
    Verification, http,
};

/// The target.
pub struct Plugin;

impl Target for Plugin {
    fn info() -> TargetInfo {
        TargetInfo {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Stores each new key in an HTTP API".into(),
            config: vec![
                ConfigField::new("base-url", FieldType::Url, "Base URL of the API, e.g. https://config.example.com")
                    .required(),
                ConfigField::new("path", FieldType::Text, "Where the key is stored, e.g. /apps/shop/api-key").required(),
                // A placeholder never enters the sandbox: the plugin sees
                // `{{secret:admin-token}}` and the host fills in the value
                // on the way out.
                ConfigField::new("admin-token", FieldType::Text, "Token allowed to write the value").placeholder(),
            ],
            permissions: Permissions { http_hosts: vec!["{base-url}".into()], tcp: vec![] },
            // No staging: the application reads the new key once it is written.
            stages_keys: false,
        }
    }

    fn write(ctx: CallContext, key: Credential, _staged: bool) -> Result<Placed, ProviderError> {
        let place = Place::new(&ctx)?;
        place.put(&key.secret)?;
        Ok(Placed { location: place.url.clone(), revision: None })
    }

    fn check(ctx: CallContext, key: Credential, _staged: bool) -> Result<Verification, ProviderError> {
        let place = Place::new(&ctx)?;
        let response = http::Request::get(&place.url).bearer(place.admin).send_any_status()?;
        let (valid, detail) = match response.status() {
            404 => (false, format!("nothing is stored at {}", place.url)),
            _ if response.expect_success("read the value")?.bytes() == key.secret.as_bytes() => {
                (true, format!("{} holds the key", place.url))
            }
            _ => (false, format!("{} holds another value", place.url)),
        };
        Ok(Verification { valid, detail: Some(detail), last_used: None })
    }

    fn promote(_ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        // Not called: the target does not stage keys.
        Ok(())
    }

    fn restore(ctx: CallContext, previous: Option<Credential>) -> Result<(), ProviderError> {
        let place = Place::new(&ctx)?;
        match previous {
            Some(previous) => place.put(&previous.secret),
            // Nothing was there before: remove what the rotation wrote.
            None => rekey_sdk::done_if_gone(http::Request::delete(&place.url).bearer(place.admin).send()),
        }
    }
}

rekey_sdk::export_target!(Plugin);

/// Where the configured API stores the key.
struct Place<'a> {
    url: String,
    admin: &'a str,
}

impl<'a> Place<'a> {
    fn new(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let base = config.required("base-url")?.trim_end_matches('/');
        let path = config.required("path")?;
        if !path.starts_with('/') {
            return Err(ProviderError::InvalidConfig(format!("path `{path}` must start with /")));
        }
        Ok(Self { url: format!("{base}{path}"), admin: config.secret("admin-token")? })
    }

    fn put(&self, value: &str) -> Result<(), ProviderError> {
        let request = http::Request::put(&self.url).bearer(self.admin).header("content-type", "text/plain");
        request.body(value).send()?.expect_success("write the value").map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekey_sdk::Pair;
    use rekey_sdk::testing::Host;

    const URL: &str = "https://config.example.com/apps/shop/api-key";

    /// A call for rotation `r-1` against config.example.com.
    fn context() -> CallContext {
        let pair = |key: &str, value: &str| Pair { key: key.into(), value: value.into() };
        CallContext {
            rotation_id: "r-1".into(),
            config: vec![pair("base-url", "https://config.example.com"), pair("path", "/apps/shop/api-key")],
            admin_secrets: vec![pair("admin-token", "{{secret:admin-token}}")],
        }
    }

    fn key(secret: &str) -> Credential {
        Credential { key_id: "k1".into(), secret: secret.into(), attributes: vec![], expires_at: None }
    }

    #[test]
    fn write_puts_the_key_with_the_admin_token() {
        let host = Host::new().respond("PUT", URL, 201, "");
        let placed = Plugin::write(context(), key("s3cret"), false).unwrap();
        assert_eq!(placed.location, URL);
        let sent = &host.requests()[0];
        assert_eq!(sent.body, b"s3cret");
        // The placeholder goes out as is: the host puts the token in.
        assert_eq!(sent.header("authorization"), Some("Bearer {{secret:admin-token}}"));
    }

    #[test]
    fn check_compares_the_stored_value_in_the_sandbox() {
        let _host = Host::new().respond("GET", URL, 200, "s3cret").respond("GET", URL, 200, "other");
        assert!(Plugin::check(context(), key("s3cret"), false).unwrap().valid);
        let other = Plugin::check(context(), key("s3cret"), false).unwrap();
        assert!(!other.valid && !other.detail.unwrap().contains("s3cret"), "no secret in the detail");
    }

    #[test]
    fn restoring_with_no_previous_key_removes_the_value_even_when_gone() {
        let _host = Host::new().respond("DELETE", URL, 404, "");
        assert!(Plugin::restore(context(), None).is_ok());
    }

    #[test]
    fn a_refused_admin_token_is_unauthorized() {
        let _host = Host::new().respond("PUT", URL, 401, "");
        assert!(matches!(Plugin::write(context(), key("s3cret"), false), Err(ProviderError::Unauthorized(_))));
    }
}
