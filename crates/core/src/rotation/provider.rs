//! Who makes, checks and revokes a credential's keys: a sandboxed plugin;
//! — `plugin = "manual"`, for a vendor with no key API — a person, who
//! types the new key in and confirms the old one revoked
//! (`rekey confirm-revoked`); or — `plugin = "rekey-token"` — rekey's own
//! API tokens (`issuer`). The rotation engine runs the same steps every
//! way: backup, deploy stage by stage, checks, promote.

use super::issuer::Issuer;
use crate::runtime::{CallOptions, Credential, KeySummary, Outcome, Plugin, PluginError, ProviderError, Verification};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A credential's provider.
pub(super) enum Provider<'a> {
    /// A WebAssembly plugin, in the sandbox.
    Plugin(Arc<Plugin>),
    /// A person, with the key they typed for this rotation, if any.
    Manual(Mutex<Option<Credential>>),
    /// rekey's API tokens.
    Token(Issuer<'a>),
}

impl Provider<'_> {
    /// The plugin's digest, for the audit log; none for a person or rekey.
    pub(super) fn digest(&self) -> Option<&str> {
        match self {
            Self::Plugin(plugin) => Some(plugin.digest()),
            Self::Manual(_) | Self::Token(_) => None,
        }
    }

    /// `generate` returns the same key (id) again for the same rotation.
    pub(super) fn idempotent_generate(&self) -> bool {
        match self {
            Self::Plugin(plugin) => plugin.info().capabilities.idempotent_generate,
            Self::Manual(_) => false,
            Self::Token(_) => true,
        }
    }

    /// `list_keys` works.
    pub(super) fn lists_keys(&self) -> bool {
        match self {
            Self::Plugin(plugin) => plugin.info().capabilities.lists_keys,
            Self::Manual(_) => false,
            Self::Token(_) => true,
        }
    }

    /// A new key: the plugin's, or the one the person typed.
    pub(super) async fn generate(&self, options: &CallOptions) -> Outcome<Credential> {
        match self {
            Self::Plugin(plugin) => plugin.generate(options).await,
            Self::Token(issuer) => by_hand(issuer.generate(options)),
            Self::Manual(typed) => by_hand(typed.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| {
                refused("the new key of a manual credential is typed by a person: run `rekey rotate NAME` at a terminal, or pipe the key to its stdin")
            })),
        }
    }

    /// Whether `key` works. A person's key is tested by the stages' checks
    /// only: there is no provider to ask.
    pub(super) async fn verify(&self, options: &CallOptions, key: &Credential) -> Outcome<Verification> {
        match self {
            Self::Plugin(plugin) => plugin.verify(options, key).await,
            Self::Token(issuer) => by_hand(issuer.verify(key)),
            Self::Manual(_) => by_hand(Ok(Verification {
                valid: true,
                detail: Some("a manual key is tested by its stages' checks".into()),
                last_used: None,
            })),
        }
    }

    /// Revokes `key` at the provider. A person's key is revoked by a
    /// person: the rotation engine asks them instead of calling this.
    pub(super) async fn revoke(&self, options: &CallOptions, key: &Credential) -> Outcome<()> {
        match self {
            Self::Plugin(plugin) => plugin.revoke(options, key).await,
            Self::Token(issuer) => by_hand(issuer.revoke(key)),
            Self::Manual(_) => by_hand(Err(refused("a manual key is revoked at the vendor by a person"))),
        }
    }

    /// The keys the provider holds.
    pub(super) async fn list_keys(&self, options: &CallOptions) -> Outcome<Vec<KeySummary>> {
        match self {
            Self::Plugin(plugin) => plugin.list_keys(options).await,
            Self::Token(issuer) => by_hand(issuer.list()),
            Self::Manual(_) => by_hand(Err(refused("a manual credential's keys cannot be listed"))),
        }
    }
}

/// The outcome of a call made without a sandbox.
fn by_hand<T>(result: Result<T, PluginError>) -> Outcome<T> {
    Outcome { result, transcript: vec![], connections: vec![], elapsed: Duration::ZERO }
}

fn refused(why: &str) -> PluginError {
    PluginError::Provider { plugin: crate::config::MANUAL.into(), error: ProviderError::InvalidConfig(why.into()) }
}
