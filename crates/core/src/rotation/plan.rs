//! The steps of one rotation, in order, derived from the credential's
//! declaration. The same list drives the rotation, the journal and
//! `rekey rotate --dry-run`.

use crate::config::Credential;
use crate::deploy::{check, describe};

/// Step names, as journaled.
pub const NOTIFY_STARTED: &str = "notify:started";
/// See [`NOTIFY_STARTED`].
pub const BACKUP: &str = "backup";
/// See [`NOTIFY_STARTED`].
pub const GENERATE: &str = "generate";
/// See [`NOTIFY_STARTED`].
pub const VERIFY: &str = "verify";
/// See [`NOTIFY_STARTED`].
pub const PROMOTE: &str = "promote";
/// See [`NOTIFY_STARTED`].
pub const REVOKE_OLD: &str = "revoke-old";
/// See [`NOTIFY_STARTED`].
pub const NOTIFY_DONE: &str = "notify:done";
/// Journaled when a rotation is being undone.
pub const ROLLBACK: &str = "rollback";
/// Journaled done when the provider refused `generate` before it could
/// make anything (bad config, a refused admin secret), so the rollback
/// does not look for a key that was never made.
pub const GENERATE_REFUSED: &str = "generate:refused";

/// What a step does, to dispatch on; its journal name is [`Step::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Tell the notifiers the rotation started.
    NotifyStarted,
    /// Make sure the current key can be read back.
    Backup,
    /// Have the provider make a new key, and store it.
    Generate,
    /// Check the new key with the provider.
    Verify,
    /// Write the new key to the targets of the stage with this index.
    Deploy(usize),
    /// Run the checks of the stage with this index.
    Check(usize),
    /// Make the new key current.
    Promote,
    /// Revoke the old key.
    RevokeOld,
    /// Record the outcome and tell the notifiers.
    NotifyDone,
}

/// One step of a plan.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Step {
    /// What it does.
    #[serde(skip)]
    pub kind: Kind,
    /// The journal name, e.g. `deploy:prod`.
    pub name: String,
    /// What it does, for people.
    pub description: String,
}

/// The journal name of the deploy step of the stage `stage`.
pub fn deploy(stage: &str) -> String {
    format!("deploy:{stage}")
}

/// Every step of a rotation of `spec`, in order.
pub fn steps(spec: &Credential, emergency: bool) -> Vec<Step> {
    let step = |kind: Kind, name: &str, description: String| Step { kind, name: name.into(), description };
    let plugin = &spec.plugin;
    let mut steps = vec![
        step(
            Kind::NotifyStarted,
            NOTIFY_STARTED,
            format!("tell the notifiers and owners ({}) that the rotation started", spec.policy.owners.join(", ")),
        ),
        step(Kind::Backup, BACKUP, "keep the current key as the one to roll back to".into()),
        step(
            Kind::Generate,
            GENERATE,
            format!("create a new key with the `{plugin}` plugin and store it, encrypted, as pending"),
        ),
        step(Kind::Verify, VERIFY, format!("check the new key works with the `{plugin}` plugin")),
    ];
    let revoke = step(Kind::RevokeOld, REVOKE_OLD, format!("revoke the old key with the `{plugin}` plugin"));
    if emergency {
        steps.push(Step {
            description: format!("{} now (emergency: no grace period)", revoke.description),
            ..revoke.clone()
        });
    }
    for (i, stage) in spec.stages.iter().enumerate() {
        let name = &stage.name;
        let targets: Vec<String> = stage.targets.iter().map(describe).collect();
        let checks: Vec<String> = stage.checks.iter().map(check::describe).collect();
        steps.push(step(Kind::Deploy(i), &deploy(name), format!("write the new key to: {}", list(&targets))));
        steps.push(step(Kind::Check(i), &format!("check:{name}"), format!("run the checks: {}", list(&checks))));
    }
    steps.push(step(Kind::Promote, PROMOTE, "make the new key current and the old one previous".into()));
    if !emergency {
        let grace = crate::config::duration::format(spec.policy.grace_period);
        steps.push(Step { description: format!("{} after the {grace} grace period", revoke.description), ..revoke });
    }
    steps.push(step(Kind::NotifyDone, NOTIFY_DONE, "record the outcome and tell the notifiers".into()));
    steps
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "(none)".into() } else { items.join("; ") }
}
