//! `rekey plugin inspect`: what a plugin is and what it asks for, without
//! granting it anything.

use super::show::{field, list};
use crate::runtime::{ConfigField, Plugin, Runtime};
use std::path::PathBuf;

/// Arguments of `rekey plugin inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin file (a WebAssembly component).
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Loads the plugin (which runs only its `info`) and describes it.
pub async fn run(args: Args, runtime: &Runtime) -> anyhow::Result<()> {
    let plugin = runtime.load(&args.file).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report(&plugin))?);
    } else {
        print_text(&plugin);
    }
    Ok(())
}

fn report(plugin: &Plugin) -> serde_json::Value {
    serde_json::json!({
        "file": plugin.path(),
        "sha256": plugin.digest(),
        "size": plugin.size(),
        "world": plugin.surface().world(),
        "info": plugin.info(),
        "imports": plugin.surface().imports,
        "exports": plugin.surface().exports,
    })
}

fn print_text(plugin: &Plugin) {
    let info = plugin.info();
    field("name", &info.name);
    field("version", &info.version);
    field("description", &info.description);
    field("file", format!("{} ({} bytes)", plugin.path().display(), plugin.size()));
    field("sha256", plugin.digest());
    field("world", plugin.surface().world().unwrap_or_default());
    let caps = &info.capabilities;
    let capabilities: Vec<String> = [
        (caps.concurrent_keys, "concurrent-keys"),
        (caps.reports_last_use, "reports-last-use"),
        (caps.idempotent_generate, "idempotent-generate"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name.to_string())
    .collect();
    field("capabilities", list(&capabilities));
    field("http hosts", list(&info.permissions.http_hosts));
    field("tcp", list(&info.permissions.tcp));
    println!("config");
    if info.config.is_empty() {
        println!("  (none)");
    }
    for f in &info.config {
        println!("  {:<16} {}  {}", f.name, describe(f), f.help);
    }
    for (title, items) in [("imports", &plugin.surface().imports), ("exports", &plugin.surface().exports)] {
        println!("{title}");
        for item in items {
            println!("  {:<40} {}", item.name, item.functions.join(", "));
        }
    }
}

fn describe(f: &ConfigField) -> String {
    let mut words = vec![f.field_type.name().to_string()];
    words.push(if f.required { "required" } else { "optional" }.into());
    if f.placeholder {
        words.push("secret, placeholder: the plugin sees {{secret:NAME}}, the host fills in the value".into());
    } else if f.secret {
        words.push("secret".into());
    }
    if let Some(default) = &f.default_value {
        words.push(format!("default {default}"));
    }
    format!("[{}]", words.join(", "))
}
