//! API tokens as credentials: `plugin = "rekey-token"`. The provider is
//! rekey's own token table, so a token a CI system or a wallboard holds is
//! rotated like any key: a new token with the same role and scope, deployed
//! to its targets stage by stage, checked, then the old one revoked. Each
//! token is named after its credential and rotation
//! (`ci-token.rot-…`), which makes `generate` idempotent (the same
//! rotation replaces its own token) and lets `rekey reconcile` find one a
//! crash left behind.
//!
//! ```toml
//! [[credential]]
//! name = "ci-token"
//! plugin = "rekey-token"
//! config = { role = "viewer", credentials = "payments-*,search-*" }
//! ```

use crate::access::token;
use crate::config::{TOKEN, TokenGrant};
use crate::runtime::{CallOptions, Credential, KeySummary, Pair, PluginError, ProviderError, Verification};
use crate::store::tokens::TokenRecord;
use crate::store::{Store, StoreError};

/// Issues, checks and revokes one credential's tokens in the store.
pub struct Issuer<'a> {
    store: &'a Store,
    credential: String,
    grant: TokenGrant,
}

impl<'a> Issuer<'a> {
    /// The issuer of `credential`'s tokens in `store`, each with `grant`.
    pub fn new(store: &'a Store, credential: &str, grant: TokenGrant) -> Self {
        Self { store, credential: credential.into(), grant }
    }

    fn failed(&self, e: impl ToString) -> PluginError {
        PluginError::Provider { plugin: TOKEN.into(), error: ProviderError::Unavailable(e.to_string()) }
    }

    /// A new token for the rotation in `options`, replacing one the same
    /// rotation made before (its secret was never kept, so it is dead).
    pub fn generate(&self, options: &CallOptions) -> Result<Credential, PluginError> {
        let TokenGrant { role, scope } = self.grant.clone();
        let secret = token::generate();
        let record = TokenRecord {
            name: format!("{}.{}", self.credential, options.rotation_id),
            role: role.name().into(),
            scope,
            created_by: format!("rotation {}", options.rotation_id),
            created_at: crate::store::now(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        self.store
            .replace_token(&record, token::lookup(&secret), &token::digest(&secret))
            .map_err(|e| self.failed(e))?;
        let attributes = vec![Pair { key: "role".into(), value: record.role.clone() }];
        Ok(Credential { key_id: record.name, secret, attributes, expires_at: None })
    }

    /// Whether `key` is a usable token, and when a request last used it.
    pub fn verify(&self, key: &Credential) -> Result<Verification, PluginError> {
        let found = match token::well_formed(&key.secret) {
            true => self.store.token_by_lookup(token::lookup(&key.secret)).map_err(|e| self.failed(e))?,
            false => None,
        };
        let now = crate::store::now();
        Ok(match found {
            Some((record, kept)) if token::matches(&key.secret, &kept) && record.usable(now) => Verification {
                valid: true,
                detail: Some(format!("token `{}` ({}) is usable", record.name, record.role)),
                last_used: record.last_used_at.map(|t| t as u64),
            },
            Some((record, _)) => Verification {
                valid: false,
                detail: Some(format!("token `{}` is revoked or expired", record.name)),
                last_used: record.last_used_at.map(|t| t as u64),
            },
            None => Verification { valid: false, detail: Some("no such token".into()), last_used: None },
        })
    }

    /// Revokes the token `key` names; one already revoked or gone is fine.
    pub fn revoke(&self, key: &Credential) -> Result<(), PluginError> {
        self.store.revoke_token(&key.key_id, &format!("credential {}", self.credential)).map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// Every unrevoked token this credential's rotations made.
    pub fn list(&self) -> Result<Vec<KeySummary>, PluginError> {
        let prefix = format!("{}.", self.credential);
        let tokens = self.store.tokens().map_err(|e: StoreError| self.failed(e))?;
        Ok(tokens
            .into_iter()
            .filter(|t| t.revoked_at.is_none())
            .filter_map(|t| {
                let rotation = t.name.strip_prefix(&prefix)?.to_string();
                Some(KeySummary {
                    key_id: t.name.clone(),
                    tag: Some(rotation),
                    created_at: Some(t.created_at as u64),
                    last_used: t.last_used_at.map(|at| at as u64),
                    attributes: vec![],
                })
            })
            .collect())
    }
}
