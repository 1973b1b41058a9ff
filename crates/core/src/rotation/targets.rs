//! Deploy target plugins in a rotation: each loaded and approved like a
//! provider, its admin secrets resolved, once per rotation; its calls
//! retried on transient failures and recorded in the audit log like every
//! provider call.
//!
//! `deploy` writes the new key (staged, where the destination stages) and
//! checks the destination holds it; `promote` makes staged keys current
//! before the store promotes; a rollback restores what was there before.

use super::{Rotator, Session, retry};
use crate::config::{Credential, Destination, PluginTarget};
use crate::runtime::{CallOptions, Credential as Key, Grants, Kind, Outcome, Plugin};
use crate::store::rotations::Rotation;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The audit event of each key a target took, with where it went.
pub const DEPLOYED: &str = "key.deployed";

/// One target plugin of a stage, ready to call.
pub(super) struct Loaded {
    plugin: Arc<Plugin>,
    options: CallOptions,
    /// Its destination stages keys until `promote`.
    stages_keys: bool,
}

/// The target plugins of a credential's stages, by stage and place.
#[derive(Default)]
pub(super) struct Targets(BTreeMap<(usize, usize), Loaded>);

impl Targets {
    /// Loads every target plugin of `spec`'s stages and resolves their
    /// admin secrets. The error names the stage and the plugin.
    pub(super) async fn load(session: &Session<'_>, spec: &Credential) -> Result<Self, String> {
        let mut loaded = BTreeMap::new();
        for (s, stage) in spec.stages.iter().enumerate() {
            for (t, target) in stage.targets.iter().enumerate() {
                let Destination::Plugin(target) = target else { continue };
                let wrong = |e: String| format!("stage `{}`: target `{}`: {e}", stage.name, target.plugin.name);
                let plugin = Self::plugin(session, target).await.map_err(wrong)?;
                let options = Self::options(session, target).map_err(wrong)?;
                let Kind::Target { stages_keys } = plugin.kind() else {
                    return Err(wrong(
                        "this plugin is a provider, not a deploy target: name it as a credential's `plugin`".into(),
                    ));
                };
                loaded.insert((s, t), Loaded { plugin, options, stages_keys });
            }
        }
        Ok(Self(loaded))
    }

    async fn plugin(session: &Session<'_>, target: &PluginTarget) -> Result<Arc<Plugin>, String> {
        let file = session.config().plugin_file(&target.plugin)?;
        session.plugin(&target.plugin.name, file).await
    }

    fn options(session: &Session<'_>, target: &PluginTarget) -> Result<CallOptions, String> {
        let mut admin_secrets = BTreeMap::new();
        for (field, reference) in &target.admin_secrets {
            let value = reference
                .resolve(&session.config().dir, session.store())
                .map_err(|e| format!("admin secret `{field}`: {e}"))?;
            admin_secrets.insert(field.clone(), value.to_string());
        }
        let grants = Grants { endpoints: target.grants.clone(), ca: target.tls_ca.clone(), ..Grants::default() };
        Ok(CallOptions { config: target.config.clone(), admin_secrets, grants, ..CallOptions::default() })
    }

    /// Whether any destination stages keys, so `promote` calls plugins.
    pub(super) fn any_staged(&self) -> bool {
        self.0.values().any(|target| target.stages_keys)
    }

    fn get(&self, stage: usize, place: usize) -> &Loaded {
        &self.0[&(stage, place)]
    }
}

impl Rotator<'_> {
    /// Writes `key` to the target plugin at `place` in `stage`, then checks
    /// the destination holds it.
    pub(super) async fn write_target(
        &self,
        rotation: &Rotation,
        stage: usize,
        place: usize,
        key: &Key,
    ) -> Result<(), String> {
        let target = self.targets.get(stage, place);
        let options = target_options(&self.options_for(rotation), target);
        let staged = target.stages_keys;
        let placed = retry::retrying("write", || {
            self.target_call(target, "write", rotation, target.plugin.write(&options, key, staged))
        })
        .await
        .map_err(|e| e.to_string())?;
        self.audited()?;
        let checked = retry::retrying("check", || {
            self.target_call(target, "check", rotation, target.plugin.check(&options, key, staged))
        })
        .await
        .map_err(|e| e.to_string())?;
        self.audited()?;
        if !checked.valid {
            let detail = checked.detail.unwrap_or_default();
            return Err(format!("{} does not hold the new key after the write: {detail}", placed.location));
        }
        let plugin = Some(target.plugin.info().name.as_str());
        self.deployed(rotation, stage, plugin, &placed.location, placed.revision.as_deref(), checked.detail.as_deref())
    }

    /// Records where the rotation's key went in `stage` (never the secret),
    /// for `rekey history` and the audit log: the target plugin's name (none
    /// for a built-in target), its location, revision and check.
    pub(super) fn deployed(
        &self,
        rotation: &Rotation,
        stage: usize,
        plugin: Option<&str>,
        location: &str,
        revision: Option<&str>,
        checked: Option<&str>,
    ) -> Result<(), String> {
        let detail = serde_json::json!({
            "stage": self.spec.stages[stage].name,
            "plugin": plugin,
            "location": location,
            "revision": revision,
            "version": rotation.to_version,
            "checked": checked,
        });
        // Batched: a deployment whose record is lost is done again on
        // resume, since the step's `done` comes after it.
        self.store
            .batched(|| self.store.audit(DEPLOYED, Some(self.name()), Some(&rotation.id), detail))
            .map_err(|e| format!("the deployment could not be recorded in the audit log: {e}"))
    }

    /// Makes the staged `key` current at every destination that stages.
    pub(super) async fn promote_targets(&self, rotation: &Rotation, key: &Key) -> Result<(), String> {
        let rotation_options = self.options_for(rotation);
        for target in self.targets.0.values().filter(|target| target.stages_keys) {
            let options = target_options(&rotation_options, target);
            retry::retrying("promote", || {
                self.target_call(target, "promote", rotation, target.plugin.promote(&options, key))
            })
            .await
            .map_err(|e| e.to_string())?;
            self.audited()?;
        }
        Ok(())
    }

    /// Undoes the rotation's write to the target plugin at `place` in
    /// `stage`: it holds `previous` again.
    pub(super) async fn restore_target(
        &self,
        rotation: &Rotation,
        stage: usize,
        place: usize,
        previous: Option<&Key>,
    ) -> Result<(), String> {
        let target = self.targets.get(stage, place);
        let options = target_options(&self.options_for(rotation), target);
        retry::retrying("restore", || {
            self.target_call(target, "restore", rotation, target.plugin.restore(&options, previous))
        })
        .await
        .map_err(|e| e.to_string())?;
        self.audited()
    }

    async fn target_call<T>(
        &self,
        target: &Loaded,
        call: &str,
        rotation: &Rotation,
        outcome: impl Future<Output = Outcome<T>>,
    ) -> Outcome<T> {
        let plugin = target.plugin.info().name.clone();
        self.recorded_by(&plugin, Some(target.plugin.digest()), call, Some(&rotation.id), outcome).await
    }
}

/// A target call's options: the target's own, with the rotation's id and the
/// keys no result may carry from `rotation` (the rotation's call options).
fn target_options(rotation: &CallOptions, target: &Loaded) -> CallOptions {
    CallOptions {
        rotation_id: rotation.rotation_id.clone(),
        known_secrets: rotation.known_secrets.clone(),
        ..target.options.clone()
    }
}
