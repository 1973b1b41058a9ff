//! Shared parts of the hostile test guests: each guest implements only the
//! call that carries its attack (`generate`) and takes the rest from here.

use rekey_sdk::{Capabilities, ConfigField, Credential, FieldType, Permissions, PluginInfo, Verification};

/// A plugin description with the given network permissions and free-text
/// config fields.
pub fn info(name: &str, http_hosts: &[&str], tcp: &[&str], config: &[&str]) -> PluginInfo {
    PluginInfo {
        name: name.into(),
        version: "0.0.1".into(),
        description: format!("hostile test guest: {name}"),
        config: config.iter().map(|f| ConfigField::new(f, FieldType::Text, "test input")).collect(),
        capabilities: Capabilities {
            concurrent_keys: true,
            reports_last_use: false,
            idempotent_generate: false,
            lists_keys: false,
        },
        permissions: Permissions {
            http_hosts: http_hosts.iter().map(|h| h.to_string()).collect(),
            tcp: tcp.iter().map(|t| t.to_string()).collect(),
        },
    }
}

/// Makes `wasi:http` header maps of 100 KB each and keeps them, never
/// sending a request, until the host stops the call.
pub fn hoard_header_maps() -> ! {
    let value = vec![b'a'; 1000];
    let mut hoard = Vec::new();
    loop {
        let fields = wasip2::http::types::Fields::new();
        for i in 0..100 {
            let _ = fields.append(&format!("x-filler-{i}"), &value);
        }
        hoard.push(fields);
    }
}

/// The key a guest returns when its attack did not stop it.
pub fn credential() -> Credential {
    Credential { key_id: "hostile".into(), secret: "not-a-secret".into(), attributes: vec![], expires_at: None }
}

/// What `verify` answers in every guest.
pub fn verification() -> Verification {
    Verification { valid: true, detail: None, last_used: None }
}

/// Declares a guest whose `generate` runs `$attack` (with the call context
/// bound to `$ctx`), and whose other calls are harmless.
#[macro_export]
macro_rules! guest {
    (info: $info:expr, generate($ctx:ident) $attack:block) => {
        struct Guest;

        impl rekey_sdk::Provider for Guest {
            fn info() -> rekey_sdk::PluginInfo {
                $info
            }

            fn generate($ctx: rekey_sdk::CallContext) -> Result<rekey_sdk::Credential, rekey_sdk::ProviderError> {
                $attack
            }

            fn verify(
                _: rekey_sdk::CallContext,
                _: rekey_sdk::Credential,
            ) -> Result<rekey_sdk::Verification, rekey_sdk::ProviderError> {
                Ok($crate::verification())
            }

            fn revoke(_: rekey_sdk::CallContext, _: rekey_sdk::Credential) -> Result<(), rekey_sdk::ProviderError> {
                Ok(())
            }

            fn list_keys(_: rekey_sdk::CallContext) -> Result<Vec<rekey_sdk::KeySummary>, rekey_sdk::ProviderError> {
                Err(rekey_sdk::cannot_list())
            }
        }

        rekey_sdk::export_provider!(Guest);
    };
}
