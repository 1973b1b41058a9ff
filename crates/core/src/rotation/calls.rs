//! Every plugin call in the audit log, with what the plugin did on the
//! network, and every event to the notifiers.

use super::{PLUGIN_CALL, Rotator};
use crate::deploy::notify;
use crate::runtime::Outcome;
use crate::store::now;
use crate::store::rotations::Rotation;
use std::future::Future;

impl Rotator<'_> {
    /// One attempt of a plugin call, recorded in the audit log with what the
    /// plugin did on the network, so `rekey audit log --plugin` can show
    /// every request a plugin ever made. An entry that cannot be written is
    /// kept for [`Self::audited`], which fails the step.
    pub(super) async fn recorded<T>(
        &self,
        call: &str,
        rotation: Option<&str>,
        outcome: impl Future<Output = Outcome<T>>,
    ) -> Outcome<T> {
        self.recorded_by(self.spec.plugin_name(), self.provider.digest(), call, rotation, outcome).await
    }

    /// [`Self::recorded`], of a call on another plugin than the provider
    /// (a deploy target), named `plugin`, whose sha256 is `digest`.
    pub(super) async fn recorded_by<T>(
        &self,
        plugin: &str,
        digest: Option<&str>,
        call: &str,
        rotation: Option<&str>,
        outcome: impl Future<Output = Outcome<T>>,
    ) -> Outcome<T> {
        let outcome = outcome.await;
        if let Some(observer) = self.observer {
            observer.plugin_call(plugin, call, outcome.elapsed, outcome.result.as_ref().err());
        }
        let mut detail = serde_json::json!({
            "plugin": plugin,
            "sha256": digest,
            "call": call,
            "error": outcome.result.as_ref().err().map(ToString::to_string),
            "ms": outcome.elapsed.as_millis() as u64,
            "requests": outcome.transcript,
        });
        if !outcome.connections.is_empty() {
            detail["connections"] = serde_json::json!(outcome.connections);
        }
        if let Err(e) = self.store.batched(|| self.store.audit(PLUGIN_CALL, Some(self.name()), rotation, detail)) {
            self.unaudited.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
        }
        outcome
    }

    /// Fails when a plugin call since the last check could not be recorded
    /// in the audit log: what is not audited did not happen safely.
    pub(super) fn audited(&self) -> Result<(), String> {
        match self.unaudited.lock().unwrap_or_else(|e| e.into_inner()).take() {
            None => Ok(()),
            Some(e) => Err(format!("a plugin call could not be recorded in the audit log: {e}")),
        }
    }

    /// Sends an event to every notifier, once everything written so far is
    /// on disk. A notifier that fails is logged and audited, not an error;
    /// an audit entry that cannot be written is.
    pub(super) async fn notify(
        &self,
        rotation: &Rotation,
        event: &str,
        detail: serde_json::Value,
    ) -> Result<(), String> {
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
