//! A plugin built for contract 0.2, before `list-keys` and `lists-keys` existed,
//! from the 0.2 WIT the host keeps: it must still load and answer every
//! call, its log lines included.
wit_bindgen::generate!({ path: "../../../crates/runtime/wit/v0.2", world: "plugin", generate_all });

use exports::rekey::provider::provider::Guest;
use rekey::provider::log::{Level, log};
use rekey::provider::types::{
    CallContext, Capabilities, Credential, Permissions, PluginInfo, ProviderError, Verification,
};

struct Old;

impl Guest for Old {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "contract-v0-2".into(),
            version: "0.2.0".into(),
            description: "a provider built for contract 0.2".into(),
            config: vec![],
            capabilities: Capabilities { concurrent_keys: true, reports_last_use: false, idempotent_generate: true },
            permissions: Permissions { http_hosts: vec![], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        log(Level::Info, &format!("generating for {}", ctx.rotation_id));
        Ok(Credential {
            key_id: format!("old-{}", ctx.rotation_id),
            secret: "old-secret".into(),
            attributes: vec![],
            expires_at: None,
        })
    }

    fn verify(_: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        Ok(Verification { valid: credential.secret == "old-secret", detail: None, last_used: None })
    }

    fn revoke(_: CallContext, credential: Credential) -> Result<(), ProviderError> {
        Err(ProviderError::NotFound(format!("{} is already gone", credential.key_id)))
    }
}

export!(Old);
