//! The rotation state machine: the steps of a safe key reset, journaled so
//! that a killed process resumes where it stopped and never loses a key the
//! provider already made.
//!
//! `notify:started → backup → generate → verify → (emergency: revoke-old) →
//! deploy:S → check:S (each stage S in order) → promote → (after the grace
//! period: revoke-old) → notify:done`
//!
//! Each step is journaled `begun` before its side effect and `done` after it;
//! every side effect is idempotent, so a step that was begun but not done is
//! simply run again. A failure before `promote` rolls back: the old key goes
//! back to every target and the new one is revoked.
//!
//! `generate` is the one step whose side effect the host may never hear
//! about: the provider can make a key and the answer be lost. What happens
//! then depends on what the provider can do (see [`reconcile`]): return the
//! same key for the same rotation id, or list its keys so the host finds
//! and revokes the lost one; with neither, the host records a suspected
//! orphan and never retries blindly. Every key that reaches the host is
//! stored, or revoked before the error is reported; every event is in the
//! audit log, or the step fails.

mod crash;
pub mod due;
pub mod issuer;
mod observer;
pub mod plan;
mod provider;
pub mod reconcile;
mod retry;
mod session;

use crate::config::reference::Reference;
use crate::config::{Config, CredentialSpec, plugin_config};
use crate::deploy::{self, Context, check, notify};
use crate::runtime::{CallOptions, Credential, Endpoint, Exchange, Grants, Outcome, PluginError, ProviderError};
use crate::store::lease::Lease;
use crate::store::rotations::{Rotation, State};
use crate::store::versions::Label;
use crate::store::{Store, StoreError, now};
use plan::{BACKUP, GENERATE, GENERATE_REFUSED, NOTIFY_DONE, NOTIFY_STARTED, PROMOTE, REVOKE_OLD, ROLLBACK, VERIFY};

/// The audit event of each plugin call, with its network transcript.
pub const PLUGIN_CALL: &str = "plugin.call";

pub use crash::VAR as CRASH_VAR;
pub use due::is_due;
pub use observer::Observer;
use provider::Provider;
pub use session::Session;

/// Why a rotation could not run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The store failed, or refused (busy, wrong key…).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The approvals (`rekey.lock`) or the trusted keys cannot be read.
    #[error(transparent)]
    Approvals(#[from] crate::trust::TrustError),
    /// The credential is not declared, or its declaration cannot be used.
    #[error("credential `{credential}`: {reason}")]
    Setup {
        /// The credential.
        credential: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A notifier's signing secret cannot be resolved, so its events could
    /// not be signed.
    #[error("notify {notifier}: signing_secret: {cause}; set it, or remove signing_secret from the notifier")]
    Signing {
        /// The notifier.
        notifier: String,
        /// Why the secret cannot be had.
        cause: String,
    },
    /// The previous key is still in its grace period.
    #[error(
        "credential `{credential}`: rotation {rotation} is in its grace period until {} UTC; end it now with `rekey revoke-previous {credential}` or undo it with `rekey rollback {credential}`",
        crate::human::time(*until)
    )]
    InGrace {
        /// The credential.
        credential: String,
        /// The rotation.
        rotation: String,
        /// When the grace period ends.
        until: i64,
    },
    /// Checking the current key with the provider failed.
    #[error("credential `{credential}`: the check with the provider failed: {cause}")]
    Check {
        /// The credential.
        credential: String,
        /// Why.
        cause: String,
    },
    /// The rotation stopped at a step boundary because the process is
    /// shutting down; it resumes where it stopped.
    #[error(
        "credential `{credential}`: rotation {rotation} stopped before {step} for shutdown; it resumes at the next start (or `rekey resume`)"
    )]
    Stopped {
        /// The credential.
        credential: String,
        /// The rotation.
        rotation: String,
        /// The next step.
        step: String,
    },
    /// A step failed; `rolled_back` says whether the old key is current again.
    #[error("credential `{credential}`: rotation {rotation} failed at {step}: {cause}{}", if *rolled_back { "; rolled back: the old key is current again in every target" } else { "" })]
    Failed {
        /// The credential.
        credential: String,
        /// The rotation.
        rotation: String,
        /// The step that failed.
        step: String,
        /// Why.
        cause: String,
        /// Whether it was rolled back.
        rolled_back: bool,
    },
}

/// How a rotation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every step is done; the old key is revoked.
    Succeeded,
    /// Every step is done, and there was no earlier key to revoke: the
    /// credential's first key.
    FirstKey,
    /// Promoted; the old key is revoked once the grace period ends.
    InGrace {
        /// When (Unix seconds).
        until: i64,
    },
    /// Undone at the operator's request.
    RolledBack,
    /// Promoted; the old key of a manual credential waits for a person to
    /// revoke it at the vendor and run `rekey confirm-revoked`.
    AwaitingRevocation {
        /// Until when apps may still use it (Unix seconds), if its grace
        /// period is not over.
        after: Option<i64>,
    },
}

/// A short name for how a rotation ended, for events and metrics.
pub fn result_name(outcome: &Result<Ended, RotationError>) -> &'static str {
    match outcome {
        Ok(Ended::Succeeded | Ended::FirstKey) => "rotated",
        Ok(Ended::InGrace { .. }) => "in-grace",
        Ok(Ended::RolledBack) => "rolled-back",
        Ok(Ended::AwaitingRevocation { .. }) => "awaiting-revocation",
        Err(RotationError::Failed { rolled_back: true, .. }) => "failed-rolled-back",
        Err(RotationError::Stopped { .. }) => "stopped",
        Err(_) => "failed",
    }
}

/// Everything a rotation of one credential needs.
pub struct Rotator<'a> {
    config: &'a Config,
    store: &'a Store,
    spec: &'a CredentialSpec,
    provider: Provider<'a>,
    options: CallOptions,
    /// Set when the process is shutting down: no new step starts.
    stopping: &'a std::sync::atomic::AtomicBool,
    observer: Option<&'a dyn Observer>,
    /// An audit entry of a plugin call that could not be written; the step
    /// that made the call fails on it.
    unaudited: std::sync::Mutex<Option<StoreError>>,
    _lease: Lease,
}

impl<'a> Rotator<'a> {
    /// Locks the credential against other processes and loads its plugin
    /// (once per session).
    async fn new(session: &'a Session<'_>, name: &str) -> Result<Self, RotationError> {
        let (config, store) = (session.config, session.store);
        let setup = |reason: String| RotationError::Setup { credential: name.into(), reason };
        let spec =
            config.credential(name).ok_or_else(|| setup(format!("not declared in {}", config.file.display())))?;
        let lease = store.lease(name)?.ok_or_else(|| {
            let rotation = store.open_rotation(name).ok().flatten().map_or_else(|| "unknown".into(), |r| r.id);
            StoreError::Busy { credential: name.into(), rotation }
        })?;
        let (provider, options) = Self::prepare(session, spec).await.map_err(setup)?;
        Ok(Self {
            config,
            store,
            spec,
            provider,
            options,
            stopping: &session.stopping,
            observer: session.observer,
            unaudited: Default::default(),
            _lease: lease,
        })
    }

    /// What the calls about `spec` need: its provider (its plugin checked
    /// and loaded once per session), and the options of every call, its
    /// admin secrets resolved. The error says what is wrong and how to fix it.
    async fn prepare(
        session: &'a Session<'_>,
        spec: &'a CredentialSpec,
    ) -> Result<(Provider<'a>, CallOptions), String> {
        let (config, store) = (session.config, session.store);
        let provider = if Config::is_manual(spec) {
            Provider::Manual(Default::default())
        } else if Config::is_token(spec) {
            Provider::Token(issuer::Issuer::new(store, spec.name.get_ref()))
        } else {
            Provider::Plugin(session.plugin(&Config::plugin_name(spec), config.plugin_path(spec)?).await?)
        };
        let mut admin_secrets = std::collections::BTreeMap::new();
        for (field, reference) in &spec.admin_secrets {
            let reference = Reference::parse(reference.get_ref()).map_err(|e| format!("admin_secrets.{field}: {e}"))?;
            let value = reference.resolve(&config.dir, store).map_err(|e| format!("admin secret `{field}`: {e}"))?;
            admin_secrets.insert(field.clone(), value.to_string());
        }
        let endpoints = spec.grants.iter().map(|g| Endpoint::parse(g.get_ref())).collect::<Result<_, _>>()?;
        let grants = Grants { endpoints, ..Grants::default() };
        Ok((provider, CallOptions { config: plugin_config(spec), admin_secrets, grants, ..CallOptions::default() }))
    }

    /// The credential's name.
    pub fn name(&self) -> &str {
        self.spec.name.get_ref()
    }

    /// The credential's declaration or state does not allow the operation.
    fn setup(&self, reason: &str) -> RotationError {
        RotationError::Setup { credential: self.name().into(), reason: reason.into() }
    }

    /// A step of `rotation` failed.
    fn failed(&self, rotation: &str, step: &str, cause: String, rolled_back: bool) -> RotationError {
        RotationError::Failed {
            credential: self.name().into(),
            rotation: rotation.into(),
            step: step.into(),
            cause,
            rolled_back,
        }
    }

    /// Rotates the credential: resumes an interrupted rotation, finishes one
    /// whose grace period is over, or starts a new one.
    pub async fn rotate(&self, emergency: bool) -> Result<Ended, RotationError> {
        self.settled(self.start_or_continue(emergency).await).await
    }

    async fn start_or_continue(&self, emergency: bool) -> Result<Ended, RotationError> {
        if emergency && self.is_manual() {
            return Err(self.setup(&format!(
                "a manual credential's old key is revoked by a person: rotate without --emergency and revoke the old key at the vendor right after, then run `rekey confirm-revoked {}`",
                self.name()
            )));
        }
        if let Some(open) = self.store.open_rotation(self.name())? {
            match open.state {
                State::Running => {
                    tracing::warn!("resuming the interrupted rotation {} of `{}`", open.id, self.name());
                    return self.drive(open).await;
                }
                // A manual credential's previous key waits for a person, not for the grace period.
                _ if open.revoke_after.is_some_and(|t| t > now()) && !self.is_manual() => {
                    return Err(RotationError::InGrace {
                        credential: self.name().into(),
                        rotation: open.id,
                        until: open.revoke_after.unwrap_or_default(),
                    });
                }
                _ => {
                    if let Ended::AwaitingRevocation { .. } = self.drive(open).await? {
                        return Err(self.setup(&format!(
                            "its previous key still waits to be revoked at the vendor: revoke it there, then run `rekey confirm-revoked {}`",
                            self.name()
                        )));
                    }
                }
            }
        }
        // Nothing starts unless the key to roll back to can be read back.
        if let Some(current) = self.store.labeled(self.name(), Label::Current)? {
            self.store.secret(&current)?;
        }
        let rotation = self.store.start_rotation(self.name(), emergency)?;
        self.drive(rotation).await
    }

    /// Hands the rotation of a manual credential the key a person typed.
    pub fn type_key(&self, key: Credential) -> Result<(), RotationError> {
        match &self.provider {
            Provider::Manual(typed) => {
                *typed.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
                Ok(())
            }
            Provider::Plugin(_) | Provider::Token(_) => {
                Err(self.setup("its keys are made by its plugin, not typed in"))
            }
        }
    }

    /// Whether a person makes and revokes this credential's keys.
    pub fn is_manual(&self) -> bool {
        matches!(self.provider, Provider::Manual(_))
    }

    /// A person revoked the previous key of a manual credential at the
    /// vendor: records it (audited) and finishes the rotation.
    pub async fn confirm_revoked(&self) -> Result<Ended, RotationError> {
        if !self.is_manual() {
            return Err(self.setup("it is not manual: rekey revokes its keys itself (`rekey revoke-previous`)"));
        }
        let open = self
            .store
            .open_rotation(self.name())?
            .filter(|r| r.state == State::Grace)
            .ok_or_else(|| self.setup("no previous key waits to be revoked"))?;
        let (version, old) = self
            .old_key(&open)
            .map_err(|e| self.setup(&e))?
            .ok_or_else(|| self.setup("its previous key is already recorded as revoked"))?;
        self.store.write(|| {
            self.store.revoked(&open, version, REVOKE_OLD)?;
            self.store.audit(
                "key.revoke_confirmed",
                Some(self.name()),
                Some(&open.id),
                serde_json::json!({ "version": version, "key_id": old.key_id, "by": operator() }),
            )?;
            self.store.end_grace(&open)
        })?;
        let ended = self.drive(self.store.rotation(&open.id)?).await;
        self.settled(ended).await
    }

    /// Continues the credential's open rotation, if any.
    pub async fn resume(&self) -> Result<Option<Ended>, RotationError> {
        let resumed = match self.store.open_rotation(self.name())? {
            Some(open) => self.drive(open).await.map(Some),
            None => Ok(None),
        };
        self.settled(resumed).await
    }

    /// Ends the grace period now: revokes the previous key.
    pub async fn revoke_previous(&self) -> Result<Ended, RotationError> {
        let open = self
            .store
            .open_rotation(self.name())?
            .filter(|r| r.state == State::Grace)
            .ok_or_else(|| self.setup("no previous key is waiting to be revoked"))?;
        self.store.end_grace(&open)?;
        let ended = self.drive(self.store.rotation(&open.id)?).await;
        self.settled(ended).await
    }

    /// Undoes the open rotation while the old key is not yet revoked: the
    /// old key goes back to every target and becomes current again, and the
    /// new key is revoked.
    pub async fn rollback(&self) -> Result<Ended, RotationError> {
        let open = self.store.open_rotation(self.name())?.ok_or_else(|| self.setup("has no rotation to roll back"))?;
        if open.from_version.is_none() {
            return Err(self.setup("its rotation has no previous key to go back to"));
        }
        if self.store.step_done(&open.id, REVOKE_OLD)? {
            return Err(self.setup("the previous key is already revoked; rotate again instead"));
        }
        let undone = self.undo(&open, "rolled back by the operator").await.map_err(|cause| {
            let cause = format!("{cause}; run `rekey rollback {}` again once the cause is fixed", self.name());
            self.failed(&open.id, ROLLBACK, cause, false)
        });
        self.settled(undone.map(|()| Ended::RolledBack)).await
    }

    /// Checks the current key with the provider now, and records whether it
    /// works and when the provider last saw it used.
    pub async fn check_current(&self) -> Result<crate::runtime::Verification, RotationError> {
        if self.is_manual() {
            return Err(
                self.setup("it is manual: there is no provider to ask; its stages' checks test it during a rotation")
            );
        }
        let current =
            self.store.labeled(self.name(), Label::Current)?.ok_or_else(|| self.setup("has no current key yet"))?;
        let key = self.store.credential(&current)?;
        let options = CallOptions { rotation_id: format!("check-{}", now()), ..self.options.clone() };
        let check = |cause: String| RotationError::Check { credential: self.name().into(), cause };
        let verification =
            retry::retrying("verify", || self.recorded("verify", None, self.provider.verify(&options, &key)))
                .await
                .map_err(|e| check(e.to_string()))?;
        self.audited().map_err(check)?;
        self.store.record_check(&current, verification.valid, verification.last_used.map(|t| t as i64))?;
        self.settled(Ok(verification)).await
    }

    /// One attempt of a plugin call, recorded in the audit log with what the
    /// plugin did on the network, so `rekey audit log --plugin` can show
    /// every request a plugin ever made. An entry that cannot be written is
    /// kept for [`Self::audited`], which fails the step.
    async fn recorded<T>(
        &self,
        call: &str,
        rotation: Option<&str>,
        outcome: impl Future<Output = Outcome<T>>,
    ) -> Outcome<T> {
        let outcome = outcome.await;
        let plugin = Config::plugin_name(self.spec);
        if let Some(observer) = self.observer {
            observer.plugin_call(&plugin, call, outcome.elapsed, outcome.result.as_ref().err());
        }
        let detail = serde_json::json!({
            "plugin": plugin,
            "sha256": self.provider.digest(),
            "call": call,
            "error": outcome.result.as_ref().err().map(ToString::to_string),
            "ms": outcome.elapsed.as_millis() as u64,
            "requests": outcome.transcript,
        });
        if let Err(e) = self.store.audit(PLUGIN_CALL, Some(self.name()), rotation, detail) {
            self.unaudited.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
        }
        outcome
    }

    /// Fails when a plugin call since the last check could not be recorded
    /// in the audit log: what is not audited did not happen safely.
    fn audited(&self) -> Result<(), String> {
        match self.unaudited.lock().unwrap_or_else(|e| e.into_inner()).take() {
            None => Ok(()),
            Some(e) => Err(format!("a plugin call could not be recorded in the audit log: {e}")),
        }
    }

    /// Runs the steps of `rotation` that are not done yet. A step's `done`
    /// is written in one transaction with the next step's `begun` when
    /// nothing happens between them, and every step with a side effect
    /// waits for its `begun` (and all before it) to be on disk.
    async fn drive(&self, rotation: Rotation) -> Result<Ended, RotationError> {
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
            if step.name == REVOKE_OLD
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
            self.store.write(|| {
                self.record_done(&rotation, finished.take())?;
                self.store.record(&rotation, &step.name, "begun")
            })?;
            crash::point(&step.name, "begun");
            let ran = if self.acts_outside(&step) { self.durable().await } else { Ok(()) };
            match ran.and(self.run_step(&rotation, &step, resumed).await) {
                Ok(Done::Recorded) => {}
                Ok(Done::ToRecord) => finished = Some(step.name.clone()),
                Err(cause) => return Err(self.fail(&rotation, &step.name, cause).await),
            }
            if let Some(observer) = self.observer {
                observer.step(&Config::plugin_name(self.spec), &step.name, started.elapsed());
            }
            crash::point(&step.name, "done");
        }
        self.record_done(&rotation, finished)?;
        Ok(if rotation.from_version.is_none() { Ended::FirstKey } else { Ended::Succeeded })
    }

    /// How the rotation ends for now when its old key is not to be revoked
    /// yet: a person revokes a manual credential's; a grace period keeps
    /// another's valid, unless this is an emergency. A first rotation has
    /// no old key, so nothing waits.
    fn old_key_waits(&self, rotation: &Rotation) -> Result<Option<Ended>, RotationError> {
        if self.old_key(rotation).map_err(|e| self.setup(&e))?.is_none() {
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
    /// before it does. `backup` and `promote` only read and write the store;
    /// a stage without targets or checks does nothing; the notification
    /// steps wait for the disk in [`notify::broadcast`], when there is
    /// anyone to tell.
    fn acts_outside(&self, step: &plan::Step) -> bool {
        match step.name.as_str() {
            BACKUP | PROMOTE | NOTIFY_STARTED | NOTIFY_DONE => false,
            name => match step.stage.map(|i| &self.spec.stages[i]) {
                Some(stage) if name.starts_with("deploy:") => !stage.targets.is_empty(),
                Some(stage) => !stage.checks.is_empty(),
                None => true,
            },
        }
    }

    /// Journals `step` (if any) done.
    fn record_done(&self, rotation: &Rotation, step: Option<String>) -> Result<(), StoreError> {
        step.map_or(Ok(()), |step| self.store.record(rotation, &step, "done"))
    }

    /// Waits until everything written so far is on disk: before a side
    /// effect, so none ever happens that the journal could forget.
    async fn durable(&self) -> Result<(), String> {
        self.store.durable().await.map_err(|e| format!("the journal could not be written to disk: {e}"))
    }

    /// Waits for the disk before a result is reported: what the operator is
    /// told happened is on disk.
    async fn settled<T>(&self, result: Result<T, RotationError>) -> Result<T, RotationError> {
        self.store.durable().await?;
        result
    }

    /// One step's side effect. Its `done` is journaled here when it belongs
    /// in one transaction with the step's other changes; otherwise the
    /// caller writes it ([`Done::ToRecord`]). `resumed`: an earlier run
    /// began the step and did not finish it.
    async fn run_step(&self, rotation: &Rotation, step: &plan::Step, resumed: bool) -> Result<Done, String> {
        let options = self.options_for(rotation);
        match step.name.as_str() {
            NOTIFY_STARTED => {
                self.notify(rotation, "rotation.started", serde_json::json!({ "emergency": rotation.emergency }))
                    .await?;
                Ok(Done::ToRecord)
            }
            BACKUP => {
                if let Some(from) = rotation.from_version {
                    let old = self.store.version(self.name(), from).map_err(|e| e.to_string())?;
                    self.store.secret(&old).map_err(|e| {
                        format!("the current key cannot be read back, so nothing would be left to roll back to: {e}")
                    })?;
                }
                Ok(Done::ToRecord)
            }
            GENERATE => {
                if resumed {
                    let why = "an earlier run was stopped while generating";
                    self.lost_generate(rotation, why).await?.or_stop(why)?;
                }
                let key = self.generate(rotation).await?;
                // The provider holds the key, the store does not yet.
                crash::point(GENERATE, "returned");
                self.keep(rotation, key).await.map(|()| Done::Recorded)
            }
            VERIFY => {
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
            REVOKE_OLD => match self.old_key(rotation)? {
                Some((version, old)) => {
                    retry::retrying("revoke", || {
                        self.recorded("revoke", Some(&rotation.id), self.provider.revoke(&options, &old))
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    self.audited()?;
                    self.store.revoked(rotation, version, REVOKE_OLD).map_err(|e| e.to_string())?;
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
            PROMOTE => {
                let grace = self.spec.policy.grace_period.as_secs() as i64;
                self.store.promote(rotation, now() + grace).map_err(|e| e.to_string())?;
                Ok(Done::Recorded)
            }
            NOTIFY_DONE => {
                self.store.finish(rotation, State::Succeeded, None).map_err(|e| e.to_string())?;
                self.notify(rotation, "rotation.succeeded", serde_json::json!({ "version": rotation.to_version }))
                    .await?;
                // Written here: a finished rotation is never resumed to write it later.
                self.store.record(rotation, &step.name, "done").map_err(|e| e.to_string())?;
                Ok(Done::Recorded)
            }
            _ => {
                let stage = &self.spec.stages[step.stage.expect("deploy and check steps have a stage")];
                let new = self.new_key(rotation)?;
                let context = Context { credential: self.name(), stage: stage.name.get_ref(), key_id: &new.key_id };
                if step.name.starts_with("deploy:") {
                    for target in &stage.targets {
                        deploy::deploy(target, &new, &self.config.dir, &context)
                            .await
                            .map_err(|e| format!("{}: {e}", deploy::describe(target)))?;
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
    fn options_for(&self, rotation: &Rotation) -> CallOptions {
        let old = self.old_key(rotation).ok().flatten().map(|(_, key)| key.secret);
        CallOptions {
            rotation_id: rotation.id.clone(),
            known_secrets: old.into_iter().collect(),
            tape: None,
            ..self.options.clone()
        }
    }

    /// Calls `generate`, retrying a transient failure only when a retry
    /// cannot leave a key behind: the provider returns the same key for the
    /// same rotation id, or the key the failed attempt may have made was
    /// found and revoked first.
    async fn generate(&self, rotation: &Rotation) -> Result<Credential, String> {
        let options = self.options_for(rotation);
        let mut attempt = 1;
        loop {
            let outcome = self.recorded("generate", Some(&rotation.id), self.provider.generate(&options)).await;
            let error = match outcome.result {
                Ok(key) => return Ok(key),
                Err(error) => error,
            };
            if !may_have_made_a_key(&error, &outcome.transcript) {
                self.store.record(rotation, GENERATE_REFUSED, "done").map_err(|e| e.to_string())?;
                return Err(error.to_string());
            }
            let Some(wait) = retry::wait(&error, attempt) else {
                // Not retried: whatever the attempt made is the rollback's to find.
                return Err(error.to_string());
            };
            let why = format!("a generate call failed after it may have made a key ({error})");
            self.lost_generate(rotation, &why).await?.or_stop(&why)?;
            tracing::warn!("generate failed ({error}); retrying in {wait:?} (attempt {})", attempt + 1);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Makes sure no key from a `generate` whose answer was lost stays
    /// live: nothing to do when the provider returns the same key again;
    /// found and revoked when it lists its keys; otherwise recorded as a
    /// suspected orphan (status, audit, notification).
    async fn lost_generate(&self, rotation: &Rotation, why: &str) -> Result<Lost, String> {
        if self.provider.idempotent_generate() {
            return Ok(Lost::Nothing);
        }
        let plugin = Config::plugin_name(self.spec);
        let around = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        let (name, id) = (self.name(), &rotation.id);
        let reason = if self.provider.lists_keys() {
            match self.sweep(rotation).await {
                Ok(()) => return Ok(Lost::Nothing),
                // Not knowing is no reason to keep the rotation open: the
                // suspect is settled by `reconcile` once the provider answers.
                Err(e) => format!(
                    "{why}; listing the `{plugin}` plugin's keys to find it failed ({e}), so a key may be live at the provider that rekey does not hold (made around {around} UTC, for rotation {id}): run `rekey reconcile {name}` once the provider answers"
                ),
            }
        } else {
            format!(
                "{why}; the `{plugin}` plugin can neither return the same key again nor list its keys, so a key may be live at the provider that rekey does not hold: find it there (created around {around} UTC, for rotation {id}), revoke it, then run `rekey reconcile {name} --resolve`"
            )
        };
        self.suspect(rotation, None, &reason).await?;
        Ok(Lost::Suspected)
    }

    /// Records a suspected orphan and tells the notifiers.
    async fn suspect(&self, rotation: &Rotation, key_id: Option<&str>, reason: &str) -> Result<(), String> {
        tracing::error!("possible orphaned key of `{}`: {reason}", self.name());
        self.store.suspect(self.name(), Some(&rotation.id), key_id, reason).map_err(|e| e.to_string())?;
        self.notify(rotation, "key.possible_orphan", serde_json::json!({ "key_id": key_id, "reason": reason })).await
    }

    /// Stores the new key as pending. A key that cannot be stored (a full
    /// disk, a locked or broken store) or whose generation cannot be
    /// audited is revoked at once, before the error is reported: no key
    /// the provider made is left without a record.
    async fn keep(&self, rotation: &Rotation, key: Credential) -> Result<(), String> {
        let stored = self.audited().and_then(|()| {
            self.store.store_pending(rotation, &key).map(drop).map_err(|e| format!("storing the new key failed: {e}"))
        });
        let Err(cause) = stored else { return Ok(()) };
        if self.provider.idempotent_generate() && self.store.lease_lost(self.name()).is_some() {
            // The process that took the rotation over generates again for
            // the same rotation and gets this key (or its slot) back:
            // revoking it here would revoke that process's new key.
            return Err(cause);
        }
        if self.is_manual() {
            let reason = format!(
                "{cause}; the typed key {} was not kept: delete it at the vendor, then run `rekey reconcile {} --resolve`",
                key.key_id,
                self.name()
            );
            let _ = self.suspect(rotation, Some(&key.key_id), &reason).await;
            return Err(reason);
        }
        let options = self.options_for(rotation);
        let revoked = retry::retrying("revoke", || {
            self.recorded("revoke", Some(&rotation.id), self.provider.revoke(&options, &key))
        })
        .await;
        // The store is failing: its audit entries may fail too, and the error says it all.
        let _ = self.audited();
        match revoked {
            Ok(()) => {
                Err(format!("{cause}; the new key {} was revoked at the provider, so none is left behind", key.key_id))
            }
            Err(e) => {
                let reason = format!(
                    "{cause}; revoking the new key {} failed too ({e}): revoke it at the provider by hand, then run `rekey reconcile {} --resolve`",
                    key.key_id,
                    self.name()
                );
                // Recorded if the store can still take it; the message carries it either way.
                let _ = self.suspect(rotation, Some(&key.key_id), &reason).await;
                Err(reason)
            }
        }
    }

    /// The key this rotation generated.
    fn new_key(&self, rotation: &Rotation) -> Result<Credential, String> {
        let version = rotation.to_version.ok_or("the rotation has no new key")?;
        self.store.version(self.name(), version).and_then(|v| self.store.credential(&v)).map_err(|e| e.to_string())
    }

    /// The key this rotation replaces, unless there is none or it is revoked.
    fn old_key(&self, rotation: &Rotation) -> Result<Option<(i64, Credential)>, String> {
        let Some(from) = rotation.from_version else { return Ok(None) };
        let version = self.store.version(self.name(), from).map_err(|e| e.to_string())?;
        if version.revoked_at.is_some() {
            return Ok(None);
        }
        self.store.credential(&version).map(|c| Some((from, c))).map_err(|e| e.to_string())
    }

    /// Handles a failed step: before `promote`, rolls back; after it (or
    /// once the old key is revoked in an emergency) nothing can be undone, so
    /// the rotation stays open for `rekey resume` once the cause is fixed.
    async fn fail(&self, rotation: &Rotation, step: &str, cause: String) -> RotationError {
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
    async fn undo(&self, rotation: &Rotation, reason: &str) -> Result<(), String> {
        if !self.store.step_begun(&rotation.id, ROLLBACK).map_err(|e| e.to_string())? {
            self.store.record(rotation, ROLLBACK, "begun").map_err(|e| e.to_string())?;
            self.store.set_error(rotation, reason).map_err(|e| e.to_string())?;
        }
        crash::point(ROLLBACK, "begun");
        self.durable().await?;
        // After a promotion, the previous key is made current again first
        // (once: the demotion ends the grace state).
        if self.store.rotation(&rotation.id).map_err(|e| e.to_string())?.state == State::Grace {
            self.store.demote(rotation).map_err(|e| e.to_string())?;
        }
        if let Some((_, old)) = self.old_key(rotation)? {
            for stage in &self.spec.stages {
                let step = format!("deploy:{}", stage.name.get_ref());
                if !self.store.step_begun(&rotation.id, &step).map_err(|e| e.to_string())? {
                    continue;
                }
                let completed = self.store.step_done(&rotation.id, &step).map_err(|e| e.to_string())?;
                let context = Context { credential: self.name(), stage: stage.name.get_ref(), key_id: &old.key_id };
                for target in &stage.targets {
                    match deploy::deploy(target, &old, &self.config.dir, &context).await {
                        Ok(()) => {}
                        // In the stage that failed, the target that could not
                        // take the new key cannot take the old one either: it
                        // still holds what it had.
                        Err(e) if !completed => tracing::warn!("not restored: {} ({e})", deploy::describe(target)),
                        Err(e) => return Err(format!("restoring {}: {e}", deploy::describe(target))),
                    }
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
        self.store.record(rotation, ROLLBACK, "done").map_err(|e| e.to_string())?;
        self.store.finish(rotation, State::RolledBack, Some(reason)).map_err(|e| e.to_string())?;
        self.notify(rotation, "rotation.failed", serde_json::json!({ "error": reason })).await?;
        self.notify(rotation, "rotation.rolled_back", serde_json::json!({ "current_version": rotation.from_version }))
            .await
    }

    /// Sends an event to every notifier, once everything written so far is
    /// on disk. A notifier that fails is logged and audited, not an error;
    /// an audit entry that cannot be written is.
    async fn notify(&self, rotation: &Rotation, event: &str, detail: serde_json::Value) -> Result<(), String> {
        let message = notify::Event {
            event,
            credential: self.name(),
            rotation: Some(&rotation.id),
            at: now(),
            owners: &self.spec.policy.owners,
            detail,
        };
        notify::broadcast(self.config, self.store, &message).await
    }
}

/// Who journals a step done.
enum Done {
    /// The step did, with its other changes.
    Recorded,
    /// The caller does, with whatever it writes next.
    ToRecord,
}

/// What became of a key that a lost `generate` answer may have left.
#[must_use]
enum Lost {
    /// Nothing is left behind: the provider returns the same key again, or
    /// the key was found and revoked.
    Nothing,
    /// It may be live at the provider: recorded as a suspected orphan.
    Suspected,
}

impl Lost {
    /// An error, saying `why`, when `generate` must not be called again.
    fn or_stop(self, why: &str) -> Result<(), String> {
        match self {
            Self::Nothing => Ok(()),
            Self::Suspected => {
                Err(format!("{why}; not generating again blindly: a second key could be left behind too"))
            }
        }
    }
}

/// Whether a failed `generate` call may still have made a key at the
/// provider: anything but a refusal (bad config, a refused admin secret, a
/// sandbox denial, a request the provider rejected for good). A rejection
/// counts as a refusal only when none of the call's requests was accepted
/// or left unanswered: a key whose answer the plugin could not read was
/// made all the same.
fn may_have_made_a_key(error: &PluginError, transcript: &[Exchange]) -> bool {
    match error {
        PluginError::Config { .. } | PluginError::Denied { .. } => false,
        PluginError::Provider {
            error: ProviderError::InvalidConfig(_) | ProviderError::Unauthorized(_) | ProviderError::NotFound(_),
            ..
        } => false,
        PluginError::Provider { error: ProviderError::Rejected(_), .. } => {
            transcript.iter().any(|exchange| exchange.status.is_none_or(|status| status < 400))
        }
        _ => true,
    }
}

/// Who is confirming, for the audit log: the login name, if known.
fn operator() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into())
}
