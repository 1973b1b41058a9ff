//! Secret inputs of `plugin call`: admin secrets and the credential to verify
//! or revoke. They come from stdin (JSON) or the environment, never from the
//! command line, where any local user could read them in the process list.

use super::exit::UsageError;
use crate::runtime::{Credential, PluginInfo};
use std::collections::BTreeMap;
use std::io::Read;

/// Environment variable holding the secret of the credential to verify or
/// revoke, with `--key-id`.
pub const CREDENTIAL_SECRET_VAR: &str = "REKEY_CREDENTIAL_SECRET";

/// What a call needs that is secret.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Secrets {
    /// Admin secrets by config field name.
    #[serde(default)]
    pub admin_secrets: BTreeMap<String, String>,
    /// The credential to verify or revoke.
    pub credential: Option<Credential>,
}

/// The environment variable for an admin secret field, e.g. `admin-token`
/// → `REKEY_ADMIN_ADMIN_TOKEN`.
pub fn admin_var(field: &str) -> String {
    format!("REKEY_ADMIN_{}", field.to_ascii_uppercase().replace('-', "_"))
}

/// Reads the secrets: JSON from stdin when `from_stdin`, then every secret
/// field the plugin declares that stdin did not give from its environment
/// variable, and the credential from `--key-id` plus its variable.
pub fn read(from_stdin: bool, info: &PluginInfo, key_id: Option<String>) -> Result<Secrets, UsageError> {
    let mut secrets = if from_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| UsageError(format!("cannot read stdin: {e}")))?;
        // The message of a serde error quotes no input, only its position.
        serde_json::from_str::<Secrets>(&text).map_err(|e| {
            UsageError(format!(
                "stdin is not the expected JSON ({e}); give {{\"admin_secrets\": {{\"NAME\": \"VALUE\"}}, \"credential\": {{\"key_id\": \"…\", \"secret\": \"…\", \"attributes\": [], \"expires_at\": null}}}}"
            ))
        })?
    } else {
        Secrets::default()
    };
    for field in info.config.iter().filter(|f| f.secret) {
        if !secrets.admin_secrets.contains_key(&field.name)
            && let Ok(value) = std::env::var(admin_var(&field.name))
        {
            secrets.admin_secrets.insert(field.name.clone(), value);
        }
    }
    if let Some(key_id) = key_id {
        let secret = std::env::var(CREDENTIAL_SECRET_VAR)
            .map_err(|_| UsageError(format!("--key-id needs the credential's secret in ${CREDENTIAL_SECRET_VAR}")))?;
        secrets.credential = Some(Credential { key_id, secret, attributes: vec![], expires_at: None });
    }
    Ok(secrets)
}
