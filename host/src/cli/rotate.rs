//! `rekey rotate`, `resume`, `rollback` and `revoke-previous`: the commands
//! that drive the rotation state machine.

use super::context::Context;
use super::exit::{Reported, UsageError};
use super::progress::{Progress, describe};
use crate::config::{Config, Credential, Destination, duration};
use crate::deploy::{self, check};
use crate::rotation::{Ended, Session, is_due, plan};
use crate::store::Store;
use crate::store::versions::Label;
use std::collections::HashMap;
use std::io::IsTerminal;

/// Arguments of `rekey rotate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credentials to rotate.
    pub(super) names: Vec<String>,
    /// Also every credential whose key is older than its policy's max_age (or has none); none due is success.
    #[arg(long)]
    pub(super) all_due: bool,
    /// A leak or a departure: revoke the old key right after the new one verifies, with no grace period.
    #[arg(long)]
    pub(super) emergency: bool,
    /// Print the plan (every step, target and check) and change nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Skip the confirmation of --emergency.
    #[arg(long)]
    pub(super) yes: bool,
    /// How many credentials rotate at once (one rotation per credential, always).
    #[arg(long, short = 'j', default_value_t = DEFAULT_JOBS, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// Print JSON: the plans with --dry-run; otherwise one event per credential, then a summary.
    #[arg(long)]
    pub(super) json: bool,
}

/// Rotations at once unless `--jobs` says otherwise: enough to overlap
/// providers' round trips and the disk's flushes, few enough not to look
/// like a flood to a provider's rate limits.
pub const DEFAULT_JOBS: u16 = 4;

/// Rotates the named (and due) credentials, `--jobs` at a time.
pub async fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    let config = &context.config;
    let mut names = Vec::new();
    let mut named = std::collections::HashSet::new();
    for name in &args.names {
        context.declared(name)?;
        // One rotation per credential, however often it is named.
        if named.insert(name.as_str()) {
            names.push(name.clone());
        }
    }
    if args.dry_run {
        return print_plans(&names, args.all_due, args.emergency, args.json, context);
    }
    let store = context.store()?;
    if args.all_due {
        add_due(&mut names, &store, config)?;
    }
    if names.is_empty() && !args.all_due {
        return Err(UsageError("nothing to rotate: name credentials, or use --all-due".into()).into());
    }
    if names.is_empty() {
        // A nightly `rotate --all-due` with nothing due has succeeded.
        return match args.json {
            true => Progress::new(0, true).finish(),
            false => {
                println!("nothing due");
                Ok(())
            }
        };
    }
    if args.emergency {
        confirm(args.yes, &format!("revoke the current key of {} as soon as the new one verifies", names.join(", ")))?;
    }
    let manual: Vec<&str> =
        names.iter().map(String::as_str).filter(|n| config.credential(n).is_some_and(Credential::is_manual)).collect();
    let typed = std::sync::Mutex::new(super::manual::read_keys(&manual)?.into_iter().collect::<HashMap<_, _>>());
    let runtime = context.runtime()?;
    let session = Session::new(config, &store, &runtime)?;
    let emergency = args.emergency;
    let typed = &typed;
    let mut progress = Progress::new(names.len(), args.json);
    session
        .each(
            &names,
            args.jobs.into(),
            |rotator| async move {
                if let Some(key) = typed.lock().unwrap_or_else(|e| e.into_inner()).remove(rotator.name()) {
                    rotator.type_key(key)?;
                }
                rotator.rotate(emergency).await
            },
            |name, outcome, took| progress.ended(name, outcome, took),
        )
        .await;
    progress.finish()
}

/// `rekey resume`: continues every interrupted rotation and ends the grace
/// periods that are over, `jobs` at a time.
pub async fn resume(jobs: u16, json: bool, context: &Context) -> anyhow::Result<()> {
    let store = context.store()?;
    let open = store.open_rotations()?;
    if open.is_empty() {
        println!("nothing to resume");
        return Ok(());
    }
    let runtime = context.runtime()?;
    let session = Session::new(&context.config, &store, &runtime)?;
    let names: Vec<String> = open.into_iter().map(|r| r.credential).collect();
    let mut progress = Progress::new(names.len(), json);
    session
        .each(
            &names,
            jobs.into(),
            |rotator| async move { rotator.resume().await.map(|ended| ended.unwrap_or(Ended::Succeeded)) },
            |name, outcome, took| progress.ended(name, outcome, took),
        )
        .await;
    progress.finish()
}

/// What `rekey rollback`, `revoke-previous` and `confirm-revoked` do to a
/// credential's open rotation.
#[derive(Clone, Copy, Debug)]
pub enum Finish {
    /// Put the previous key back and revoke the new one.
    Rollback,
    /// Revoke the previous key now, before its grace period ends.
    RevokePrevious,
    /// Record that a person revoked a manual credential's previous key.
    ConfirmRevoked,
}

/// `rekey rollback NAME`, `rekey revoke-previous NAME` and `rekey confirm-revoked NAME`.
pub async fn finish(name: &str, finish: Finish, yes: bool, context: &Context) -> anyhow::Result<()> {
    context.declared(name)?;
    let action = match finish {
        Finish::Rollback => format!("put the previous key of `{name}` back in every target and revoke the new one"),
        Finish::RevokePrevious => format!("revoke the previous key of `{name}` now, before its grace period ends"),
        Finish::ConfirmRevoked => format!("record that the previous key of `{name}` is revoked at the vendor"),
    };
    confirm(yes, &action)?;
    let store = context.store()?;
    let runtime = context.runtime()?;
    let session = Session::new(&context.config, &store, &runtime)?;
    let rotator = session.rotator(name).await?;
    let outcome = match finish {
        Finish::Rollback => rotator.rollback().await,
        Finish::RevokePrevious => rotator.revoke_previous().await,
        Finish::ConfirmRevoked => rotator.confirm_revoked().await,
    };
    println!("{}", describe(name, &outcome));
    outcome.map(drop).map_err(|e| Reported(e.into()).into())
}

/// Asks before a destructive action, unless `--yes`.
pub(super) fn confirm(yes: bool, action: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!("this would {action}; confirm with --yes")).into());
    }
    eprint!("This will {action}. Continue? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { Err(UsageError("cancelled".into()).into()) }
}

/// Adds every declared credential that is due to `names`, once. Manual
/// credentials are left out: a person rotates each of them by name.
fn add_due(names: &mut Vec<String>, store: &Store, config: &Config) -> anyhow::Result<()> {
    let overview = store.overview()?;
    let now = crate::store::now();
    let mut named: std::collections::HashSet<String> = names.iter().cloned().collect();
    for spec in config.credentials() {
        let name = &spec.name;
        if !spec.is_manual() && is_due(overview.current(name), spec, now) && named.insert(name.clone()) {
            names.push(name.clone());
        }
    }
    Ok(())
}

fn print_plans(names: &[String], all_due: bool, emergency: bool, json: bool, context: &Context) -> anyhow::Result<()> {
    let config = &context.config;
    let mut names = names.to_vec();
    // A plan needs no store, but shows the current version when there is one.
    let store = if all_due { Some(context.store()?) } else { context.store().ok() };
    if let (true, Some(store)) = (all_due, &store) {
        add_due(&mut names, store, config)?;
    }
    let mut plans = Vec::new();
    let mut problems = 0;
    for name in &names {
        let spec = config.credential(name).expect("checked above");
        let steps = plan::steps(spec, emergency);
        let found = preflight(spec, config);
        problems += found.len();
        let current = match &store {
            Some(store) => store.labeled(name, Label::Current)?.map(|v| v.version),
            None => None,
        };
        if !json {
            println!("plan for `{name}` (dry run: nothing is changed){}", if emergency { " — EMERGENCY" } else { "" });
            println!("  current version: {}", current.map_or("none".into(), |v| v.to_string()));
            println!("  grace period: {}", duration::format(spec.policy.grace_period));
            for (i, step) in steps.iter().enumerate() {
                println!("  {:>2}. {:<16} {}", i + 1, step.name, step.description);
            }
            for problem in &found {
                println!("  PROBLEM: {problem}");
            }
        }
        plans.push(serde_json::json!({ "credential": name, "emergency": emergency, "current_version": current, "steps": steps, "problems": found }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&plans)?);
    }
    if problems > 0 {
        let error = UsageError(format!("{problems} problem(s) would stop the rotation; fix them first"));
        return Err(if json { Reported(error.into()).into() } else { error.into() });
    }
    Ok(())
}

/// What would fail a rotation of `spec` before it starts: targets that
/// cannot be written, target plugins that are not installed, commands that
/// do not exist.
fn preflight(spec: &Credential, config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    for stage in &spec.stages {
        for target in &stage.targets {
            let ready = match target {
                Destination::Builtin(builtin) => deploy::preflight(builtin, &config.dir).map_err(|e| e.to_string()),
                Destination::Plugin(plugin) => config.plugin_file(&plugin.plugin).map(drop),
            };
            if let Err(e) = ready {
                problems.push(format!("stage {}: {}: {e}", stage.name, deploy::describe(target)));
            }
        }
        for c in &stage.checks {
            if let Err(e) = check::preflight(c, &config.dir) {
                problems.push(format!("stage {}: {}: {e}", stage.name, check::describe(c)));
            }
        }
    }
    problems
}
