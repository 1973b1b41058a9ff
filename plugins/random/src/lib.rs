//! The `random` provider: static secrets that no external service issues
//! (webhook signing keys, session secrets, shared tokens between services).
//!
//! `generate` draws a fresh secret from the host's secure random source,
//! `verify` checks that a secret has the configured shape, and `revoke` has
//! nothing to call: a static secret stops working once no application holds
//! it, which the host's deploy step takes care of.

use rekey_sdk::secret::{Encoding, random_secret};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};

/// Secrets shorter than this are refused: 16 characters of hex are 64 bits.
const MIN_LENGTH: u64 = 16;
/// Secrets longer than this are refused, to keep a typo from making a
/// megabyte-long key.
const MAX_LENGTH: u64 = 4096;

/// The provider; see the crate documentation.
pub struct Random;

/// The shape of the secrets a config asks for.
struct Shape<'a> {
    length: usize,
    encoding: Encoding,
    prefix: &'a str,
}

impl<'a> Shape<'a> {
    fn from_config(config: &Config<'a>) -> Result<Self, ProviderError> {
        let length = config.integer("length", 32)?;
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            return Err(ProviderError::InvalidConfig(format!(
                "config field `length` must be between {MIN_LENGTH} and {MAX_LENGTH}, got {length}"
            )));
        }
        Ok(Self {
            length: length as usize,
            encoding: Encoding::parse(config.get("encoding").unwrap_or("base64url"))?,
            prefix: config.get("prefix").unwrap_or(""),
        })
    }

    /// Why `secret` does not have this shape, if it does not.
    fn mismatch(&self, secret: &str) -> Option<String> {
        let Some(body) = secret.strip_prefix(self.prefix) else {
            return Some(format!("the secret does not start with the prefix `{}`", self.prefix));
        };
        if body.len() != self.length {
            return Some(format!(
                "the secret has {} characters after the prefix, expected {}",
                body.len(),
                self.length
            ));
        }
        let alphabet = self.encoding.alphabet();
        if !body.bytes().all(|b| alphabet.contains(&b)) {
            return Some(format!("the secret has characters outside the {:?} alphabet", self.encoding));
        }
        None
    }
}

impl Provider for Random {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "random".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Static secrets (signing keys, session secrets, shared tokens) drawn from a secure random source".into(),
            config: vec![
                ConfigField::new(
                    "length",
                    FieldType::Integer,
                    "Characters of randomness, after the prefix (16 to 4096)",
                )
                .default_value("32"),
                ConfigField::new("encoding", FieldType::Text, "Alphabet of the secret: hex, base64url or alphanumeric")
                    .default_value("base64url"),
                ConfigField::new("prefix", FieldType::Text, "Text put before the random part, e.g. `whsec_`"),
            ],
            // No provider holds the secret: one generated and never stored
            // exists nowhere, so generating again leaves nothing behind.
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: true,
                lists_keys: false,
            },
            permissions: Permissions { http_hosts: vec![], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let config = Config::new(&ctx);
        let shape = Shape::from_config(&config)?;
        let secret = format!("{}{}", shape.prefix, random_secret(shape.length, shape.encoding));
        Ok(Credential {
            // A random, non-secret handle: the secret itself has no identity.
            key_id: format!("rnd-{}", random_secret(12, Encoding::Hex)),
            secret,
            attributes: vec![
                Pair { key: "encoding".into(), value: format!("{:?}", shape.encoding).to_lowercase() },
                Pair { key: "length".into(), value: shape.length.to_string() },
            ],
            expires_at: None,
        })
    }

    fn verify(ctx: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        let config = Config::new(&ctx);
        let mismatch = Shape::from_config(&config)?.mismatch(&credential.secret);
        Ok(Verification {
            valid: mismatch.is_none(),
            detail: Some(mismatch.unwrap_or_else(|| "the secret has the configured shape".into())),
            last_used: None,
        })
    }

    fn revoke(_ctx: CallContext, _credential: Credential) -> Result<(), ProviderError> {
        Ok(())
    }

    fn list_keys(_ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        Err(rekey_sdk::cannot_list())
    }
}

rekey_sdk::export_provider!(Random);
