//! `rekey credential list|show|import`.

use super::context::{Context, age, time};
use super::exit::UsageError;
use super::show::{field, pairs};
use crate::store::versions::Key;
use crate::store::versions::Label;
use std::io::Read;

/// `rekey credential …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the credentials declared in rekey.toml with their current key.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a credential's declaration and versions (never the secret, unless --reveal).
    Show {
        /// The credential.
        name: String,
        /// Print the current secret too.
        #[arg(long)]
        reveal: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring an existing key under management; its secret is read from stdin.
    Import {
        /// The credential, as declared in rekey.toml.
        name: String,
        /// The provider's id of the key [default: imported].
        #[arg(long, value_name = "ID", default_value = "imported")]
        key_id: String,
    },
}

/// Runs a credential command.
pub fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    let store = context.store()?;
    match command {
        Command::List { json } => {
            let mut rows = Vec::new();
            for spec in context.config.credentials() {
                let name = &spec.name;
                let current = store.labeled(name, Label::Current)?;
                rows.push(serde_json::json!({
                    "name": name,
                    "plugin": spec.plugin,
                    "version": current.as_ref().map(|v| v.version),
                    "key_id": current.as_ref().map(|v| v.key_id.clone()),
                    "created_at": current.as_ref().map(|v| v.created_at),
                }));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<24} {:<12} {:<8} KEY ID", "NAME", "PLUGIN", "VERSION");
                for r in rows {
                    let text = |v: &serde_json::Value| {
                        v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string().replace("null", "-"))
                    };
                    println!(
                        "{:<24} {:<12} {:<8} {}",
                        text(&r["name"]),
                        text(&r["plugin"]),
                        text(&r["version"]),
                        text(&r["key_id"])
                    );
                }
            }
        }
        Command::Show { name, reveal, json } => {
            let spec = context.declared(&name)?;
            let versions = store.versions(&name)?;
            let current = versions.iter().find(|v| v.label == Some(Label::Current));
            let secret = match (reveal, current) {
                (true, Some(v)) => Some(store.secret(v)?.to_string()),
                _ => None,
            };
            if json {
                let mut report = serde_json::json!({ "name": name, "plugin": spec.plugin, "versions": versions });
                if let Some(secret) = secret {
                    report["secret"] = secret.into();
                }
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            field("name", &name);
            field("plugin", &spec.plugin);
            field("stages", spec.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" -> "));
            if let Some(secret) = secret {
                field("secret", secret);
            }
            println!("versions");
            for v in &versions {
                let label = v.label.map(|l| format!("{l:?}").to_lowercase()).unwrap_or_else(|| "-".into());
                let revoked = v.revoked_at.map(|t| format!(", revoked {}", time(t))).unwrap_or_default();
                println!(
                    "  v{:<4} {:<9} {:<24} created {} ({} ago){revoked}  {}",
                    v.version,
                    label,
                    v.key_id,
                    time(v.created_at),
                    age(crate::store::now() - v.created_at),
                    pairs(v.attributes.iter().map(|a| (a.key.as_str(), a.value.as_str())))
                );
            }
        }
        Command::Import { name, key_id } => {
            context.declared(&name)?;
            let mut secret = String::new();
            std::io::stdin().read_to_string(&mut secret)?;
            let secret = secret.trim_end_matches(['\n', '\r']).to_string();
            if secret.is_empty() {
                return Err(UsageError(
                    "no secret on stdin: pipe the existing key in, e.g. `rekey credential import NAME < key.txt`"
                        .into(),
                )
                .into());
            }
            let version = store.import(&name, &Key { key_id, secret, attributes: vec![], expires_at: None })?;
            println!("imported `{name}` as version {version} (current)");
        }
    }
    Ok(())
}
