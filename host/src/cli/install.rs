//! `rekey plugin install`: the operator's review and approval of a plugin,
//! from a file or an OCI registry. It shows what the plugin is and what it
//! may reach, records the approval in `rekey.lock` pinned by sha256 (and,
//! from a registry, the repository, tag and manifest digest), and copies
//! the plugin into the plugin directory, so the file that runs is the file
//! that was approved.

use super::exit::UsageError;
use super::show::{field, list};
use crate::config::Config;
use crate::runtime::{Kind, Plugin, Runtime};
use crate::trust::lock::{Approval, Origin};
use crate::trust::{Gate, Signer, digest, permissions, signature};
use std::path::{Path, PathBuf};

/// Arguments of `rekey plugin install`.
#[derive(Debug, clap::Args)]
#[command(after_help = "In a script, either --yes (approve whatever the plugin declares) or --grant for each \
permission you expect, e.g. --grant 'http {base-url}' --grant 'tcp {host}:{port}': the install is refused if \
the plugin declares anything else.\n\nFrom a registry: registry credentials come from REKEY_REGISTRY_USERNAME and \
REKEY_REGISTRY_PASSWORD, else the Docker config file (docker login), else none; plain HTTP only to a registry on \
loopback. The signature is the tag sha256-<manifest digest>.sig beside the component.")]
pub struct Args {
    /// The plugin: a file (a WebAssembly component; a `FILE.minisig` next to it is checked and copied too), or
    /// oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST to pull it and its signature.
    plugin: String,
    /// The name to install it under, which rekey.toml's `plugin = "..."` uses [default: the plugin's own name].
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    consent: Consent,
}

/// How the operator approves what a plugin declares.
#[derive(Debug, clap::Args)]
pub struct Consent {
    /// Approve exactly these permissions, as the plugin declares them (repeat for more).
    #[arg(long = "grant", value_name = "PERMISSION")]
    grants: Vec<String>,
    /// Approve without asking.
    #[arg(long)]
    yes: bool,
}

/// A plugin file to review, and the registry it came from.
pub struct Candidate {
    pub file: PathBuf,
    pub origin: Option<Origin>,
}

/// Reviews, approves and copies the plugin, pulling it first when it is
/// an `oci://` reference.
pub async fn run(args: Args, config: &Config, runtime: &Runtime) -> anyhow::Result<()> {
    if args.plugin.starts_with("oci://") {
        let fetched = super::fetch::Fetched::pull(&super::fetch::source(&args.plugin)?).await?;
        install(&fetched.candidate(), args.name.as_deref(), &args.consent, config, runtime).await
    } else {
        let candidate = Candidate { file: PathBuf::from(&args.plugin), origin: None };
        install(&candidate, args.name.as_deref(), &args.consent, config, runtime).await
    }
}

/// Shows what `candidate` is and what changed since its last approval,
/// and on the operator's consent approves it under `name` (its own name by
/// default) and copies it into the plugin directory.
pub async fn install(
    candidate: &Candidate,
    name: Option<&str>,
    consent: &Consent,
    config: &Config,
    runtime: &Runtime,
) -> anyhow::Result<()> {
    let mut gate = Gate::new(config)?;
    let file = &candidate.file;
    let bytes = runtime.read(file)?;
    let plugin = runtime.load_bytes(file, &bytes).await?;
    let name = name.map_or_else(|| plugin.info().name.clone(), String::from);
    if !valid_name(&name) {
        return Err(UsageError(format!("plugin name `{name}`: use 1-64 of a-z, 0-9 and `-`")).into());
    }
    let signer = gate.signer(&name, file, &bytes)?;
    let declared = permissions(plugin.info());
    let previous = gate.lock().get(&name).cloned();
    if let Some(origin) = &candidate.origin {
        field("from", origin);
    }
    describe(&name, &plugin, &signer, &declared, previous.as_ref());
    let sha256 = plugin.digest().to_string();
    let dir = config.plugin_dir();
    let installed = dir.join(format!("{name}.wasm"));
    let in_place = std::fs::read(&installed).is_ok_and(|b| digest(&b) == sha256);
    let unchanged = previous.as_ref().is_some_and(|p| p.sha256 == sha256 && p.permissions == declared);
    if in_place && unchanged && previous.as_ref().is_some_and(|p| p.origin == candidate.origin) {
        println!("already approved and installed; nothing to do");
        return Ok(());
    }
    // The same approved bytes from somewhere new need no new consent.
    if !(in_place && unchanged) {
        approve(consent, &declared)?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    if !same_file(file, &installed) {
        crate::deploy::atomic::write(&installed, &bytes)?;
        let sig = signature::signature_path(file);
        if sig.exists() {
            crate::deploy::atomic::write(&signature::signature_path(&installed), &std::fs::read(&sig)?)?;
        }
    }
    let approval = Approval {
        version: plugin.info().version.clone(),
        sha256,
        size: bytes.len() as u64,
        permissions: declared,
        info_sha256: crate::trust::info_digest(plugin.info(), plugin.kind()),
        info_parts: crate::trust::info_parts(plugin.info(), plugin.kind()),
        signer: match signer {
            Signer::Trusted { key_id } => Some(key_id),
            Signer::Unchecked | Signer::Unsigned => None,
        },
        approved_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        origin: candidate.origin.clone(),
    };
    gate.lock_mut().approve(&name, approval)?;
    println!("approved `{name}` in {}; installed as {}", gate.lock().path().display(), installed.display());
    Ok(())
}

fn describe(name: &str, plugin: &Plugin, signer: &Signer, declared: &[String], previous: Option<&Approval>) {
    let info = plugin.info();
    field("name", name);
    field("version", &info.version);
    field("description", &info.description);
    field(
        "kind",
        match plugin.kind() {
            Kind::Provider => "provider (makes, checks and revokes keys)",
            Kind::Target { stages_keys: true } => "deploy target (writes keys; stages them until promote)",
            Kind::Target { stages_keys: false } => "deploy target (writes keys)",
        },
    );
    field("sha256", plugin.digest());
    field("signed", signer);
    field("permissions", list(declared));
    let secrets: Vec<String> = info.config.iter().filter(|f| f.secret).map(|f| f.name.clone()).collect();
    field("admin secrets", list(&secrets));
    if let Some(previous) = previous {
        println!("changes since the approval of {}:", previous.approved_at);
        let mut changes = Vec::new();
        if previous.sha256 != plugin.digest() {
            changes.push(format!("sha256       {} → {}", previous.sha256, plugin.digest()));
        }
        if previous.info_sha256 != crate::trust::info_digest(info, plugin.kind()) {
            // A new version is shown on its own line below.
            match previous
                .redescribed(info, plugin.kind())
                .map(|parts| parts.into_iter().filter(|p| p != "version").collect::<Vec<_>>())
            {
                Some(parts) if parts.is_empty() => {}
                Some(parts) => changes.push(format!("info         changed: {}", parts.join(", "))),
                None => changes.push("info         changed (this approval predates a record of its parts)".into()),
            }
        }
        if previous.version != info.version {
            changes.push(format!("version      {} → {}", previous.version, info.version));
        }
        changes.extend(declared.iter().filter(|p| !previous.permissions.contains(p)).map(|p| format!("+ {p}")));
        changes.extend(previous.permissions.iter().filter(|p| !declared.contains(p)).map(|p| format!("- {p}")));
        if changes.is_empty() {
            changes.push("(none: the same file, version and permissions)".into());
        }
        changes.iter().for_each(|change| println!("  {change}"));
    }
}

/// The operator's consent: `--grant` lists that cover exactly what is
/// declared, `--yes`, or an answer at the terminal.
fn approve(consent: &Consent, declared: &[String]) -> anyhow::Result<()> {
    if !consent.grants.is_empty() {
        let unexpected: Vec<&String> = declared.iter().filter(|p| !consent.grants.contains(p)).collect();
        if !unexpected.is_empty() {
            let unexpected: Vec<String> = unexpected.into_iter().cloned().collect();
            return Err(UsageError(format!(
                "not approved: the plugin also declares {}, which --grant does not list",
                unexpected.join(", ")
            ))
            .into());
        }
        return Ok(());
    }
    super::rotate::confirm(consent.yes, "approve this plugin with these permissions")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}
