//! {{name}}: a rekey provider for a static secret that no service issues
//! (a signing key, a shared token): `generate` draws a fresh one from the
//! host's secure random source, `verify` checks its shape, and `revoke` has
//! nothing to call.
//!
//! Build with `cargo build --target wasm32-wasip2 --release`, then check it
//! with `rekey plugin test`.

use rekey_sdk::secret::{Encoding, random_secret};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};

/// The provider.
pub struct Plugin;

impl Provider for Plugin {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A random static secret".into(),
            config: vec![
                ConfigField::new("length", FieldType::Integer, "Characters of the secret").default_value("40"),
                ConfigField::new("prefix", FieldType::Text, "Text before the secret, e.g. `whsec_`"),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: false,
            },
            permissions: Permissions { http_hosts: vec![], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let (length, prefix) = shape(&ctx)?;
        let secret = format!("{prefix}{}", random_secret(length, Encoding::Base64Url));
        let key_id = format!("{}-{}", "{{name}}", &random_secret(12, Encoding::Hex));
        Ok(Credential { key_id, secret, attributes: vec![], expires_at: None })
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let (length, prefix) = shape(&ctx)?;
        Ok(Verification { valid: has_shape(&key.secret, length, prefix), detail: None, last_used: None })
    }

    fn revoke(_ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        Ok(())
    }

    fn list_keys(_ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        Err(rekey_sdk::cannot_list())
    }
}

rekey_sdk::export_provider!(Plugin);

fn shape(ctx: &CallContext) -> Result<(usize, &str), ProviderError> {
    let config = Config::new(ctx);
    let length = config.integer("length", 40)?;
    if !(16..=4096).contains(&length) {
        return Err(ProviderError::InvalidConfig(format!("`length` must be between 16 and 4096, got {length}")));
    }
    Ok((length as usize, config.get("prefix").unwrap_or("")))
}

/// Whether `secret` is `prefix` and `length` base64url characters.
fn has_shape(secret: &str, length: usize, prefix: &str) -> bool {
    secret.strip_prefix(prefix).is_some_and(|body| {
        body.len() == length && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekey_sdk::Pair;
    use rekey_sdk::testing::Host;

    fn context(length: &str) -> CallContext {
        let pair = |key: &str, value: &str| Pair { key: key.into(), value: value.into() };
        CallContext { rotation_id: "r-1".into(), config: vec![pair("length", length), pair("prefix", "sk_")], admin_secrets: vec![] }
    }

    #[test]
    fn generate_makes_a_secret_that_verify_accepts() {
        // Fixed randomness: the same keys on every run.
        let _host = Host::new();
        let key = Plugin::generate(context("24")).unwrap();
        assert!(key.secret.starts_with("sk_") && key.secret.len() == 27, "{}", key.secret);
        assert!(Plugin::verify(context("24"), key.clone()).unwrap().valid);
        assert_ne!(Plugin::generate(context("24")).unwrap().secret, key.secret);
    }

    #[test]
    fn a_secret_has_the_shape_only_with_its_prefix_and_length() {
        assert!(has_shape("sk_abcdefghijklmnop", 16, "sk_"));
        assert!(!has_shape("abcdefghijklmnop", 16, "sk_"));
        assert!(!has_shape("sk_abc", 16, "sk_"));
    }
}
