//! `rekey plugin list`: each approved plugin with its digest, whether the
//! file on disk is still the one approved, and its signature.

use crate::config::Config;
use crate::trust::Gate;
use crate::trust::listing::plugins;

/// Lists approved plugins, then plugins in the plugin directory that are not approved.
pub fn run(json: bool, config: &Config) -> anyhow::Result<()> {
    let rows = plugins(config)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "no plugins approved in {}; approve one with `rekey plugin install FILE`",
            Gate::new(config)?.lock().path().display()
        );
    }
    for row in rows {
        println!(
            "{:<20} {:<10} {:<14} {:<24} signed: {}",
            row.name,
            row.version.as_deref().unwrap_or("-"),
            row.sha256.as_deref().map_or("-", |s| &s[..12.min(s.len())]),
            row.approval.text(),
            row.signature
        );
    }
    Ok(())
}
