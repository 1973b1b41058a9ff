//! `rekey reconcile`: compares the keys each provider holds with the store
//! and fixes the drift: keys of rekey's that the store does not hold as
//! live are revoked; keys with no rotation id in their label may be
//! someone else's, so they are revoked only with `--yes` or a yes at the
//! terminal; live versions the provider no longer has are reported.
//! Suspected orphans (a lost `generate` with a provider that cannot list
//! its keys) are shown, and `--resolve` records them as dealt with by hand.

use super::context::Context;
use super::exit::Reported;
use crate::rotation::reconcile::{Drift, Reconciled};
use crate::rotation::{Rotator, Session};
use crate::store::suspects::Suspect;
use std::io::IsTerminal;

/// Arguments of `rekey reconcile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credentials [default: all].
    names: Vec<String>,
    /// Show the drift and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also revoke live keys that carry no rotation id, without asking (they may be someone else's).
    #[arg(long)]
    yes: bool,
    /// Record the suspected orphans of plugins that cannot list keys as revoked by hand.
    #[arg(long)]
    resolve: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Reconciles the named credentials (all declared ones by default).
pub async fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    let names = context.named_or_checkable(&args.names)?;
    let store = context.store()?;
    let runtime = context.runtime()?;
    let session = Session::new(&context.config, &store, &runtime)?;
    let (mut results, mut unsettled) = (Vec::new(), 0);
    for name in &names {
        let rotator = session.rotator(name).await;
        let outcome = match &rotator {
            Ok(rotator) => reconcile(rotator, &args, name).await,
            Err(e) => Err(anyhow::anyhow!("{e}")),
        };
        if args.resolve && outcome.is_ok() {
            let blind: Vec<i64> =
                store.suspects(Some(name))?.iter().filter(|s| s.key_id.is_none()).map(|s| s.id).collect();
            store.resolve_suspects(name, &blind, "revoked by hand (rekey reconcile --resolve)")?;
        }
        let suspects = store.suspects(Some(name))?;
        let lines = match &outcome {
            Ok(done) => report(name, done.as_ref(), &suspects, &args),
            Err(e) => vec![format!("{name}: {e}")],
        };
        let settled = outcome.as_ref().is_ok_and(|done| remaining(done.as_ref()).is_empty()) && suspects.is_empty();
        unsettled += usize::from(!settled);
        if !args.json {
            lines.iter().for_each(|line| println!("{line}"));
        }
        let (done, error) = match outcome {
            Ok(done) => (done, None),
            Err(e) => (None, Some(e.to_string())),
        };
        results.push(serde_json::json!({
            "credential": name, "settled": settled, "reconciled": done, "suspects": suspects, "error": error,
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    match unsettled {
        0 => Ok(()),
        n => Err(Reported(anyhow::anyhow!("{n} of {} credentials differ from their provider", names.len())).into()),
    }
}

/// One credential: the drift, then (unless a dry run) the fix.
async fn reconcile(rotator: &Rotator<'_>, args: &Args, name: &str) -> anyhow::Result<Option<Reconciled>> {
    let Some(drift) = rotator.drift().await? else { return Ok(None) };
    if args.dry_run {
        return Ok(Some(Reconciled { drift, ..Reconciled::default() }));
    }
    let foreign: Vec<&str> = drift.unknown.iter().filter(|u| !u.is_ours()).map(|u| u.key.key_id.as_str()).collect();
    let untagged = args.yes || (!foreign.is_empty() && ask(name, &foreign)?);
    Ok(Some(rotator.fix(drift, untagged).await?))
}

/// Asks at a terminal whether to revoke keys with no rotation id.
fn ask(name: &str, keys: &[&str]) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{name}: revoke {} at the provider (no rotation id: they may be someone else's)? [y/N] ", keys.join(", "));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The drift left after what was revoked.
fn remaining(done: Option<&Reconciled>) -> Drift {
    let Some(done) = done else { return Drift::default() };
    let mut left = done.drift.clone();
    left.unknown.retain(|u| !done.revoked.contains(&u.key.key_id));
    left
}

/// What to print for one credential.
fn report(name: &str, done: Option<&Reconciled>, suspects: &[Suspect], args: &Args) -> Vec<String> {
    let mut lines = Vec::new();
    match done {
        None => lines.push(format!("{name}: its plugin cannot list keys, so only suspected orphans can be shown")),
        Some(done) => {
            for unknown in &done.drift.unknown {
                let key = &unknown.key.key_id;
                let whose = match (&unknown.rotation, unknown.revoked_in_store) {
                    (Some(rotation), true) => format!("revoked in the store by rotation {rotation}, still live"),
                    (Some(rotation), false) => format!("made by rotation {rotation}, never stored"),
                    (None, _) => "no rotation id in its label: it may be someone else's".into(),
                };
                let action = match (done.revoked.contains(key), args.dry_run, unknown.is_ours()) {
                    (true, ..) => "revoked now",
                    (false, true, true) => "would be revoked",
                    (false, true, false) => "would be revoked with --yes",
                    (false, false, _) => "left live (revoke it with --yes)",
                };
                lines.push(format!("{name}: unknown key {key} at the provider ({whose}): {action}"));
            }
            for missing in &done.drift.missing {
                let label = missing.label.map_or("unlabelled".into(), |l| format!("{l:?}").to_lowercase());
                lines.push(format!(
                    "{name}: version {} ({label}, key {}) is not at the provider: revoked out of band? rotate it now: rekey rotate {name} --emergency",
                    missing.version, missing.key_id
                ));
            }
            if !done.drift.elsewhere.is_empty() {
                let mut holders: Vec<&str> = done.drift.elsewhere.iter().map(|e| e.credential.as_str()).collect();
                holders.sort_unstable();
                holders.dedup();
                lines.push(format!(
                    "{name}: {} key(s) at the provider belong to other credentials ({}): left alone",
                    done.drift.elsewhere.len(),
                    holders.join(", ")
                ));
            }
            if done.resolved > 0 {
                lines.push(format!(
                    "{name}: {} suspected orphan(s) settled (no longer at the provider, or another credential's)",
                    done.resolved
                ));
            }
            if done.drift.is_empty() {
                lines.push(format!("{name}: in step with the provider"));
            }
        }
    }
    for suspect in suspects {
        lines.push(format!("{name}: SUSPECTED ORPHAN #{}: {}", suspect.id, suspect.reason));
    }
    lines
}
