//! `rekey plugin update [NAME…]`: newer versions of the plugins installed
//! from a registry, and what each would change for the operator — version,
//! digest, signer, permissions, admin secrets, config schema, imports,
//! capabilities — shown before anything changes. Nothing is approved
//! without consent; until then the approved version keeps running.

use super::exit::UsageError;
use super::fetch::{Fetched, origin_source};
use super::install::{Consent, install};
use crate::config::Config;
use crate::runtime::{Plugin, PluginInfo, Runtime};
use crate::trust::lock::{Approval, Origin};
use crate::trust::review::anatomy;
use crate::trust::{Gate, permissions};
use rekey_registry::{Client, Source};

/// Arguments of `rekey plugin update`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The installed plugins to look at [default: every one installed from a registry].
    names: Vec<String>,
    /// Only show what would change, and exit 1 when an update exists (for CI); nothing is installed.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    consent: Consent,
}

/// Looks for updates, shows them, and installs each one consented to.
pub async fn run(args: Args, config: &Config, runtime: &Runtime) -> anyhow::Result<()> {
    let gate = Gate::new(config)?;
    let mut chosen: Vec<(String, Approval)> = Vec::new();
    for (name, approval) in gate.lock().iter() {
        if args.names.is_empty() && approval.origin.is_none() {
            continue;
        }
        if args.names.is_empty() || args.names.contains(name) {
            chosen.push((name.clone(), approval.clone()));
        }
    }
    if let Some(missing) = args.names.iter().find(|n| !chosen.iter().any(|(name, _)| name == *n)) {
        return Err(UsageError(format!("no plugin `{missing}` is installed (rekey plugin list)")).into());
    }
    let mut found = 0;
    for (name, approval) in &chosen {
        let Some(origin) = &approval.origin else {
            return Err(UsageError(format!(
                "`{name}` was installed from a file: install it from a registry (rekey plugin install oci://…) to update it"
            ))
            .into());
        };
        let Some((source, digest)) = newest(origin).await? else {
            println!("{name}: up to date ({origin})");
            continue;
        };
        found += 1;
        println!("{name}: {origin} → {source} ({digest})");
        let fetched = Fetched::pull(&source).await?;
        let candidate = fetched.candidate();
        let bytes = runtime.read(&candidate.file)?;
        let new = runtime.load_bytes(&candidate.file, &bytes).await?;
        let installed = config.plugin_dir().join(format!("{name}.wasm"));
        let old_bytes = runtime.read(&installed)?;
        let old = runtime.load_bytes(&installed, &old_bytes).await?;
        let signer =
            gate.signer(name, &candidate.file, &bytes).map_or_else(|e| format!("REFUSED: {e}"), |s| s.to_string());
        let mut lines = vec![
            format!("version        {} → {}", approval.version, new.info().version),
            format!("sha256         {} → {}", approval.sha256, new.digest()),
            format!("signer         {} → {signer}", approval.signer.as_deref().unwrap_or("unsigned")),
        ];
        lines.extend(changes(&old, &old_bytes, &new, &bytes));
        lines.iter().for_each(|line| println!("  {line}"));
        if !args.check {
            install(&candidate, Some(name), &args.consent, config, runtime).await?;
        }
    }
    match found {
        0 => Ok(()),
        n if args.check => anyhow::bail!("{n} of {} plugins have an update", chosen.len()),
        _ => Ok(()),
    }
}

/// The newest version at the origin, when it is not the installed one:
/// the highest `MAJOR.MINOR.PATCH` tag above an installed version tag, or
/// the installed tag when it now names another manifest.
async fn newest(origin: &Origin) -> anyhow::Result<Option<(Source, String)>> {
    let source = origin_source(origin)?;
    let client = Client::new(&source)?;
    let mut target = source.clone();
    if let Some(current) = origin.tag.as_deref().and_then(version) {
        let tags = client.tags(&source).await?;
        if let Some(tag) = tags.iter().filter(|t| version(t).is_some_and(|v| v > current)).max_by_key(|t| version(t)) {
            target = source.with_tag(tag);
        }
    }
    let digest = client.resolve(&target).await?;
    Ok((digest != origin.digest || target.tag() != origin.tag.as_deref()).then_some((target, digest)))
}

/// A `MAJOR.MINOR.PATCH` tag (a leading `v` allowed; pre-releases are not
/// versions to update to).
fn version(tag: &str) -> Option<(u64, u64, u64)> {
    let mut parts = tag.strip_prefix('v').unwrap_or(tag).split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next()?, parts.next()?, parts.next()?, parts.next()) {
        (Some(major), Some(minor), Some(patch), None) => Some((major, minor, patch)),
        _ => None,
    }
}

/// What `plugin audit` would report differently: permissions, admin
/// secrets, config schema, imports, capabilities. Each line `+`, `-` or
/// `~` (changed).
fn changes(old: &Plugin, old_bytes: &[u8], new: &Plugin, new_bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let (before, after) = (old.info(), new.info());
    diff(&mut lines, "permission", &permissions(before), &permissions(after));
    diff(&mut lines, "admin secret", &secrets(before), &secrets(after));
    diff(&mut lines, "config field", &fields(before), &fields(after));
    let imports = |bytes: &[u8]| anatomy(bytes).map(|a| a.imports).unwrap_or_default();
    diff(&mut lines, "import", &imports(old_bytes), &imports(new_bytes));
    let (was, now) = (&before.capabilities, &after.capabilities);
    for (name, was, now) in [
        ("concurrent-keys", was.concurrent_keys, now.concurrent_keys),
        ("idempotent-generate", was.idempotent_generate, now.idempotent_generate),
        ("lists-keys", was.lists_keys, now.lists_keys),
        ("reports-last-use", was.reports_last_use, now.reports_last_use),
    ] {
        if was != now {
            lines.push(format!("~ {:<14} {name} {was} → {now}", "capability"));
        }
    }
    if old.kind() != new.kind() {
        lines.push(format!("~ kind {:?} → {:?}", old.kind(), new.kind()));
    }
    if lines.is_empty() {
        lines.push("(no change to permissions, secrets, config, imports or capabilities)".into());
    }
    lines
}

/// `+ what item` for each item added, `- what item` for each removed.
fn diff(lines: &mut Vec<String>, what: &str, before: &[String], after: &[String]) {
    lines.extend(after.iter().filter(|a| !before.contains(a)).map(|a| format!("+ {what:<14} {a}")));
    lines.extend(before.iter().filter(|b| !after.contains(b)).map(|b| format!("- {what:<14} {b}")));
}

fn secrets(info: &PluginInfo) -> Vec<String> {
    let seen = |placeholder: bool| if placeholder { "placeholder" } else { "seen by the plugin" };
    info.config.iter().filter(|f| f.secret).map(|f| format!("{} ({})", f.name, seen(f.placeholder))).collect()
}

fn fields(info: &PluginInfo) -> Vec<String> {
    info.config
        .iter()
        .filter(|f| !f.secret)
        .map(|f| {
            let kind = format!("{:?}", f.field_type).trim_start_matches("FieldType::").to_lowercase();
            let need = match (&f.default_value, f.required) {
                (_, true) => "required".to_string(),
                (Some(default), false) => format!("default {default:?}"),
                (None, false) => "optional".to_string(),
            };
            format!("{} ({kind}, {need})", f.name)
        })
        .collect()
}
