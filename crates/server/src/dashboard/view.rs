//! What the pages show, as text: times, ages, a credential's row. Pages
//! format here, so the templates only place strings.

use crate::human::age;
use crate::status::{RotationRecord, Standing};
use crate::store::rotations::{JournalEntry, Phase, State};
use crate::store::versions::Version;

/// `2026-11-29 19:40:05 UTC`.
pub fn time(at: i64) -> String {
    format!("{} UTC", crate::human::time(at))
}

/// An optional time, or `–`.
pub fn maybe_time(at: Option<i64>) -> String {
    at.map_or_else(|| "–".into(), time)
}

/// A message as the CLI writes it, with `code` in backticks: a page shows
/// those parts as code instead of as backticks. Shown with `|safe`: every
/// part is escaped here.
pub struct Spans(Vec<(bool, String)>);

impl Spans {
    /// The parts of `text`, every other one between backticks.
    pub fn of(text: &str) -> Self {
        let parts = text.split('`').enumerate().filter(|(_, part)| !part.is_empty());
        Self(parts.map(|(i, part)| (i % 2 == 1, part.to_string())).collect())
    }
}

impl std::fmt::Display for Spans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (code, part) in &self.0 {
            let part = askama::filters::escape(part, askama::filters::Html).map_err(|_| std::fmt::Error)?;
            match code {
                true => write!(f, "<code>{part}</code>")?,
                false => write!(f, "{part}")?,
            }
        }
        Ok(())
    }
}

/// How much of a last rotation's text a table cell shows.
const SHORT: usize = 90;

/// A credential as the overview lists it.
pub struct Row {
    pub name: String,
    pub version: String,
    pub age: String,
    pub due: String,
    pub last_used: String,
    pub check: String,
    pub last_rotation: String,
    /// The same, cut to fit a table cell (the whole in its title).
    pub last_rotation_short: String,
    pub in_progress: String,
    /// `overdue`, `failing`, both or neither: what stands out.
    pub class: String,
    pub overdue: bool,
    pub failing: bool,
    pub running: bool,
}

impl Row {
    /// The row of `standing` at `now`.
    pub fn of(standing: &Standing, now: i64) -> Self {
        let failing = standing.valid == Some(false)
            || standing.last_rotation.as_ref().is_some_and(|r| matches!(r.state, State::Failed | State::RolledBack))
            || standing.in_progress.as_ref().is_some_and(|p| p.state == "interrupted");
        let overdue = standing.due;
        let due = match standing.due_at {
            None if standing.version.is_none() => "now: it has no key yet".into(),
            None => "never (no max_age or schedule)".into(),
            Some(at) if at <= now => format!("overdue by {} (since {})", age(now - at), time(at)),
            Some(at) => format!("in {} ({})", age(at - now), time(at)),
        };
        let check = match (standing.valid, standing.checked_at) {
            (Some(true), Some(at)) => format!("valid, {}", time(at)),
            (Some(false), Some(at)) => format!("INVALID, {}", time(at)),
            _ => "–".into(),
        };
        let last_rotation = standing.last_rotation.as_ref().map_or_else(
            || "–".into(),
            |r| match &r.error {
                Some(error) => format!("{} {}: {error}", r.state.as_str(), time(r.started_at)),
                None => format!("{} {}", r.state.as_str(), time(r.started_at)),
            },
        );
        let class = [(overdue, "overdue"), (failing, "failing")]
            .iter()
            .filter_map(|(on, class)| on.then_some(*class))
            .collect::<Vec<_>>()
            .join(" ");
        let last_rotation_short = match last_rotation.char_indices().nth(SHORT) {
            Some((cut, _)) => format!("{}…", &last_rotation[..cut]),
            None => last_rotation.clone(),
        };
        Self {
            name: standing.name.clone(),
            last_rotation_short,
            version: standing.version.map_or_else(|| "–".into(), |v| v.to_string()),
            age: standing.age_seconds.map_or_else(|| "–".into(), age),
            due,
            last_used: if standing.unused {
                format!("{} (unused)", maybe_time(standing.last_used_at))
            } else {
                maybe_time(standing.last_used_at)
            },
            check,
            last_rotation,
            in_progress: standing.in_progress.as_ref().map_or_else(
                || "–".into(),
                |p| match &p.next {
                    Some(next) => format!("{} ({}): {next}", p.state, p.id),
                    None => format!("{} ({})", p.state, p.id),
                },
            ),
            class,
            overdue,
            failing,
            running: standing.in_progress.is_some(),
        }
    }
}

/// One version of a credential.
pub struct VersionRow {
    pub version: i64,
    pub label: &'static str,
    pub key_id: String,
    pub created: String,
    pub revoked: String,
    pub last_used: String,
    pub check: String,
}

impl VersionRow {
    /// The row of `version`.
    pub fn of(version: &Version) -> Self {
        Self {
            version: version.version,
            label: version.label.map_or("–", |l| l.as_str()),
            key_id: version.key_id.clone(),
            created: time(version.created_at),
            revoked: maybe_time(version.revoked_at),
            last_used: maybe_time(version.last_used_at),
            check: match version.valid {
                Some(true) => "valid".into(),
                Some(false) => "INVALID".into(),
                None => "–".into(),
            },
        }
    }
}

/// One rotation, with its journal.
pub struct RotationView {
    pub id: String,
    pub state: &'static str,
    pub class: &'static str,
    pub started: String,
    pub emergency: bool,
    pub versions: String,
    pub error: Option<String>,
    pub journal: Vec<Step>,
    /// Where its key went: one line per target.
    pub deployed: Vec<String>,
}

/// One journal step: when it began, and whether (and how soon) it was done.
pub struct Step {
    pub at: String,
    pub step: String,
    pub state: String,
}

/// A journal's records as one step each: `begun` and `done` of a step
/// (the done may come later, after a resume) read as one line.
fn steps(journal: &[JournalEntry]) -> Vec<Step> {
    let mut steps: Vec<(String, i64, Option<i64>)> = Vec::new();
    for record in journal {
        match steps.iter_mut().rev().find(|(step, _, done)| *step == record.step && done.is_none()) {
            Some((_, _, done)) if record.state == Phase::Done => *done = Some(record.at),
            _ if record.state == Phase::Done => steps.push((record.step.clone(), record.at, Some(record.at))),
            _ => steps.push((record.step.clone(), record.at, None)),
        }
    }
    steps
        .into_iter()
        .map(|(step, begun, done)| Step {
            at: time(begun),
            step,
            state: done.map_or_else(|| "begun, not done".into(), |done| format!("done in {}", age(done - begun))),
        })
        .collect()
}

/// What a credential is declared as: its plugin, policy, owners and
/// stages, for people who did not write `rekey.toml`.
pub struct Declared {
    pub plugin: String,
    pub policy: String,
    pub owners: String,
    pub stages: Vec<(String, String)>,
    /// For a manual credential: what a person does.
    pub manual: Option<Spans>,
}

impl Declared {
    /// The declaration of `spec`.
    pub fn of(spec: &crate::config::Credential) -> Self {
        let policy = &spec.policy;
        let format = crate::config::duration::format;
        let due = match &policy.schedule {
            Some(schedule) => format!("at `{}` in {}", schedule.as_str(), policy.timezone.0.name()),
            None => format!("every {}", format(policy.max_age)),
        };
        let name = &spec.name;
        Self {
            plugin: spec.plugin_name().to_string(),
            policy: format!("{due}; the old key stays valid {} after the new one", format(policy.grace_period)),
            owners: if policy.owners.is_empty() { "–".into() } else { policy.owners.join(", ") },
            stages: spec
                .stages
                .iter()
                .map(|stage| {
                    let targets = stage.targets.iter().map(crate::deploy::describe);
                    let checks = stage.checks.iter().map(|c| format!("check: {}", crate::deploy::check::describe(c)));
                    (stage.name.clone(), targets.chain(checks).collect::<Vec<_>>().join("; "))
                })
                .collect(),
            manual: spec.is_manual().then(|| {
                Spans::of(&format!(
                    "A person makes this key at the vendor's console: the daemon only reminds. On the daemon's host, \
                     `rekey rotate {name}` reads the new key, deploys and checks it; then revoke the old key at the \
                     vendor and run `rekey confirm-revoked {name}`."
                ))
            }),
        }
    }
}

impl RotationView {
    /// The view of `record`.
    pub fn of(record: &RotationRecord) -> Self {
        let r = &record.rotation;
        Self {
            id: r.id.clone(),
            state: r.state.as_str(),
            class: match r.state {
                State::Failed | State::RolledBack => "failing",
                _ => "",
            },
            started: time(r.started_at),
            emergency: r.emergency,
            versions: crate::status::versions(r.from_version, r.to_version),
            error: r.error.clone(),
            journal: steps(&record.journal),
            deployed: record.deployed.iter().map(|d| format!("{}: {}", d.stage, d.describe())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_become_code_and_the_rest_is_escaped() {
        let shown = Spans::of("`a<b` is manual: run `rekey rotate a<b` & type").to_string();
        assert_eq!(shown, "<code>a&#60;b</code> is manual: run <code>rekey rotate a&#60;b</code> &#38; type");
    }

    #[test]
    fn a_step_begun_and_done_is_one_line() {
        let record = |step: &str, state: Phase, at: i64| JournalEntry { step: step.into(), state, at };
        let journal = [
            record("generate", Phase::Begun, 10),
            record("generate", Phase::Done, 12),
            record("verify", Phase::Begun, 12),
        ];
        let lines: Vec<(String, String)> = steps(&journal).into_iter().map(|s| (s.step, s.state)).collect();
        assert_eq!(lines, [("generate".into(), "done in 2s".into()), ("verify".into(), "begun, not done".into())]);
    }

    #[test]
    fn an_interrupted_rotation_counts_as_failing_and_says_what_to_run() {
        let interrupted = Standing {
            name: "c".into(),
            version: Some(1),
            key_id: None,
            age_seconds: Some(10),
            due_at: Some(1_000),
            due: false,
            last_used_at: None,
            checked_at: None,
            valid: None,
            unused: false,
            last_rotation: None,
            in_progress: Some(crate::status::InProgress {
                id: "rot-1".into(),
                state: "interrupted".into(),
                next: Some("rekey resume c".into()),
                revoke_after: None,
            }),
            suspected_orphans: vec![],
        };
        let row = Row::of(&interrupted, 100);
        assert!(row.failing, "the overview counts it");
        assert_eq!(row.in_progress, "interrupted (rot-1): rekey resume c");
    }

    #[test]
    fn times_are_shown_in_utc_to_the_second() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(maybe_time(None), "–");
    }
}
