//! A key between the provider and the store: the contract's `credential`
//! (the plugin's word) and the store's own [`Key`] (what is on disk), field
//! for field.

use crate::runtime::{Credential, Pair};
use crate::store::versions::{Attribute, Key};

/// `key` as the store keeps it.
pub fn for_store(key: &Credential) -> Key {
    Key {
        key_id: key.key_id.clone(),
        secret: key.secret.clone(),
        attributes: key.attributes.iter().map(|p| Attribute { key: p.key.clone(), value: p.value.clone() }).collect(),
        expires_at: key.expires_at,
    }
}

/// `key` as the provider is handed it.
pub fn for_provider(key: Key) -> Credential {
    Credential {
        key_id: key.key_id,
        secret: key.secret,
        attributes: key.attributes.into_iter().map(|a| Pair { key: a.key, value: a.value }).collect(),
        expires_at: key.expires_at,
    }
}
