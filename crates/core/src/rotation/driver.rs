//! The step driver: runs the steps of a rotation not done yet, journaling
//! each `begun` before its side effect and `done` after it.

use super::plan::{self, GENERATE, Kind, ROLLBACK};
use super::{Ended, RotationError, Rotator, crash, keys, retry};
use crate::config::Destination;
use crate::deploy::{self, Context, check};
use crate::runtime::{CallOptions, Credential};
use crate::store::rotations::{Phase, Rotation, State};
use crate::store::versions::Version;
use crate::store::{StoreError, now};

impl Rotator<'_> {
    /// Runs the steps of `rotation` that are not done yet. A step's `done`
    /// is written in one transaction with the next step's `begun` when
    /// nothing happens between them, and every step with a side effect
    /// waits for its `begun` (and all before it) to be on disk.
    pub(super) async fn drive(&self, rotation: Rotation) -> Result<Ended, RotationError> {
        if self.store.step_begun(&rotation.id, ROLLBACK)? {
            // A rollback was interrupted: finish it.
            let reason = rotation.error.clone().unwrap_or_else(|| "interrupted rollback".into());
            return self
                .undo(&rotation, &reason)
                .await
                .map(|()| Ended::RolledBack)
                .map_err(|cause| self.failed(&rotation.id, ROLLBACK, cause, false));
        }
        // A step whose side effect is over but whose `done` is not written yet.
        let mut finished: Option<String> = None;
        for step in plan::steps(self.spec, rotation.emergency) {
            if self.store.step_done(&rotation.id, &step.name)? {
                continue;
            }
            let rotation = self.store.rotation(&rotation.id)?;
            if step.kind == Kind::RevokeOld
                && let Some(waits) = self.old_key_waits(&rotation)?
            {
                self.record_done(&rotation, finished.take())?;
                return Ok(waits);
            }
            if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                self.record_done(&rotation, finished.take())?;
                return Err(RotationError::Stopped {
                    credential: self.name().into(),
                    rotation: rotation.id.clone(),
                    step: step.name.clone(),
                });
            }
            let started = std::time::Instant::now();
            let resumed = self.store.step_begun(&rotation.id, &step.name)?;
            self.store.batched(|| {
                self.record_done(&rotation, finished.take())?;
                self.store.record(&rotation, &step.name, Phase::Begun)
            })?;
            crash::point(&step.name, Phase::Begun.as_str());
            let ran = if self.acts_outside(&step) { self.durable().await } else { Ok(()) };
            match ran.and(self.run_step(&rotation, &step, resumed).await) {
                Ok(Done::Recorded) => {}
                Ok(Done::ToRecord) => finished = Some(step.name.clone()),
                Err(cause) => return Err(self.fail(&rotation, &step.name, cause).await),
            }
            if let Some(observer) = self.observer {
                observer.step(self.spec.plugin_name(), &step.name, started.elapsed());
            }
            crash::point(&step.name, Phase::Done.as_str());
        }
        self.record_done(&rotation, finished)?;
        Ok(if rotation.from_version.is_none() { Ended::FirstKey } else { Ended::Succeeded })
    }

    /// How the rotation ends for now when its old key is not to be revoked
    /// yet: a person revokes a manual credential's; a grace period keeps
    /// another's valid, unless this is an emergency. A first rotation has
    /// no old key, so nothing waits.
    fn old_key_waits(&self, rotation: &Rotation) -> Result<Option<Ended>, RotationError> {
        if self.old_version(rotation).map_err(|e| self.setup(&e))?.is_none() {
            return Ok(None);
        }
        let grace = rotation.revoke_after.filter(|&until| until > now());
        Ok(match grace {
            _ if self.is_manual() => Some(Ended::AwaitingRevocation { after: grace }),
            Some(until) if !rotation.emergency => Some(Ended::InGrace { until }),
            _ => None,
        })
    }

    /// Whether a step acts outside the store (a plugin call, a target
    /// written, a check run), so that its journal record must be on disk
    /// before it does. `backup` only reads and writes the store, and so does
    /// `promote` unless a target plugin stages keys;
    /// a stage without targets or checks does nothing; the notification
    /// steps wait for the disk in [`notify::broadcast`], when there is
    /// anyone to tell.
    fn acts_outside(&self, step: &plan::Step) -> bool {
        match step.kind {
            Kind::Promote => self.targets.any_staged(),
            Kind::Backup | Kind::NotifyStarted | Kind::NotifyDone => false,
            Kind::Deploy(stage) => !self.spec.stages[stage].targets.is_empty(),
            Kind::Check(stage) => !self.spec.stages[stage].checks.is_empty(),
            Kind::Generate | Kind::Verify | Kind::RevokeOld => true,
        }
    }

    /// Journals `step` (if any) done, in the open batch: a step whose
    /// `done` is lost is done again on resume.
    fn record_done(&self, rotation: &Rotation, step: Option<String>) -> Result<(), StoreError> {
        step.map_or(Ok(()), |step| self.store.batched(|| self.store.record(rotation, &step, Phase::Done)))
    }

    /// Waits until everything written so far is on disk: before a side
    /// effect, so none ever happens that the journal could forget.
    pub(super) async fn durable(&self) -> Result<(), String> {
        self.store.durable().await.map_err(|e| format!("the journal could not be written to disk: {e}"))
    }

    /// Waits for the disk before a result is reported: what the operator is
    /// told happened is on disk.
    pub(super) async fn settled<T>(&self, result: Result<T, RotationError>) -> Result<T, RotationError> {
        self.store.durable().await?;
        result
    }

    /// One step's side effect. Its `done` is journaled here when it belongs
    /// in one transaction with the step's other changes; otherwise the
    /// caller writes it ([`Done::ToRecord`]). `resumed`: an earlier run
    /// began the step and did not finish it.
    async fn run_step(&self, rotation: &Rotation, step: &plan::Step, resumed: bool) -> Result<Done, String> {
        let options = self.options_for(rotation);
        match step.kind {
            Kind::NotifyStarted => {
                self.notify(rotation, "rotation.started", serde_json::json!({ "emergency": rotation.emergency }))
                    .await?;
                Ok(Done::ToRecord)
            }
            Kind::Backup => {
                if let Some(from) = rotation.from_version {
                    let old = self.store.version(self.name(), from).map_err(|e| e.to_string())?;
                    self.store.secret(&old).map_err(|e| {
                        format!("the current key cannot be read back, so nothing would be left to roll back to: {e}")
                    })?;
                }
                Ok(Done::ToRecord)
            }
            Kind::Generate => {
                if resumed {
                    let why = "an earlier run was stopped while generating";
                    self.lost_generate(rotation, why).await?.or_stop(why)?;
                }
                let key = self.generate(rotation).await?;
                // The provider holds the key, the store does not yet.
                crash::point(GENERATE, "returned");
                self.keep(rotation, key).await.map(|()| Done::Recorded)
            }
            Kind::Verify => {
                let new = self.new_key(rotation)?;
                let verification = retry::retrying("verify", || {
                    self.recorded("verify", Some(&rotation.id), self.provider.verify(&options, &new))
                })
                .await
                .map_err(|e| e.to_string())?;
                self.audited()?;
                if !verification.valid {
                    return Err(format!("the new key does not work: {}", verification.detail.unwrap_or_default()));
                }
                Ok(Done::ToRecord)
            }
            Kind::RevokeOld => match self.old_key(rotation)? {
                Some((version, old)) => {
                    retry::retrying("revoke", || {
                        self.recorded("revoke", Some(&rotation.id), self.provider.revoke(&options, &old))
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    self.audited()?;
                    self.store.revoked(rotation, version, &step.name).map_err(|e| e.to_string())?;
                    self.notify(
                        rotation,
                        "key.revoked",
                        serde_json::json!({ "version": version, "key_id": old.key_id }),
                    )
                    .await
                    .map(|()| Done::Recorded)
                }
                None => Ok(Done::ToRecord),
            },
            Kind::Promote => {
                // Destinations that staged the key make it current first: a
                // failure here still rolls back everything.
                let staged = self.targets.any_staged();
                if staged {
                    self.promote_targets(rotation, &self.new_key(rotation)?).await?;
                }
                let grace = self.spec.policy.grace_period.as_secs() as i64;
                let promote = || self.store.promote(rotation, now() + grace);
                // Only what the destinations did must be committed at once.
                if staged { promote() } else { self.store.batched(promote) }.map_err(|e| e.to_string())?;
                Ok(Done::Recorded)
            }
            Kind::NotifyDone => {
                self.store
                    .batched(|| self.store.finish(rotation, State::Succeeded, None))
                    .map_err(|e| e.to_string())?;
                self.notify(rotation, "rotation.succeeded", serde_json::json!({ "version": rotation.to_version }))
                    .await?;
                // Written here: a finished rotation is never resumed to write it later.
                self.store
                    .batched(|| self.store.record(rotation, &step.name, Phase::Done))
                    .map_err(|e| e.to_string())?;
                Ok(Done::Recorded)
            }
            Kind::Deploy(index) | Kind::Check(index) => {
                let stage = &self.spec.stages[index];
                let new = self.new_key(rotation)?;
                let context = Context { credential: self.name(), stage: &stage.name, key_id: &new.key_id };
                if let Kind::Deploy(_) = step.kind {
                    for (place, target) in stage.targets.iter().enumerate() {
                        let written = match target {
                            Destination::Builtin(builtin) => deploy::deploy(builtin, &new, &self.config.dir, &context)
                                .await
                                .map_err(|e| e.to_string())
                                .and_then(|()| {
                                    let location = deploy::describe(target);
                                    self.deployed(rotation, index, None, &location, None, None)
                                }),
                            Destination::Plugin(_) => self.write_target(rotation, index, place, &new).await,
                        };
                        written.map_err(|e| format!("{}: {e}", deploy::describe(target)))?;
                    }
                } else {
                    for c in &stage.checks {
                        check::run(c, &new.secret, &self.config.dir, &context)
                            .await
                            .map_err(|e| format!("{}: {e}", check::describe(c)))?;
                    }
                }
                Ok(Done::ToRecord)
            }
        }
    }

    /// The call options of a rotation's plugin calls: its id, and the key it
    /// replaces, which no result may carry.
    pub(super) fn options_for(&self, rotation: &Rotation) -> CallOptions {
        let old = self.old_key(rotation).ok().flatten().map(|(_, key)| key.secret);
        CallOptions {
            rotation_id: rotation.id.clone(),
            known_secrets: old.into_iter().collect(),
            tape: None,
            ..self.options.clone()
        }
    }

    /// The key this rotation generated.
    pub(super) fn new_key(&self, rotation: &Rotation) -> Result<Credential, String> {
        let version = rotation.to_version.ok_or("the rotation has no new key")?;
        self.store
            .version(self.name(), version)
            .and_then(|v| self.store.credential(&v))
            .map(keys::for_provider)
            .map_err(|e| e.to_string())
    }

    /// The key this rotation replaces, unless there is none or it is revoked.
    pub(super) fn old_key(&self, rotation: &Rotation) -> Result<Option<(i64, Credential)>, String> {
        let Some(version) = self.old_version(rotation)? else { return Ok(None) };
        let key = self.store.credential(&version).map_err(|e| e.to_string())?;
        Ok(Some((version.version, keys::for_provider(key))))
    }

    /// The version this rotation replaces, unless there is none or it is
    /// revoked: its secret is not opened.
    fn old_version(&self, rotation: &Rotation) -> Result<Option<Version>, String> {
        let Some(from) = rotation.from_version else { return Ok(None) };
        let version = self.store.version(self.name(), from).map_err(|e| e.to_string())?;
        Ok(version.revoked_at.is_none().then_some(version))
    }
}

/// Who journals a step done.
enum Done {
    /// The step did, with its other changes.
    Recorded,
    /// The caller does, with whatever it writes next.
    ToRecord,
}
