//! A failed step: rolled back before `promote`, left open for `rekey
//! resume` after it; and the rollback itself.

use super::plan::{GENERATE, GENERATE_REFUSED, PROMOTE, REVOKE_OLD, ROLLBACK};
use super::{Lost, RotationError, Rotator, crash, retry};
use crate::config::Destination;
use crate::deploy::{self, Context};
use crate::runtime::PluginError;
use crate::store::rotations::{Phase, Rotation, State};

impl Rotator<'_> {
    /// Handles a failed step: before `promote`, rolls back; after it (or
    /// once the old key is revoked in an emergency) nothing can be undone, so
    /// the rotation stays open for `rekey resume` once the cause is fixed.
    pub(super) async fn fail(&self, rotation: &Rotation, step: &str, cause: String) -> RotationError {
        if let Some(lost) = self.store.lease_lost(self.name()) {
            // Another process took the rotation over: it finishes or undoes
            // it, and reports it; a rollback or a report from here would not
            // be true.
            let lost = lost.to_string();
            let cause = if cause.contains(&lost) { cause } else { format!("{cause}; {lost}") };
            return self.failed(&rotation.id, step, cause, false);
        }
        let promoted = self.store.step_done(&rotation.id, PROMOTE).unwrap_or(true);
        let old_revoked = self.store.step_done(&rotation.id, REVOKE_OLD).unwrap_or(true);
        if promoted || old_revoked {
            let recorded = self
                .store
                .audit(
                    "rotation.step_failed",
                    Some(self.name()),
                    Some(&rotation.id),
                    serde_json::json!({ "step": step, "error": cause }),
                )
                .map_err(|e| e.to_string());
            let notified = self
                .notify(
                    rotation,
                    "rotation.failed",
                    serde_json::json!({ "step": step, "error": cause, "resumable": true }),
                )
                .await;
            let cause = match recorded.and(notified) {
                Ok(()) => cause,
                Err(e) => format!("{cause}; the failure could not be recorded in the audit log either: {e}"),
            };
            return self.failed(&rotation.id, step, cause, false);
        }
        match self.undo(rotation, &format!("{step} failed: {cause}")).await {
            Ok(()) => self.failed(&rotation.id, step, cause, true),
            Err(undo) => {
                let cause =
                    format!("{cause}; the rollback failed too ({undo}); run `rekey resume` once the cause is fixed");
                self.failed(&rotation.id, step, cause, false)
            }
        }
    }

    /// Rolls back: the old key to every target that may have the new one,
    /// the new key revoked at the provider, the rotation closed.
    pub(super) async fn undo(&self, rotation: &Rotation, reason: &str) -> Result<(), String> {
        if !self.store.step_begun(&rotation.id, ROLLBACK).map_err(|e| e.to_string())? {
            self.store.record(rotation, ROLLBACK, Phase::Begun).map_err(|e| e.to_string())?;
            self.store.set_error(rotation, reason).map_err(|e| e.to_string())?;
        }
        crash::point(ROLLBACK, Phase::Begun.as_str());
        self.durable().await?;
        // After a promotion, the previous key is made current again first
        // (once: the demotion ends the grace state).
        if self.store.rotation(&rotation.id).map_err(|e| e.to_string())?.state == State::Grace {
            self.store.demote(rotation).map_err(|e| e.to_string())?;
        }
        let old = self.old_key(rotation)?.map(|(_, old)| old);
        for (index, stage) in self.spec.stages.iter().enumerate() {
            let step = format!("deploy:{}", stage.name);
            if !self.store.step_begun(&rotation.id, &step).map_err(|e| e.to_string())? {
                continue;
            }
            let completed = self.store.step_done(&rotation.id, &step).map_err(|e| e.to_string())?;
            for (place, target) in stage.targets.iter().enumerate() {
                let restored = match (target, &old) {
                    // A target plugin undoes this rotation's write itself
                    // (a label moved back), with or without an old key.
                    (Destination::Plugin(_), old) => self.restore_target(rotation, index, place, old.as_ref()).await,
                    (Destination::Builtin(target), Some(old)) => {
                        let context = Context { credential: self.name(), stage: &stage.name, key_id: &old.key_id };
                        deploy::deploy(target, old, &self.config.dir, &context).await.map_err(|e| e.to_string())
                    }
                    // A first key: there is nothing older to put back.
                    (Destination::Builtin(_), None) => Ok(()),
                };
                match restored {
                    Ok(()) => {}
                    // In the stage that failed, the target that could not
                    // take the new key cannot take the old one either: it
                    // still holds what it had.
                    Err(e) if !completed => tracing::warn!("not restored: {} ({e})", deploy::describe(target)),
                    Err(e) => return Err(format!("restoring {}: {e}", deploy::describe(target))),
                }
            }
        }
        let rotation = &self.store.rotation(&rotation.id).map_err(|e| e.to_string())?;
        if let Some(version) = rotation.to_version
            && self.store.version(self.name(), version).map_err(|e| e.to_string())?.revoked_at.is_none()
        {
            let new = self.new_key(rotation)?;
            if self.is_manual() {
                // Nobody uses it any more; a person deletes it at the vendor.
                let reason = format!(
                    "the rotation was rolled back, so the typed key {} is not used: delete it at the vendor, then run `rekey reconcile {} --resolve`",
                    new.key_id,
                    self.name()
                );
                self.suspect(rotation, Some(&new.key_id), &reason).await?;
            } else {
                let options = self.options_for(rotation);
                retry::retrying("revoke", || {
                    self.recorded("revoke", Some(&rotation.id), self.provider.revoke(&options, &new))
                })
                .await
                .map_err(|e: PluginError| format!("revoking the new key: {e}"))?;
                self.audited()?;
            }
            self.store.revoked(rotation, version, "rollback:revoke-new").map_err(|e| e.to_string())?;
            self.notify(
                rotation,
                "key.revoked",
                serde_json::json!({ "version": version, "key_id": new.key_id, "rollback": true }),
            )
            .await?;
        }
        // A generate that never came back may have made a key all the same.
        let step_done = |step| self.store.step_done(&rotation.id, step).map_err(|e| e.to_string());
        if self.store.step_begun(&rotation.id, GENERATE).map_err(|e| e.to_string())?
            && !step_done(GENERATE)?
            && !step_done(GENERATE_REFUSED)?
        {
            // Either way the rollback can finish: a possible orphan is recorded.
            let _: Lost = self
                .lost_generate(rotation, "the rotation is rolled back after a generate that did not finish")
                .await?;
        }
        self.store.record(rotation, ROLLBACK, Phase::Done).map_err(|e| e.to_string())?;
        self.store.finish(rotation, State::RolledBack, Some(reason)).map_err(|e| e.to_string())?;
        self.notify(rotation, "rotation.failed", serde_json::json!({ "error": reason })).await?;
        self.notify(rotation, "rotation.rolled_back", serde_json::json!({ "current_version": rotation.from_version }))
            .await
    }
}
