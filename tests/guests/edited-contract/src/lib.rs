//! Claims contract 0.2.9, which this host would load as 0.2, but was built
//! from an edited copy of the WIT: its `credential` record has a field the
//! contract does not. Refused at load, saying so, not "crashed: type
//! mismatch" at the first call.
wit_bindgen::generate!({ path: "wit", world: "plugin", generate_all });

use exports::rekey::provider::provider::Guest;
use rekey::provider::types::{
    CallContext, Capabilities, Credential, Permissions, PluginInfo, ProviderError, Verification,
};

struct Edited;

impl Guest for Edited {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "edited-contract".into(),
            version: "0.0.1".into(),
            description: "built from an edited WIT".into(),
            config: vec![],
            capabilities: Capabilities { concurrent_keys: true, reports_last_use: false, idempotent_generate: true },
            permissions: Permissions { http_hosts: vec![], tcp: vec![] },
        }
    }

    fn generate(_: CallContext) -> Result<Credential, ProviderError> {
        Ok(Credential { key_id: "k".into(), secret: "s".into(), attributes: vec![], expires_at: None, rating: 5 })
    }

    fn verify(_: CallContext, _: Credential) -> Result<Verification, ProviderError> {
        Ok(Verification { valid: true, detail: None, last_used: None })
    }

    fn revoke(_: CallContext, _: Credential) -> Result<(), ProviderError> {
        Ok(())
    }
}

export!(Edited);
