//! `rekey status` and `rekey history NAME`.

use super::context::{Context, age, time};
use crate::store::lock::CredentialLock;
use crate::store::now;
use crate::store::rotations::{Rotation, State};
use crate::store::suspects::Suspect;
use std::io::Write;

/// One line of `rekey status`, and its JSON form.
#[derive(serde::Serialize)]
struct Row<'a> {
    name: &'a str,
    version: Option<i64>,
    key_id: Option<&'a str>,
    age_seconds: Option<i64>,
    due_at: Option<i64>,
    due: bool,
    last_used_at: Option<i64>,
    checked_at: Option<i64>,
    valid: Option<bool>,
    unused: bool,
    last_rotation: Option<LastRotation<'a>>,
    in_progress: Option<InProgress<'a>>,
    suspected_orphans: &'a [Suspect],
}

#[derive(serde::Serialize)]
struct LastRotation<'a> {
    id: &'a str,
    state: State,
    started_at: i64,
    error: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct InProgress<'a> {
    id: &'a str,
    state: String,
    revoke_after: Option<i64>,
}

/// Each declared credential: version, age, due date, last rotation, anything
/// in progress.
pub fn status(json: bool, context: &Context) -> anyhow::Result<()> {
    let store = context.store()?;
    let overview = store.overview()?;
    let now = now();
    let mut rows = Vec::with_capacity(context.config.manifest.credentials.len());
    for spec in &context.config.manifest.credentials {
        let name = spec.name.get_ref();
        let current = overview.current(name);
        let due_at = crate::rotation::due::due_at(spec, current);
        let unused = current.is_some_and(|v| crate::rotation::due::is_unused(spec, v, now));
        rows.push(Row {
            name,
            version: current.map(|v| v.version),
            key_id: current.map(|v| v.key_id.as_str()),
            age_seconds: current.map(|v| now - v.created_at),
            due_at,
            due: due_at.is_none_or(|t| t <= now),
            last_used_at: current.and_then(|v| v.last_used_at),
            checked_at: current.and_then(|v| v.checked_at),
            valid: current.and_then(|v| v.valid),
            unused,
            last_rotation: overview.last_rotation(name).map(|r| LastRotation {
                id: &r.id,
                state: r.state,
                started_at: r.started_at,
                error: r.error.as_deref(),
            }),
            in_progress: overview
                .open_rotation(name)
                .map(|r| -> anyhow::Result<_> {
                    let manual = crate::config::Config::is_manual(spec);
                    Ok(InProgress { id: &r.id, state: progress(r, manual, now, &store)?, revoke_after: r.revoke_after })
                })
                .transpose()?,
            suspected_orphans: overview.suspects(name),
        });
    }
    // One write for thousands of lines, not one per line.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(out.flush()?);
    }
    writeln!(
        out,
        "{:<22} {:<7} {:<10} {:<21} {:<18} {:<28} IN PROGRESS",
        "NAME", "VERSION", "AGE", "DUE", "LAST USED", "LAST ROTATION"
    )?;
    for r in &rows {
        let version = r.version.map_or("-".into(), |v| format!("v{v}"));
        let age_text = r.age_seconds.map_or("-".into(), age);
        let due = match r.due_at {
            Some(t) if r.due => format!("OVERDUE {}", &time(t)[..10]),
            Some(t) => time(t)[..10].to_string(),
            None => "now (no key)".into(),
        };
        let used = match (r.last_used_at, r.unused) {
            (Some(t), true) => format!("UNUSED {}", &time(t)[..10]),
            (None, true) => "UNUSED (never)".into(),
            (Some(t), false) => time(t)[..10].to_string(),
            (None, false) => "-".into(),
        };
        let last =
            r.last_rotation.as_ref().map_or("never".into(), |l| format!("{} {}", l.state.as_str(), time(l.started_at)));
        let mut open = r.in_progress.as_ref().map_or("-".into(), |p| format!("{} {}", p.state, p.id));
        if !r.suspected_orphans.is_empty() {
            let n = r.suspected_orphans.len();
            open = format!("{open}; {n} SUSPECTED ORPHAN(S): rekey reconcile {}", r.name);
        }
        writeln!(out, "{:<22} {version:<7} {age_text:<10} {due:<21} {used:<18} {last:<28} {open}", r.name)?;
    }
    Ok(out.flush()?)
}

/// Where an open rotation stands: `running` while a process holds its
/// credential's lock, `interrupted (run rekey resume)` when none does;
/// a manual credential past its grace period waits for a person.
fn progress(rotation: &Rotation, manual: bool, now: i64, store: &crate::store::Store) -> anyhow::Result<String> {
    Ok(match rotation.state {
        State::Running if !CredentialLock::is_held(store.path(), &rotation.credential)? => {
            "interrupted (run rekey resume)".into()
        }
        State::Grace if manual && rotation.revoke_after.is_some_and(|t| t <= now) => {
            format!("revoke the old key at the vendor, then rekey confirm-revoked {}", rotation.credential)
        }
        state => state.as_str().into(),
    })
}

/// Every rotation of a credential, with its journal.
pub fn history(name: &str, json: bool, context: &Context) -> anyhow::Result<()> {
    context.declared(name)?;
    let store = context.store()?;
    let rotations = store.rotations(name)?;
    if json {
        let mut out = Vec::new();
        for r in &rotations {
            out.push(serde_json::json!({ "rotation": r, "journal": store.journal(&r.id)? }));
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if rotations.is_empty() {
        println!("`{name}` has never been rotated");
    }
    for r in &rotations {
        let versions = format!(
            "v{} -> v{}",
            r.from_version.map_or("-".into(), |v| v.to_string()),
            r.to_version.map_or("-".into(), |v| v.to_string())
        );
        println!(
            "{}  {}  {:?}{}  {versions}",
            time(r.started_at),
            r.id,
            r.state,
            if r.emergency { " (emergency)" } else { "" }
        );
        if let Some(error) = &r.error {
            println!("    error: {error}");
        }
        let steps: Vec<String> =
            store.journal(&r.id)?.into_iter().filter(|j| j.state == "done").map(|j| j.step).collect();
        println!("    done: {}", steps.join(", "));
    }
    Ok(())
}
