//! How a run of rotations reports, as each credential's rotation ends: on
//! a terminal, a progress bar (indicatif) with every rollback and failure
//! printed above it; otherwise a line per credential; with `--json`, one
//! JSON event per line (a `rotation` per credential, then the `summary`).
//! A run of several ends with the summary: how many rotated, and which
//! rolled back or failed.

use super::context::time;
use super::exit::Reported;
use crate::rotation::{Ended, RotationError, result_name};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// The report of one run.
pub(super) struct Progress {
    mode: Mode,
    summary: Summary,
}

enum Mode {
    Bar(ProgressBar),
    Lines,
    Json,
}

impl Progress {
    /// A report of `total` rotations: JSON events with `json`, a bar when
    /// both stdout and stderr are terminals, lines otherwise.
    pub(super) fn new(total: usize, json: bool) -> Self {
        let mode = if json {
            Mode::Json
        } else if total > 1 && std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            let style = ProgressStyle::with_template("{bar:40} {pos}/{len} credentials, {elapsed} {msg}")
                .expect("the template is valid");
            let bar = ProgressBar::new(total as u64).with_style(style);
            bar.tick();
            Mode::Bar(bar)
        } else {
            Mode::Lines
        };
        Self { mode, summary: Summary::default() }
    }

    /// Reports the end of one credential's rotation.
    pub(super) fn ended(&mut self, name: &str, outcome: Result<Ended, RotationError>, took: Duration) {
        let message = describe(name, &outcome);
        let seconds = took.as_secs_f64();
        match &self.mode {
            Mode::Json => {
                let event = serde_json::json!({
                    "event": "rotation", "credential": name, "result": result_name(&outcome), "ok": outcome.is_ok(),
                    "message": message, "seconds": seconds,
                });
                println!("{event}");
            }
            Mode::Lines => println!("{message} ({seconds:.2} s)"),
            // Above the bar, only what needs the operator.
            Mode::Bar(bar) if !matches!(outcome, Ok(Ended::Succeeded | Ended::FirstKey | Ended::InGrace { .. })) => {
                bar.suspend(|| println!("{message} ({seconds:.2} s)"))
            }
            Mode::Bar(_) => {}
        }
        self.summary.add(name, outcome);
        if let Mode::Bar(bar) = &self.mode {
            bar.inc(1);
            let problems = self.summary.rolled_back.len() + self.summary.failed.len();
            if problems > 0 {
                bar.set_message(format!("({problems} rolled back or failed)"));
            }
        }
    }

    /// Ends the report with the summary, and says how the run ended: every
    /// result is already printed, so what is left is the exit code.
    pub(super) fn finish(self) -> anyhow::Result<()> {
        match &self.mode {
            Mode::Json => println!("{}", self.summary.event()),
            Mode::Bar(bar) => {
                bar.finish_and_clear();
                println!("{}", self.summary);
            }
            Mode::Lines if self.summary.total() > 1 => println!("{}", self.summary),
            Mode::Lines => {}
        }
        self.summary.into_result()
    }
}

/// One line about how a credential's rotation ended.
pub(super) fn describe(name: &str, outcome: &Result<Ended, RotationError>) -> String {
    match outcome {
        Ok(Ended::Succeeded) => format!("{name}: rotated; the old key is revoked"),
        Ok(Ended::FirstKey) => format!("{name}: rotated; this is its first key, so there was no old key to revoke"),
        Ok(Ended::InGrace { until }) => format!(
            "{name}: rotated; the old key stays valid until {} UTC, then `rekey resume {name}` (or the daemon) revokes it",
            time(*until)
        ),
        Ok(Ended::RolledBack) => format!("{name}: rolled back; the previous key is current again"),
        Ok(Ended::AwaitingRevocation { after: None }) => {
            format!("{name}: rotated; now revoke the old key at the vendor, then run `rekey confirm-revoked {name}`")
        }
        Ok(Ended::AwaitingRevocation { after: Some(until) }) => format!(
            "{name}: rotated; the old key stays valid until {} UTC: then revoke it at the vendor, and run `rekey confirm-revoked {name}`",
            time(*until)
        ),
        Err(error) => format!("{name}: {error}"),
    }
}

/// How a run of rotations went, counted as each one ends.
#[derive(Default)]
struct Summary {
    rotated: usize,
    in_grace: usize,
    /// Undone, at the operator's request or after a failed step.
    rolled_back: Vec<String>,
    /// Failed and not undone (before it began, or past the point of undoing).
    failed: Vec<String>,
    /// How many failed, rolled back or not.
    errors: usize,
    /// The error of the first failure, which a run of one reports as its own.
    first_error: Option<RotationError>,
}

impl Summary {
    fn add(&mut self, name: &str, outcome: Result<Ended, RotationError>) {
        match outcome {
            Ok(Ended::Succeeded | Ended::FirstKey) => self.rotated += 1,
            Ok(Ended::InGrace { .. } | Ended::AwaitingRevocation { .. }) => self.in_grace += 1,
            Ok(Ended::RolledBack) => self.rolled_back.push(name.into()),
            Err(error) => {
                match error {
                    RotationError::Failed { rolled_back: true, .. } => self.rolled_back.push(name.into()),
                    _ => self.failed.push(name.into()),
                }
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    fn total(&self) -> usize {
        self.rotated + self.in_grace + self.rolled_back.len() + self.failed.len()
    }

    fn event(&self) -> serde_json::Value {
        serde_json::json!({
            "event": "summary", "credentials": self.total(), "rotated": self.rotated, "in_grace": self.in_grace,
            "rolled_back": self.rolled_back, "failed": self.failed,
        })
    }

    /// A single failure keeps its own error, and so its exit code.
    fn into_result(mut self) -> anyhow::Result<()> {
        match self.errors {
            0 => Ok(()),
            1 if self.total() == 1 => Err(Reported(self.first_error.take().expect("a failure was kept").into()).into()),
            n => Err(Reported(anyhow::anyhow!("{n} of {} rotations failed", self.total())).into()),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names =
            |names: &[String]| if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) };
        write!(
            f,
            "{} credentials: {} rotated, {} rotated with the old key in its grace period, {} rolled back{}, {} failed{}",
            self.total(),
            self.rotated,
            self.in_grace,
            self.rolled_back.len(),
            names(&self.rolled_back),
            self.failed.len(),
            names(&self.failed)
        )
    }
}
