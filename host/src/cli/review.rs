//! `rekey plugin audit`: everything a security reviewer needs on one page,
//! for a plugin file or an installed plugin: who it is and who built it,
//! the WIT of all it imports and exports with what this host does with each
//! import, the permissions it declares against the ones approved, the
//! limits it runs under, and which secrets it sees in clear.

use super::exit::UsageError;
use super::show::{field, list};
use crate::config::{Config, plugin_name_of};
use crate::runtime::{Kind, Limits, PluginInfo, Runtime, Treatment, treatment};
use crate::trust::review::anatomy;
use crate::trust::{Gate, digest, permissions};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Arguments of `rekey plugin audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plugin file, or the name of an installed plugin.
    plugin: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    name: String,
    version: Option<String>,
    file: PathBuf,
    sha256: String,
    size: usize,
    signature: String,
    producers: Vec<String>,
    /// `null` when this host runs it; otherwise why it refuses it.
    refused: Option<String>,
    /// What it is: a provider, or a deploy target (none: it did not load).
    kind: Option<String>,
    /// What it does with the rotated key, in clear.
    rotated_key: &'static str,
    /// What a provider offers a rotation, and what each answer means for
    /// the operator (none for a target, or one that did not load).
    offers: Vec<Offer>,
    imports: Vec<Import>,
    exports: Vec<String>,
    declared: Vec<String>,
    approval: Approval,
    limits: Limits,
    secrets: Vec<Secret>,
    wit: String,
}

#[derive(Serialize)]
struct Import {
    name: String,
    treatment: Treatment,
    why: &'static str,
}

#[derive(Serialize)]
struct Offer {
    capability: &'static str,
    offered: bool,
    meaning: &'static str,
}

/// A provider's capabilities, each with what it means for a rotation.
fn offers(info: &PluginInfo) -> Vec<Offer> {
    let c = &info.capabilities;
    let offer = |capability, offered, yes, no| Offer { capability, offered, meaning: if offered { yes } else { no } };
    vec![
        offer(
            "concurrent-keys",
            c.concurrent_keys,
            "old and new keys both work through the grace period",
            "one key at a time: the old key stops working when the new one is made",
        ),
        offer(
            "idempotent-generate",
            c.idempotent_generate,
            "a retried generate returns the key already made: a lost answer leaves no extra key",
            "a generate whose answer is lost leaves a key the rotation must find and revoke",
        ),
        offer(
            "lists-keys",
            c.lists_keys,
            "keys the store does not know are found (verify, reconcile, after a lost generate); one labelled with \
             the rotation id is revoked at once, any other is held as a suspect for `reconcile --yes`",
            "a key whose creation was lost cannot be found by rekey: it is reported for the operator to check",
        ),
        offer(
            "reports-last-use",
            c.reports_last_use,
            "verify reports when a key was last used, so an old key still in use is seen before it is revoked",
            "no last use: an old key still in use is seen only when it fails",
        ),
    ]
}

#[derive(Serialize)]
struct Approval {
    status: String,
    approved: Vec<String>,
    /// Declared now but not approved.
    added: Vec<String>,
}

#[derive(Serialize)]
struct Secret {
    name: String,
    /// Whether the plugin sees the value or only its placeholder.
    seen_by_plugin: bool,
    help: String,
}

/// Builds and prints the report. `config` is `rekey.toml` when there is one:
/// it gives the approvals, the trusted keys and installed plugins' files.
pub async fn run(args: Args, config: Option<&Config>, runtime: &Runtime) -> anyhow::Result<()> {
    let (file, named) = locate(&args.plugin, config)?;
    let bytes = runtime.read(&file)?;
    let anatomy = anatomy(&bytes).map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
    let loaded = runtime.load_bytes(&file, &bytes).await;
    let info = loaded.as_ref().ok().map(|p| p.info().clone());
    let kind = loaded.as_ref().ok().map(|p| p.kind());
    let rotated_key = match kind {
        Some(Kind::Target { .. }) => {
            "in clear: the plugin writes it where applications read it (write), compares it there (check), and \
             writes the previous key back in a rollback (restore); a result that carries it is refused"
        }
        _ => "in clear: the plugin creates it (generate) or checks it (verify, revoke)",
    };
    let name = named.or_else(|| info.as_ref().map(|i| i.name.clone())).unwrap_or_else(|| plugin_name_of(&file));
    let declared = info.as_ref().map(permissions).unwrap_or_default();
    let gate = config.map(Gate::new).transpose()?;
    let signature = match &gate {
        Some(gate) => gate.signer(&name, &file, &bytes).map_or_else(|e| format!("BAD: {e}"), |s| s.to_string()),
        None => "not checked (no rekey.toml with trusted keys)".into(),
    };
    let sha256 = digest(&bytes);
    let approval = match gate.as_ref().and_then(|g| g.lock().get(&name)) {
        None => Approval { status: "not approved".into(), approved: vec![], added: declared.clone() },
        Some(a) => Approval {
            status: if a.sha256 == sha256 {
                format!("approved {}", a.approved_at)
            } else {
                format!("a different file was approved {} (sha256 {})", a.approved_at, a.sha256)
            },
            approved: a.permissions.clone(),
            added: declared.iter().filter(|p| !a.permissions.contains(p)).cloned().collect(),
        },
    };
    let secrets = info
        .iter()
        .flat_map(|i| &i.config)
        .filter(|f| f.secret)
        .map(|f| Secret { name: f.name.clone(), seen_by_plugin: !f.placeholder, help: f.help.clone() })
        .collect();
    let imports = anatomy
        .imports
        .iter()
        .map(|name| {
            let (treatment, why) = treatment(name);
            Import { name: name.clone(), treatment, why }
        })
        .collect();
    let report = Report {
        name,
        version: info.as_ref().map(|i| i.version.clone()),
        file,
        size: bytes.len(),
        sha256,
        signature,
        producers: anatomy.producers,
        refused: loaded.err().map(|e| e.to_string()),
        kind: kind.map(|kind| match kind {
            Kind::Provider => "provider".into(),
            Kind::Target { stages_keys: true } => "deploy target that stages keys (pending until promote)".into(),
            Kind::Target { stages_keys: false } => "deploy target (the key is current once written)".into(),
        }),
        rotated_key,
        offers: match (&info, kind) {
            (Some(info), Some(Kind::Provider)) => offers(info),
            _ => vec![],
        },
        imports,
        exports: anatomy.exports,
        declared,
        approval,
        limits: runtime.limits().clone(),
        secrets,
        wit: anatomy.wit,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(())
}

/// The file to audit, and the name it was asked for by (if not a path).
fn locate(plugin: &str, config: Option<&Config>) -> Result<(PathBuf, Option<String>), UsageError> {
    if Path::new(plugin).exists() {
        return Ok((plugin.into(), None));
    }
    let config = config.ok_or_else(|| {
        UsageError(format!("{plugin} is not a file, and there is no rekey.toml to look up an installed plugin by name"))
    })?;
    Ok((config.find_plugin(plugin).map_err(UsageError)?, Some(plugin.to_string())))
}

fn print(r: &Report) {
    field("name", &r.name);
    field("version", r.version.as_deref().unwrap_or("(unknown: the plugin did not load)"));
    field("kind", r.kind.as_deref().unwrap_or("(unknown: the plugin did not load)"));
    field("file", format!("{} ({} bytes)", r.file.display(), r.size));
    field("sha256", &r.sha256);
    field("signed", &r.signature);
    field("built by", list(&r.producers));
    match &r.refused {
        None => field("verdict", "this host runs it under the limits and filters below"),
        Some(why) => field("verdict", format!("REFUSED: {why}")),
    }
    if !r.offers.is_empty() {
        println!("\nwhat it offers a rotation");
        for o in &r.offers {
            println!("  {:<20} {:<4} {}", o.capability, if o.offered { "yes" } else { "no" }, o.meaning);
        }
    }
    println!("\nimports, and what this host does with each");
    for i in &r.imports {
        let label = match i.treatment {
            Treatment::Granted => "granted",
            Treatment::Filtered => "filtered",
            Treatment::Refused => "REFUSED",
        };
        println!("  {label:<9} {:<40} {}", i.name, i.why);
    }
    println!("\nexports");
    for e in &r.exports {
        println!("  {e}");
    }
    println!("\npermissions");
    println!("  declared       {}", list(&r.declared));
    println!("  approval       {}", r.approval.status);
    println!("  approved       {}", list(&r.approval.approved));
    if !r.approval.added.is_empty() {
        println!("  NOT approved   {}", list(&r.approval.added));
    }
    let l = &r.limits;
    println!("\nlimits of each call");
    println!(
        "  memory {} MiB, deadline {} s, stack {} KiB, {} requests, request headers {} KiB, request body {} KiB, \
         response body {} KiB, output {} KiB",
        l.memory_bytes >> 20,
        l.deadline.as_secs(),
        l.stack_bytes >> 10,
        l.max_requests,
        l.max_request_headers >> 10,
        l.max_request_body >> 10,
        l.max_response_body >> 10,
        l.max_output >> 10
    );
    println!("\nsecrets");
    println!("  {:<24} {}", "the rotated key", r.rotated_key);
    for s in &r.secrets {
        let seen = if s.seen_by_plugin {
            "in clear: the plugin computes with it"
        } else {
            "never: the plugin gets a placeholder the host fills in for granted hosts"
        };
        println!("  {:<24} {seen} ({})", s.name, s.help);
    }
    println!("\nWIT of the component and everything it uses");
    for line in r.wit.lines() {
        println!("  {line}");
    }
}
