//! Reconciliation: the keys a provider holds, compared with the versions
//! the store holds. A key the provider made that the store does not know
//! is the one failure a rotation exists to prevent (a live key nobody
//! manages), so it is looked for after every lost `generate`, on rollback,
//! by `rekey verify` and by `rekey reconcile`.
//!
//! A listed key belongs to rekey when the store knows it, or when its tag
//! names one of the credential's rotations (`generate` labels keys with
//! the rotation id): those are revoked without asking. A key with no such
//! tag may be someone else's; it is reported, and revoked only when the
//! operator says so. A key that another credential holds, or that one of
//! its rotations made, is that credential's: several credentials often
//! share one provider account, whose listing shows all their keys.

use super::{RotationError, Rotator, retry};
use crate::runtime::{Credential, KeySummary};
use crate::store::rotations::{Phase, Rotation};
use crate::store::versions::Version;

/// Step name, journaled around the revocations of a sweep.
pub const RECONCILE: &str = "reconcile";

/// Crash point right after an unknown key was revoked at the provider.
pub const REVOKE_ORPHAN: &str = "revoke-orphan";

/// How the provider's keys and the store's versions of one credential differ.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Drift {
    /// Live at the provider, and not live in the store.
    pub unknown: Vec<Unknown>,
    /// Live in the store (not revoked), and not at the provider: revoked
    /// out of band, or deleted by hand.
    pub missing: Vec<Missing>,
    /// Listed, and another credential's: left alone.
    pub elsewhere: Vec<Elsewhere>,
}

/// A listed key that another credential in the store holds or made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Elsewhere {
    /// The provider's id of the key.
    pub key_id: String,
    /// The credential it belongs to.
    pub credential: String,
}

/// A key live at the provider that the store does not hold as live.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Unknown {
    /// As the provider listed it.
    pub key: KeySummary,
    /// The rotation of this credential that made it: its tag names it, or
    /// the store holds it as revoked.
    pub rotation: Option<String>,
    /// The store holds the key as revoked, yet the provider still lists it.
    pub revoked_in_store: bool,
}

impl Unknown {
    /// Provably rekey's own: revoked without asking.
    pub fn is_ours(&self) -> bool {
        self.rotation.is_some() || self.revoked_in_store
    }
}

/// A version the store holds as live that the provider does not list.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Missing {
    /// The version number.
    pub version: i64,
    /// Its label (`current`, `previous`, `pending`), if any.
    pub label: Option<crate::store::versions::Label>,
    /// The provider's id of the key.
    pub key_id: String,
}

impl Drift {
    /// Whether the store and the provider agree.
    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.missing.is_empty()
    }
}

/// Compares what the provider lists with the store's versions of the
/// credential and the ids of its rotations.
pub fn compare(listed: Vec<KeySummary>, versions: &[Version], rotations: &[String]) -> Drift {
    let missing = versions
        .iter()
        .filter(|v| v.revoked_at.is_none() && !listed.iter().any(|k| k.key_id == v.key_id))
        .map(|v| Missing { version: v.version, label: v.label, key_id: v.key_id.clone() })
        .collect();
    let mut drift = Drift { missing, ..Drift::default() };
    for key in listed {
        let stored = versions.iter().find(|v| v.key_id == key.key_id);
        if stored.is_some_and(|v| v.revoked_at.is_none()) {
            continue;
        }
        let tagged = key.tag.as_deref().and_then(|tag| rotations.iter().find(|id| tag.contains(id.as_str())));
        let rotation = tagged.cloned().or_else(|| stored.and_then(|v| v.rotation.clone()));
        drift.unknown.push(Unknown { rotation, revoked_in_store: stored.is_some(), key });
    }
    drift
}

/// What `rekey reconcile` did for one credential.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Reconciled {
    /// The differences found, before any fix.
    pub drift: Drift,
    /// Key ids revoked at the provider.
    pub revoked: Vec<String>,
    /// Suspects resolved because their key is gone from the provider.
    pub resolved: usize,
}

impl Rotator<'_> {
    /// The differences between the provider's keys and the store, or
    /// `None` when the plugin cannot list keys.
    pub async fn drift(&self) -> Result<Option<Drift>, RotationError> {
        let cause = |cause: String| RotationError::Check { credential: self.name().into(), cause };
        self.listed().await.map_err(cause)
    }

    async fn listed(&self) -> Result<Option<Drift>, String> {
        if !self.provider.lists_keys() {
            return Ok(None);
        }
        let options = self.options.clone();
        let listed =
            retry::retrying("list-keys", || self.recorded("list-keys", None, self.provider.list_keys(&options)))
                .await
                .map_err(|e| format!("listing the keys at the provider failed: {e}"))?;
        self.audited()?;
        let versions = self.store.versions(self.name()).map_err(|e| e.to_string())?;
        let rotations: Vec<String> =
            self.store.rotations(self.name()).map_err(|e| e.to_string())?.into_iter().map(|r| r.id).collect();
        let (mut ours, mut elsewhere) = (Vec::new(), Vec::new());
        for key in listed {
            let holder = match versions.iter().any(|v| v.key_id == key.key_id) {
                true => None,
                false => self.store.holder(self.name(), &key.key_id, key.tag.as_deref()).map_err(|e| e.to_string())?,
            };
            match holder {
                Some(credential) => elsewhere.push(Elsewhere { key_id: key.key_id, credential }),
                None => ours.push(key),
            }
        }
        Ok(Some(Drift { elsewhere, ..compare(ours, &versions, &rotations) }))
    }

    /// After a `generate` whose answer was lost: revokes every key of
    /// rekey's that the store does not hold, journaled and audited, and
    /// records any other unknown key as a suspected orphan.
    pub(super) async fn sweep(&self, rotation: &Rotation) -> Result<(), String> {
        let Some(drift) = self.listed().await? else { return Ok(()) };
        if drift.unknown.is_empty() {
            return Ok(());
        }
        self.store.record(rotation, RECONCILE, Phase::Begun).map_err(|e| e.to_string())?;
        for unknown in &drift.unknown {
            if unknown.is_ours() {
                self.revoke_listed(Some(rotation), unknown).await?;
            } else {
                let reason = format!(
                    "key {} is live at the provider and unknown to the store, with no rotation id in its label (it may be a key whose creation was lost): revoke it with `rekey reconcile {} --yes` if nobody else uses it",
                    unknown.key.key_id,
                    self.name()
                );
                self.suspect(rotation, Some(&unknown.key.key_id), &reason).await?;
            }
        }
        self.store.record(rotation, RECONCILE, Phase::Done).map_err(|e| e.to_string())
    }

    /// Revokes a key the provider listed, from its id and attributes.
    /// The key is in the audit log, on disk, before the call: a kill
    /// between the revoke and its record leaves its trace.
    async fn revoke_listed(&self, rotation: Option<&Rotation>, unknown: &Unknown) -> Result<(), String> {
        let key = Credential {
            key_id: unknown.key.key_id.clone(),
            secret: String::new(),
            attributes: unknown.key.attributes.clone(),
            expires_at: None,
        };
        let options = rotation.map_or_else(|| self.options.clone(), |r| self.options_for(r));
        let id = rotation.map(|r| r.id.as_str());
        let (made_by, tag) = (id.or(unknown.rotation.as_deref()), unknown.key.tag.as_deref());
        self.store.orphan_revoking(self.name(), made_by, &key.key_id, tag).map_err(|e| e.to_string())?;
        self.durable().await?;
        retry::retrying("revoke", || self.recorded("revoke", id, self.provider.revoke(&options, &key)))
            .await
            .map_err(|e| format!("revoking the unknown key {}: {e}", key.key_id))?;
        super::crash::point(REVOKE_ORPHAN, "returned");
        self.audited()?;
        self.store.orphan_revoked(self.name(), made_by, &key.key_id, tag).map_err(|e| e.to_string())
    }

    /// `rekey reconcile` of `drift` (as [`Self::drift`] found it): every
    /// unknown key of rekey's revoked (and, with `untagged`, every other
    /// unknown key too); suspects whose key the provider no longer lists
    /// are resolved.
    pub async fn fix(&self, drift: Drift, untagged: bool) -> Result<Reconciled, RotationError> {
        let mut done = Reconciled { drift, ..Reconciled::default() };
        let failed = |cause: String| RotationError::Check { credential: self.name().into(), cause };
        for unknown in done.drift.unknown.iter().filter(|u| u.is_ours() || untagged) {
            self.revoke_listed(None, unknown).await.map_err(failed)?;
            done.revoked.push(unknown.key.key_id.clone());
        }
        let live: Vec<&Unknown> = done.drift.unknown.iter().filter(|u| !done.revoked.contains(&u.key.key_id)).collect();
        let settled = |id: &str| !live.iter().any(|u| u.key.key_id == id);
        // A key-less suspect (a generate whose key was never seen) is settled
        // when no unknown key left could be its rotation's: none is tagged
        // with it, and none is untagged.
        let none_left_of = |rotation: &str| !live.iter().any(|u| u.rotation.as_deref().is_none_or(|r| r == rotation));
        let elsewhere = |id: &str| done.drift.elsewhere.iter().find(|e| e.key_id == id).map(|e| &e.credential);
        // One resolution (and audit entry) per reason, as before.
        let mut by_reason = std::collections::BTreeMap::<String, Vec<i64>>::new();
        for suspect in self.store.suspects(Some(self.name()))? {
            let resolution = match (suspect.key_id.as_deref(), suspect.rotation.as_deref()) {
                (Some(id), _) if settled(id) => match elsewhere(id) {
                    Some(holder) => format!("the key is credential `{holder}`'s"),
                    None => "no longer at the provider".into(),
                },
                (None, Some(rotation)) if none_left_of(rotation) => {
                    "no key of its rotation is left at the provider".into()
                }
                _ => continue,
            };
            by_reason.entry(resolution).or_default().push(suspect.id);
        }
        for (resolution, ids) in by_reason {
            done.resolved += self.store.resolve_suspects(self.name(), &ids, &resolution)?;
        }
        self.settled(Ok(done)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, tag: Option<&str>) -> KeySummary {
        KeySummary {
            key_id: id.into(),
            tag: tag.map(Into::into),
            created_at: None,
            last_used: None,
            attributes: vec![],
        }
    }

    fn version(number: i64, key_id: &str, revoked: bool) -> Version {
        Version {
            credential: "api".into(),
            version: number,
            label: None,
            key_id: key_id.into(),
            attributes: vec![],
            expires_at: None,
            created_at: 0,
            rotation: Some(format!("rot-{number}")),
            revoked_at: revoked.then_some(1),
            last_used_at: None,
            checked_at: None,
            valid: None,
        }
    }

    #[test]
    fn keys_are_sorted_into_known_ours_and_foreign() {
        let versions = [version(1, "k1", false), version(2, "k2", true), version(5, "k5", false)];
        let rotations = ["rot-1".to_string(), "rot-2".into(), "rot-3".into()];
        let drift = compare(
            vec![
                listed("k1", None),
                listed("k2", None),
                listed("k3", Some("rekey rot-3")),
                listed("k4", Some("made by hand")),
            ],
            &versions,
            &rotations,
        );
        let found: Vec<(&str, Option<&str>, bool, bool)> = drift
            .unknown
            .iter()
            .map(|u| (u.key.key_id.as_str(), u.rotation.as_deref(), u.revoked_in_store, u.is_ours()))
            .collect();
        assert_eq!(
            found,
            [("k2", Some("rot-2"), true, true), ("k3", Some("rot-3"), false, true), ("k4", None, false, false)]
        );
        let missing: Vec<&str> = drift.missing.iter().map(|m| m.key_id.as_str()).collect();
        assert_eq!(missing, ["k5"], "a live version the provider no longer lists");
    }
}
