//! `rekey status` and `rekey history NAME`, read from the store here or
//! from a daemon's API (`--server`), printed the same way.

use super::context::{Context, age, time};
use crate::status::{RotationRecord, Standing};
use crate::store::now;
use std::io::Write;

/// Each declared credential: version, age, due date, last rotation, anything
/// in progress. Printed as each is read: 10,000 credentials are never all
/// held at once.
pub fn status(json: bool, context: &Context) -> anyhow::Result<()> {
    let store = context.store()?;
    print_status(json, |row| crate::status::for_each_standing(&context.config, &store, now(), |_| true, row))
}

/// Prints, as `rekey status` does, each row `rows` hands to its callback,
/// as it comes.
pub fn print_status(
    json: bool,
    rows: impl FnOnce(&mut dyn FnMut(Standing) -> anyhow::Result<()>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use serde::ser::{SerializeSeq, Serializer};
    // One write for thousands of lines, not one per line.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        let mut json = serde_json::Serializer::pretty(&mut out);
        let mut array = json.serialize_seq(None)?;
        rows(&mut |row| Ok(array.serialize_element(&row)?))?;
        array.end()?;
        writeln!(out)?;
        return Ok(out.flush()?);
    }
    writeln!(
        out,
        "{:<22} {:<7} {:<10} {:<21} {:<18} {:<28} IN PROGRESS",
        "NAME", "VERSION", "AGE", "DUE", "LAST USED", "LAST ROTATION"
    )?;
    let now = now();
    rows(&mut |r| Ok(write_row(&mut out, &r, now)?))?;
    Ok(out.flush()?)
}

/// One line of the table.
fn write_row(out: &mut impl Write, r: &Standing, now: i64) -> std::io::Result<()> {
    let version = r.version.map_or("-".into(), |v| format!("v{v}"));
    let age_text = r.age_seconds.map_or("-".into(), age);
    let due = r.due_at.map_or_else(|| "now (no key)".into(), |at| due_column(at, now));
    let used = match (r.last_used_at, r.unused) {
        (Some(t), true) => format!("UNUSED {}", date(t)),
        (None, true) => "UNUSED (never)".into(),
        (Some(t), false) => date(t),
        (None, false) => "-".into(),
    };
    let last =
        r.last_rotation.as_ref().map_or("never".into(), |l| format!("{} {}", l.state.as_str(), time(l.started_at)));
    let mut open = r.in_progress.as_ref().map_or("-".into(), |p| match &p.next {
        Some(next) => format!("{} {} (next: {next})", p.state, p.id),
        None => format!("{} {}", p.state, p.id),
    });
    if !r.suspected_orphans.is_empty() {
        let n = r.suspected_orphans.len();
        open = format!("{open}; {n} SUSPECTED ORPHAN(S): rekey reconcile {}", r.name);
    }
    writeln!(out, "{:<22} {version:<7} {age_text:<10} {due:<21} {used:<18} {last:<28} {open}", r.name)
}

/// When a credential is due, to fit the DUE column: the date when it is
/// days away, the hours and minutes when it is close.
fn due_column(at: i64, now: i64) -> String {
    const TWO_DAYS: i64 = 2 * 86_400;
    match at - now {
        ..=0 if now - at < TWO_DAYS => format!("OVERDUE by {}", age(now - at)),
        ..=0 => format!("OVERDUE {}", date(at)),
        ahead if ahead < TWO_DAYS => format!("in {}", age(ahead)),
        _ => date(at),
    }
}

/// The day of `at` (or `never`).
fn date(at: i64) -> String {
    time(at).chars().take(10).collect()
}

/// Every rotation of a credential, with its journal.
pub fn history(name: &str, json: bool, context: &Context) -> anyhow::Result<()> {
    context.declared(name)?;
    let store = context.store()?;
    print_history(name, &crate::status::history(&store, name)?, json)
}

/// Prints `records` as `rekey history NAME` does.
pub fn print_history(name: &str, records: &[RotationRecord], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&records)?);
        return Ok(());
    }
    if records.is_empty() {
        println!("`{name}` has never been rotated");
    }
    for RotationRecord { rotation: r, journal, deployed } in records {
        println!(
            "{}  {}  {}{}  {}",
            time(r.started_at),
            r.id,
            r.state.as_str(),
            if r.emergency { " (emergency)" } else { "" },
            crate::status::versions(r.from_version, r.to_version)
        );
        if let Some(error) = &r.error {
            println!("    error: {error}");
        }
        let steps: Vec<&str> = journal
            .iter()
            .filter(|j| j.state == crate::store::rotations::Phase::Done)
            .map(|j| j.step.as_str())
            .collect();
        println!("    done: {}", steps.join(", "));
        for d in deployed {
            let revision = d.revision.as_ref().map_or(String::new(), |revision| format!(", revision {revision}"));
            println!("    deployed to {} ({}{revision})", d.describe(), d.stage);
        }
    }
    Ok(())
}
