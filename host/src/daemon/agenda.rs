//! What one credential needs from the daemon, now and next: reminders
//! before it is due, a check with its provider every `verify_every`, its
//! rotation once due (or resumed, or its grace period ended), and, for a
//! manual credential, reminders to a person instead of a rotation.

use crate::config::{Config, Credential, duration};
use crate::rotation::due::{Slot, due_at};
use crate::server::requests::{Asked, Requested};
use crate::store::rotations::{Rotation, State};
use crate::store::versions::{Label, Version};
use crate::store::{Store, StoreError};

/// A piece of work on one credential.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// Send `event` once about `subject`.
    Remind {
        /// `key.due_soon`, `key.due` or `key.revoke_pending`.
        event: &'static str,
        /// What it is about, remembered so it is sent once.
        subject: String,
        /// The event's detail.
        detail: serde_json::Value,
    },
    /// Ask the provider whether the current key works and is used.
    Verify,
    /// Start a rotation, due since then.
    Rotate {
        /// When it fell due (after jitter), if it has a key and it was not asked for.
        since: Option<i64>,
        /// Revoke the old key at once (asked for through the API).
        emergency: bool,
    },
    /// Undo the last rotation (asked for through the API).
    Rollback,
    /// Continue the open rotation: interrupted, or its grace period is over.
    Resume {
        /// Since when (the end of the grace period), if known.
        since: Option<i64>,
    },
}

/// The work due now on one credential, and when it next has some.
#[derive(Debug, Default)]
pub struct Agenda {
    /// Due now, in order.
    pub now: Vec<Task>,
    /// When more falls due, if ever.
    pub next: Option<i64>,
    /// The standing it was read from.
    pub seen: Standing,
}

/// What an agenda depends on: the current version and the open rotation.
/// Another process (a daemon sharing the store, a `rekey rotate` at a
/// shell) that rotated the credential since changes it, and the agenda is
/// then stale.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Standing {
    current: Option<i64>,
    open: Option<(String, State)>,
}

impl Standing {
    /// The credential's standing in the store now.
    pub fn read(store: &Store, name: &str) -> Result<Self, StoreError> {
        let current = store.labeled(name, Label::Current)?.map(|v| v.version);
        Ok(Self { current, open: store.open_rotation(name)?.map(|r| (r.id, r.state)) })
    }
}

impl Agenda {
    fn later(&mut self, at: i64) {
        self.next = Some(self.next.map_or(at, |next| next.min(at)));
    }

    /// Adds what someone asked for through the API, freeze or not. A
    /// rotation already due becomes an emergency if asked so; one asked
    /// while another is open waits (the API refuses such a request, but one
    /// may have started since). A rollback replaces the open rotation's
    /// continuation. A resume is already there when the rotation is
    /// interrupted (asking only saved the wait for a retry).
    pub fn ask(&mut self, credential: &str, requested: Requested) {
        let emergency = match requested.asked {
            Asked::Rotate { emergency } => emergency,
            Asked::Rollback => {
                self.now.retain(|task| !matches!(task, Task::Rotate { .. } | Task::Resume { .. }));
                self.now.push(Task::Rollback);
                return;
            }
            Asked::Resume => {
                if !self.now.iter().any(|task| matches!(task, Task::Resume { .. })) {
                    tracing::warn!("`{credential}`: nothing to resume for {}: the rotation ended since", requested.by);
                }
                return;
            }
        };
        let open = self.now.iter().any(|task| matches!(task, Task::Resume { .. }));
        let due = self.now.iter_mut().find_map(|task| match task {
            Task::Rotate { emergency, .. } => Some(emergency),
            _ => None,
        });
        match due {
            Some(due) => *due |= emergency,
            None if open => {
                tracing::warn!("`{credential}`: the rotation {} asked for waits: one is under way", requested.by)
            }
            None => self.now.push(Task::Rotate { since: None, emergency }),
        }
    }
}

const DAY: i64 = 86_400;

/// The agenda of `spec` at `now`; `frozen_until` is the end of the freeze
/// that holds now, if one does.
pub fn agenda(spec: &Credential, store: &Store, now: i64, frozen_until: Option<i64>) -> Result<Agenda, StoreError> {
    let name = &spec.name;
    let current = store.labeled(name, Label::Current)?;
    let open = store.open_rotation(name)?;
    let seen =
        Standing { current: current.as_ref().map(|v| v.version), open: open.as_ref().map(|r| (r.id.clone(), r.state)) };
    let mut agenda = Agenda { seen, ..Agenda::default() };
    remind_before(spec, store, current.as_ref(), now, &mut agenda)?;
    let manual = spec.is_manual();
    if let (Some(every), Some(current)) = (spec.policy.verify_every, &current)
        && open.as_ref().is_none_or(|o| o.state != State::Running)
    {
        // A new key was just tested by its rotation: its first check is one period on.
        let at = current.checked_at.unwrap_or(current.created_at).saturating_add(every.as_secs() as i64);
        if at <= now { agenda.now.push(Task::Verify) } else { agenda.later(at) }
    }
    match open {
        Some(open) if open.state == State::Running => agenda.now.push(Task::Resume { since: None }),
        Some(open) => {
            let until = open.revoke_after.unwrap_or(now);
            if until > now {
                agenda.later(until);
            } else if manual {
                revoke_pending(spec, store, &open, now, &mut agenda)?;
            } else if let Some(end) = frozen_until {
                agenda.later(end);
            } else {
                agenda.now.push(Task::Resume { since: Some(until) });
            }
        }
        None if manual => due_by_hand(spec, store, current.as_ref(), now, &mut agenda)?,
        None => {
            let slot = Slot::of(spec, current.as_ref(), now);
            match (slot.is_open(now), frozen_until) {
                (true, Some(end)) => agenda.later(end),
                (true, None) => agenda.now.push(Task::Rotate { since: slot.opens(), emergency: false }),
                (false, _) => {
                    if let Some(at) = slot.opens().filter(|&at| at < i64::MAX) {
                        agenda.later(at);
                    }
                }
            }
        }
    }
    Ok(agenda)
}

/// `key.due_soon` once at each of `policy.remind_before`, before the key is due.
fn remind_before(
    spec: &Credential,
    store: &Store,
    current: Option<&Version>,
    now: i64,
    agenda: &mut Agenda,
) -> Result<(), StoreError> {
    let (Some(current), Some(due)) = (current, due_at(spec, current)) else { return Ok(()) };
    let name = &spec.name;
    for before in &spec.policy.remind_before {
        let at = due.saturating_sub(before.as_secs() as i64);
        if now >= due {
            continue;
        }
        let subject = format!("v{}:{}", current.version, duration::format(*before));
        if at > now {
            agenda.later(at);
        } else if !store.noticed(name, "key.due_soon", &subject)? {
            agenda.now.push(Task::Remind {
                event: "key.due_soon",
                subject,
                detail: serde_json::json!({
                    "version": current.version, "due_at": due, "reminder": duration::format(*before),
                }),
            });
        }
    }
    Ok(())
}

/// A manual key that is due: `key.due`, once per key.
fn due_by_hand(
    spec: &Credential,
    store: &Store,
    current: Option<&Version>,
    now: i64,
    agenda: &mut Agenda,
) -> Result<(), StoreError> {
    let due = due_at(spec, current);
    let subject = current.map_or_else(|| "no-key".into(), |c| format!("v{}", c.version));
    match due {
        Some(at) if at > now => agenda.later(at),
        _ if store.noticed(&spec.name, "key.due", &subject)? => {}
        _ => agenda.now.push(Task::Remind {
            event: "key.due",
            subject,
            detail: serde_json::json!({
                "version": current.map(|c| c.version), "due_at": due,
                "action": format!("create a new key at the vendor, then run `rekey rotate {}`", &spec.name),
            }),
        }),
    }
    Ok(())
}

/// A manual rotation whose old key waits to be revoked by a person:
/// `key.revoke_pending` once a day until `rekey confirm-revoked`.
fn revoke_pending(
    spec: &Credential,
    store: &Store,
    open: &Rotation,
    now: i64,
    agenda: &mut Agenda,
) -> Result<(), StoreError> {
    let since = open.revoke_after.unwrap_or(open.started_at);
    let day = (now - since).max(0) / DAY;
    let subject = format!("{}:day{day}", open.id);
    if !store.noticed(&spec.name, "key.revoke_pending", &subject)? {
        agenda.now.push(Task::Remind {
            event: "key.revoke_pending",
            subject,
            detail: serde_json::json!({
                "rotation": open.id, "version": open.from_version, "days": day,
                "action": format!("revoke the old key at the vendor, then run `rekey confirm-revoked {}`", &spec.name),
            }),
        });
    }
    agenda.later(since + (day + 1) * DAY);
    Ok(())
}

/// The end of the freeze that holds `now`, if one does (the latest end,
/// when freezes overlap).
pub fn frozen_until(config: &Config, now: i64) -> Option<i64> {
    config.manifest.daemon.freeze.iter().filter_map(|f| f.get_ref().ends(now)).max()
}
