//! Short ways to build what the contract's calls return, for the cases
//! every provider writes: a verification with its reason, a listed key with
//! its tag, and a revoke of a key already gone.

use crate::{KeySummary, ProviderError, Verification};

impl Verification {
    /// The key works; `detail` says how the provider knows.
    pub fn valid(detail: impl Into<String>) -> Self {
        Self { valid: true, detail: Some(detail.into()), last_used: None }
    }

    /// The key does not work; `detail` says why.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self { valid: false, detail: Some(detail.into()), last_used: None }
    }
}

impl KeySummary {
    /// A listed key with the label (`tag`) the provider keeps with it, which
    /// holds the rotation id that made it.
    pub fn tagged(key_id: impl Into<String>, tag: impl Into<String>) -> Self {
        Self { key_id: key_id.into(), tag: Some(tag.into()), created_at: None, last_used: None, attributes: vec![] }
    }
}

/// A revoke's outcome with a key already gone (not found) counted as done:
/// revoking twice is not an error.
pub fn done_if_gone<T>(result: Result<T, ProviderError>) -> Result<(), ProviderError> {
    match result {
        Ok(_) | Err(ProviderError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
