//! `rekey status` and `rekey history NAME`.

use super::context::{Context, age, time};
use crate::store::lock::CredentialLock;
use crate::store::now;
use crate::store::rotations::{Rotation, State};
use crate::store::versions::Label;

/// Each declared credential: version, age, due date, last rotation, anything
/// in progress.
pub fn status(json: bool, context: &Context) -> anyhow::Result<()> {
    let store = context.store()?;
    let mut rows = Vec::new();
    for spec in &context.config.manifest.credentials {
        let name = spec.name.get_ref();
        let current = store.labeled(name, Label::Current)?;
        let last = store.rotations(name)?.into_iter().next();
        let open = store.open_rotation(name)?;
        let due_at = current.as_ref().map(|v| v.created_at + spec.policy.max_age.as_secs() as i64);
        // Unused: the provider's last reported use (or, never used, the key's
        // creation) is older than the policy allows.
        let unused = match (&current, spec.policy.unused_after) {
            (Some(v), Some(limit)) if v.checked_at.is_some() => {
                now() - v.last_used_at.unwrap_or(v.created_at) > limit.as_secs() as i64
            }
            _ => false,
        };
        rows.push(serde_json::json!({
            "name": name,
            "version": current.as_ref().map(|v| v.version),
            "key_id": current.as_ref().map(|v| v.key_id.clone()),
            "age_seconds": current.as_ref().map(|v| now() - v.created_at),
            "due_at": due_at,
            "due": due_at.is_none_or(|t| t <= now()),
            "last_used_at": current.as_ref().and_then(|v| v.last_used_at),
            "checked_at": current.as_ref().and_then(|v| v.checked_at),
            "valid": current.as_ref().and_then(|v| v.valid),
            "unused": unused,
            "last_rotation": last.as_ref().map(|r| serde_json::json!({ "id": r.id, "state": r.state, "started_at": r.started_at, "error": r.error })),
            "in_progress": open.as_ref().map(|r| -> anyhow::Result<_> {
                Ok(serde_json::json!({ "id": r.id, "state": progress(r, &store)?, "revoke_after": r.revoke_after }))
            }).transpose()?,
            "suspected_orphans": store.suspects(Some(name))?,
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<22} {:<7} {:<10} {:<21} {:<18} {:<28} IN PROGRESS",
        "NAME", "VERSION", "AGE", "DUE", "LAST USED", "LAST ROTATION"
    );
    for r in &rows {
        let version = r["version"].as_i64().map_or("-".into(), |v| format!("v{v}"));
        let age_text = r["age_seconds"].as_i64().map_or("-".into(), age);
        let due = match r["due_at"].as_i64() {
            Some(t) if r["due"] == true => format!("OVERDUE {}", &time(t)[..10]),
            Some(t) => time(t)[..10].to_string(),
            None => "now (no key)".into(),
        };
        let used = match (r["last_used_at"].as_i64(), r["unused"] == true) {
            (Some(t), true) => format!("UNUSED {}", &time(t)[..10]),
            (None, true) => "UNUSED (never)".into(),
            (Some(t), false) => time(t)[..10].to_string(),
            (None, false) => "-".into(),
        };
        let last = r["last_rotation"]["state"].as_str().map_or("never".into(), |s| {
            format!("{s} {}", time(r["last_rotation"]["started_at"].as_i64().unwrap_or_default()))
        });
        let mut open = r["in_progress"]["state"]
            .as_str()
            .map_or("-".into(), |s| format!("{s} {}", r["in_progress"]["id"].as_str().unwrap_or_default()));
        if let Some(n) = r["suspected_orphans"].as_array().map(Vec::len).filter(|n| *n > 0) {
            open =
                format!("{open}; {n} SUSPECTED ORPHAN(S): rekey reconcile {}", r["name"].as_str().unwrap_or_default());
        }
        println!(
            "{:<22} {:<7} {:<10} {:<21} {:<18} {:<28} {}",
            r["name"].as_str().unwrap_or_default(),
            version,
            age_text,
            due,
            used,
            last,
            open
        );
    }
    Ok(())
}

/// Where an open rotation stands: `running` while a process holds its
/// credential's lock, `interrupted (run rekey resume)` when none does.
fn progress(rotation: &Rotation, store: &crate::store::Store) -> anyhow::Result<String> {
    Ok(match rotation.state {
        State::Running if !CredentialLock::is_held(store.path(), &rotation.credential)? => {
            "interrupted (run rekey resume)".into()
        }
        state => serde_json::to_value(state)?.as_str().unwrap_or_default().into(),
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
