//! The new key of a manual credential (`plugin = "manual"`), as a person
//! made it at the vendor (`rekey confirm-revoked`, once they revoked the
//! old one there, is `rotate::finish`).

use super::exit::UsageError;
use crate::runtime::Credential;
use std::io::{BufRead, IsTerminal};

/// Reads the new key of each manual credential in `names`, in order: at
/// the terminal without echo, or one line each from stdin. Never argv.
pub fn read_keys(names: &[&str]) -> anyhow::Result<Vec<(String, Credential)>> {
    let mut keys = Vec::with_capacity(names.len());
    let terminal = std::io::stdin().is_terminal();
    let mut lines = std::io::stdin().lock().lines();
    for name in names {
        let secret = if terminal {
            rpassword::prompt_password(format!("New key for `{name}`, as created at the vendor (not shown): "))?
        } else {
            lines.next().transpose()?.unwrap_or_default()
        };
        let secret = secret.trim_end_matches(['\r', '\n']).to_string();
        if secret.trim().is_empty() {
            return Err(UsageError(format!(
                "no new key for `{name}`: create it at the vendor, then type it at the prompt or pipe it on stdin (one line per manual credential)"
            ))
            .into());
        }
        let key_id = format!("manual-{}", crate::store::now());
        keys.push((name.to_string(), Credential { key_id, secret, attributes: vec![], expires_at: None }));
    }
    Ok(keys)
}
