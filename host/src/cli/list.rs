//! `rekey plugin list`: each approved plugin with its digest, whether the
//! file on disk is still the one approved, and its signature.

use crate::config::{Config, plugin_name_of};
use crate::trust::{Gate, digest};
use std::path::PathBuf;

/// One row.
#[derive(serde::Serialize)]
struct Row {
    name: String,
    version: Option<String>,
    sha256: Option<String>,
    file: Option<PathBuf>,
    approval: &'static str,
    signature: String,
}

/// Lists approved plugins, then plugins in the plugin directory that are not approved.
pub fn run(json: bool, config: &Config) -> anyhow::Result<()> {
    let gate = Gate::new(config)?;
    let mut rows = vec![];
    for (name, approval) in gate.lock().iter() {
        let file = config.find_plugin(name).ok();
        let bytes = file.as_ref().and_then(|f| std::fs::read(f).ok());
        let (status, signature) = match (&file, &bytes) {
            (Some(file), Some(bytes)) => (
                if digest(bytes) == approval.sha256 { "approved" } else { "CHANGED since approval" },
                gate.signer(name, file, bytes).map_or_else(|e| format!("BAD: {e}"), |s| s.to_string()),
            ),
            _ => ("approved, file missing", "-".into()),
        };
        rows.push(Row {
            name: name.clone(),
            version: Some(approval.version.clone()),
            sha256: Some(approval.sha256.clone()),
            file,
            approval: status,
            signature,
        });
    }
    let installed = std::fs::read_dir(config.plugin_dir()).into_iter().flatten().flatten().map(|e| e.path());
    for file in installed.filter(|p| p.extension().is_some_and(|e| e == "wasm")) {
        let name = plugin_name_of(&file);
        if gate.lock().get(&name).is_none() {
            rows.push(Row {
                name,
                version: None,
                sha256: None,
                file: Some(file),
                approval: "NOT APPROVED",
                signature: "-".into(),
            });
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "no plugins approved in {}; approve one with `rekey plugin install FILE`",
            gate.lock().path().display()
        );
    }
    for row in rows {
        println!(
            "{:<20} {:<10} {:<14} {:<24} signed: {}",
            row.name,
            row.version.as_deref().unwrap_or("-"),
            row.sha256.as_deref().map_or("-", |s| &s[..12.min(s.len())]),
            row.approval,
            row.signature
        );
    }
    Ok(())
}
