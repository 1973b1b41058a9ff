//! The commands of a manual credential (`plugin = "manual"`): reading the
//! key a person made at the vendor, and `rekey confirm-revoked` once they
//! revoked the old one there.

use super::context::Context;
use super::exit::{Reported, UsageError};
use super::progress::describe;
use super::rotate::confirm;
use crate::rotation::Session;
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

/// `rekey confirm-revoked NAME`.
pub async fn confirm_revoked(name: &str, yes: bool, context: &Context) -> anyhow::Result<()> {
    context.declared(name)?;
    confirm(yes, &format!("record that the previous key of `{name}` is revoked at the vendor"))?;
    let store = context.store()?;
    let runtime = context.runtime()?;
    let session = Session::new(&context.config, &store, &runtime)?;
    let outcome = match session.rotator(name).await {
        Ok(rotator) => rotator.confirm_revoked().await,
        Err(e) => Err(e),
    };
    println!("{}", describe(name, &outcome));
    outcome.map(drop).map_err(|e| Reported(e.into()).into())
}
