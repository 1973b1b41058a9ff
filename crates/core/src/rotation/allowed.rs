//! What may be done to a credential's open rotation: one rule each for
//! rolling back and resuming, asked by the engine before it acts and by the
//! API and dashboard before they offer or queue the action.

use super::plan::REVOKE_OLD;
use crate::store::rotations::{Rotation, State};
use crate::store::{Store, StoreError};

/// Why the credential's open rotation `open` (if any) cannot be rolled
/// back, if it cannot: only a rotation from a previous key that is not
/// revoked yet can be, since the rollback makes that key current again;
/// and, when someone who does not hold the credential asks (`asked_from_outside`),
/// not while a process runs it.
pub fn rollback_refusal(
    store: &Store,
    open: Option<&Rotation>,
    asked_from_outside: bool,
) -> Result<Option<String>, StoreError> {
    Ok(match open {
        None => Some("has nothing to roll back: it has no rotation open".into()),
        Some(open) if open.from_version.is_none() => Some(
            "has nothing to roll back: its rotation makes its first key, so there is no previous key to go back to"
                .into(),
        ),
        Some(open) if store.step_done(&open.id, REVOKE_OLD)? => {
            Some("has nothing to roll back: its previous key is already revoked; rotate again instead".into())
        }
        Some(open) if asked_from_outside && running(store, open)? => {
            Some(format!("has its rotation {} running now: roll it back once it stops", open.id))
        }
        Some(_) => None,
    })
}

/// Why the credential's open rotation `open` (if any) cannot be resumed
/// from outside, if it cannot: only one that stopped midway can be.
pub fn resume_refusal(store: &Store, open: Option<&Rotation>) -> Result<Option<String>, StoreError> {
    Ok(match open {
        Some(open) if interrupted(store, open)? => None,
        Some(open) if open.state == State::Running => Some(format!("has its rotation {} running now", open.id)),
        _ => Some("has no interrupted rotation to resume".into()),
    })
}

/// Whether `open` stopped midway: running, and no process holds its
/// credential.
pub fn interrupted(store: &Store, open: &Rotation) -> Result<bool, StoreError> {
    Ok(open.state == State::Running && !store.is_held(&open.credential)?)
}

/// Whether a process is running `open` now.
fn running(store: &Store, open: &Rotation) -> Result<bool, StoreError> {
    Ok(open.state == State::Running && store.is_held(&open.credential)?)
}
