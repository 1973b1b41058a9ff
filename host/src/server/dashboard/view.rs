//! What the pages show, as text: times, ages, a credential's row. Pages
//! format here, so the templates only place strings.

use crate::human::age;
use crate::status::{RotationRecord, Standing};
use crate::store::rotations::State;
use crate::store::versions::Version;

/// `2026-11-29 19:40:05 UTC`.
pub fn time(at: i64) -> String {
    format!("{} UTC", crate::human::time(at))
}

/// An optional time, or `–`.
pub fn maybe_time(at: Option<i64>) -> String {
    at.map_or_else(|| "–".into(), time)
}

/// A credential as the overview lists it.
pub struct Row {
    pub name: String,
    pub version: String,
    pub age: String,
    pub due: String,
    pub last_used: String,
    pub check: String,
    pub last_rotation: String,
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
            || standing.last_rotation.as_ref().is_some_and(|r| matches!(r.state, State::Failed | State::RolledBack));
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
        Self {
            name: standing.name.clone(),
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
            in_progress: standing
                .in_progress
                .as_ref()
                .map_or_else(|| "–".into(), |p| format!("{} ({})", p.state, p.id)),
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
}

/// One journal step.
pub struct Step {
    pub at: String,
    pub step: String,
    pub state: String,
}

impl RotationView {
    /// The view of `record`.
    pub fn of(record: &RotationRecord) -> Self {
        let r = &record.rotation;
        let version = |v: Option<i64>| v.map_or_else(|| "none".into(), |v| format!("v{v}"));
        Self {
            id: r.id.clone(),
            state: r.state.as_str(),
            class: match r.state {
                State::Failed | State::RolledBack => "failing",
                _ => "",
            },
            started: time(r.started_at),
            emergency: r.emergency,
            versions: format!("{} → {}", version(r.from_version), version(r.to_version)),
            error: r.error.clone(),
            journal: record
                .journal
                .iter()
                .map(|j| Step { at: time(j.at), step: j.step.clone(), state: j.state.clone() })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc_to_the_second() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(maybe_time(None), "–");
    }
}
