//! Doing one credential's agenda: sending its reminders, checking its key
//! with the provider, rotating it. Each event is sent to the notifiers and
//! written to the audit log.

use super::agenda::{Agenda, Standing, Task};
use super::metrics::Metrics;
use crate::config::{Config, Credential};
use crate::deploy::notify;
use crate::rotation::due::is_unused;
use crate::rotation::{Ended, RotationError, Rotator, Session, result_name};
use crate::store::versions::{Label, Version};
use crate::store::{Store, StoreError, now};
use std::time::Instant;

/// How the work on a credential went.
#[derive(Debug, Default)]
pub struct Tended {
    /// Another process holds the credential (a `rekey rotate` at a shell):
    /// try again later.
    pub busy: bool,
    /// A rotation or check failed: the next try backs off.
    pub failed: bool,
}

/// Does the agenda's tasks on `spec`, in order. Once it holds the
/// credential's lease, it checks the agenda is not stale: another process
/// may have rotated the credential between the agenda's reading and the
/// lease, and its work is then not done twice (the daemon reads a new
/// agenda, as for a credential another process holds).
pub async fn tend(session: &Session<'_>, metrics: &Metrics, spec: &Credential, agenda: Agenda) -> Tended {
    let (config, store) = (session.config(), session.store());
    let name = &spec.name;
    let mut rotator: Option<Rotator<'_>> = None;
    let mut failed = false;
    for task in agenda.now {
        if !matches!(task, Task::Remind { .. }) && rotator.is_none() {
            match session.rotator(name).await {
                Ok(_) if Standing::read(store, name).is_ok_and(|now| now != agenda.seen) => {
                    return Tended { busy: true, failed: false };
                }
                Ok(r) => rotator = Some(r),
                Err(RotationError::Store(StoreError::Busy { .. })) => return Tended { busy: true, failed: false },
                Err(e) => {
                    tracing::error!("{e}");
                    metrics.rotation(spec.plugin_name(), "failed", Default::default());
                    return Tended { failed: true, ..Tended::default() };
                }
            }
        }
        match task {
            Task::Remind { event, subject, detail } => {
                if let Err(e) = remind(config, store, spec, event, &subject, detail).await {
                    tracing::error!("the {event} reminder of `{name}` could not be recorded: {e}");
                }
            }
            Task::Verify => failed |= !verify(config, store, spec, rotator.as_ref().expect("acquired above")).await,
            Task::Rotate { .. } | Task::Resume { .. } | Task::Rollback => {
                let rotator = rotator.as_ref().expect("acquired above");
                let started = Instant::now();
                let asked_rollback = matches!(task, Task::Rollback);
                let outcome = match task {
                    Task::Rotate { emergency, .. } => rotator.rotate(emergency).await,
                    Task::Rollback => rotator.rollback().await,
                    _ => rotator.resume().await.map(|e| e.unwrap_or(Ended::Succeeded)),
                };
                let result = result_name(&outcome);
                match &outcome {
                    Ok(ended) => {
                        let took = started.elapsed().as_secs_f64();
                        tracing::info!("{} in {took:.2}s", in_words(&task, name, ended, result));
                    }
                    Err(stopped @ RotationError::Stopped { .. }) => tracing::info!("{stopped}"),
                    Err(e) => tracing::error!("{e}"),
                }
                if !matches!(outcome, Err(RotationError::Stopped { .. })) {
                    metrics.rotation(spec.plugin_name(), result, started.elapsed());
                }
                // A rollback someone asked for is a success when it rolls back.
                failed |= outcome.is_err() || (matches!(outcome, Ok(Ended::RolledBack)) && !asked_rollback);
            }
        }
    }
    Tended { busy: false, failed }
}

/// Sends a reminder, then remembers it (with its audit entry) so it is
/// sent once: a crash in between sends it again rather than never.
async fn remind(
    config: &Config,
    store: &Store,
    spec: &Credential,
    event: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), String> {
    let name = &spec.name;
    tracing::info!("`{name}`: {event}");
    send(config, store, spec, event, detail.clone()).await?;
    store.record_notice(name, event, subject, detail).map_err(|e| e.to_string())
}

/// Checks the current key with the provider, and sends `key.invalid` or
/// `key.unused` when that check changed the answer (not on every pass).
/// False when the check could not be made.
async fn verify(config: &Config, store: &Store, spec: &Credential, rotator: &Rotator<'_>) -> bool {
    let name = &spec.name;
    let before = store.labeled(name, Label::Current).ok().flatten();
    if let Err(e) = rotator.check_current().await {
        tracing::error!("{e}");
        return false;
    }
    let Ok(Some(after)) = store.labeled(name, Label::Current) else { return false };
    let now = now();
    let changed = |was: Option<&Version>, test: &dyn Fn(&Version) -> bool| {
        test(&after) && !was.filter(|v| v.version == after.version).is_some_and(test)
    };
    let mut events = Vec::new();
    if changed(before.as_ref(), &|v| v.valid == Some(false)) {
        events.push(("key.invalid", serde_json::json!({ "version": after.version, "key_id": after.key_id })));
    }
    if changed(before.as_ref(), &|v| is_unused(spec, v, now)) {
        events.push((
            "key.unused",
            serde_json::json!({ "version": after.version, "key_id": after.key_id, "last_used_at": after.last_used_at }),
        ));
    }
    for (event, detail) in events {
        tracing::warn!("`{name}`: {event}");
        let sent = send(config, store, spec, event, detail.clone()).await;
        if let Err(e) = sent.and_then(|()| store.audit(event, Some(name), None, detail).map_err(|e| e.to_string())) {
            tracing::error!("the {event} event of `{name}` could not be recorded: {e}");
        }
    }
    true
}

async fn send(
    config: &Config,
    store: &Store,
    spec: &Credential,
    event: &str,
    detail: serde_json::Value,
) -> Result<(), String> {
    let message =
        notify::Event { event, credential: &spec.name, rotation: None, at: now(), owners: &spec.policy.owners, detail };
    notify::broadcast(config, store, &message).await
}

/// What a rotation task did, for the log: ending a grace period is not
/// rotating.
fn in_words(task: &Task, name: &str, ended: &Ended, result: &str) -> String {
    match (task, ended) {
        (Task::Resume { since: Some(_) }, Ended::Succeeded) => {
            format!("the grace period of `{name}` ended: its old key is revoked")
        }
        (Task::Resume { since: Some(_) }, _) => format!("the grace period of `{name}` ended: {result}"),
        (Task::Resume { since: None }, _) => format!("the interrupted rotation of `{name}` resumed: {result}"),
        _ => format!("rotation of `{name}`: {result}"),
    }
}
