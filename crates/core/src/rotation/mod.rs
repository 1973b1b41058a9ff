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
//!
//! Here: the [`Rotator`] of one credential and how it is wired. By concept:
//! [`plan`] (the typed steps), `driver` (runs them), `generation` (lost
//! keys), `undo` (failures and rollbacks), `operations` (what callers ask),
//! [`allowed`] (when a rollback or resume may be asked), `calls` (auditing
//! and notifying), `error` (how a rotation ends), [`reconcile`] (the
//! provider's keys against the store), `session` (many credentials at once).

pub mod allowed;
mod calls;
mod crash;
mod driver;
pub mod due;
mod error;
mod generation;
pub mod issuer;
pub mod keys;
mod observer;
mod operations;
pub mod plan;
mod provider;
pub mod reconcile;
mod retry;
mod session;
mod targets;
mod undo;

use crate::config::{self, Config, Credential};
use crate::runtime::{CallOptions, Grants};
use crate::store::lease::Lease;
use crate::store::{Store, StoreError};

/// The audit event of each plugin call, with its network transcript.
pub const PLUGIN_CALL: &str = "plugin.call";

pub use crash::VAR as CRASH_VAR;
pub use due::is_due;
pub use error::{Ended, RotationError, result_name};
use generation::Lost;
pub use observer::Observer;
use provider::Provider;
pub use session::Session;
pub use targets::DEPLOYED;

/// Everything a rotation of one credential needs.
pub struct Rotator<'a> {
    config: &'a Config,
    store: &'a Store,
    spec: &'a Credential,
    provider: Provider<'a>,
    options: CallOptions,
    /// Its stages' deploy target plugins.
    targets: targets::Targets,
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
        let targets = targets::Targets::load(session, spec).await.map_err(setup)?;
        Ok(Self {
            config,
            store,
            spec,
            provider,
            options,
            targets,
            stopping: &session.stopping,
            observer: session.observer,
            unaudited: Default::default(),
            _lease: lease,
        })
    }

    /// What the calls about `spec` need: its provider (its plugin checked
    /// and loaded once per session), and the options of every call, its
    /// admin secrets resolved. The error says what is wrong and how to fix it.
    async fn prepare(session: &'a Session<'_>, spec: &'a Credential) -> Result<(Provider<'a>, CallOptions), String> {
        let (config, store) = (session.config, session.store);
        let provider = match &spec.provider {
            config::Provider::Manual => Provider::Manual(Default::default()),
            config::Provider::Token(grant) => Provider::Token(issuer::Issuer::new(store, &spec.name, grant.clone())),
            config::Provider::Plugin(plugin) => {
                Provider::Plugin(session.plugin(&plugin.name, config.plugin_file(plugin)?).await?)
            }
        };
        let mut admin_secrets = std::collections::BTreeMap::new();
        for (field, reference) in &spec.admin_secrets {
            let value = reference.resolve(&config.dir, store).map_err(|e| format!("admin secret `{field}`: {e}"))?;
            admin_secrets.insert(field.clone(), value.to_string());
        }
        let grants = Grants { endpoints: spec.grants.clone(), ca: spec.tls_ca.clone(), ..Grants::default() };
        Ok((provider, CallOptions { config: spec.config.clone(), admin_secrets, grants, ..CallOptions::default() }))
    }

    /// The credential's name.
    pub fn name(&self) -> &str {
        &self.spec.name
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
}
