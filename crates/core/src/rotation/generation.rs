//! `generate`, the one step whose side effect the host may never hear
//! about, and what is done about a key whose answer was lost: found and
//! revoked, or recorded as a suspected orphan; never a blind retry.

use super::plan::GENERATE_REFUSED;
use super::{Rotator, keys, retry};
use crate::runtime::{Credential, Exchange, PluginError, ProviderError};
use crate::store::rotations::{Phase, Rotation};

impl Rotator<'_> {
    /// Calls `generate`, retrying a transient failure only when a retry
    /// cannot leave a key behind: the provider returns the same key for the
    /// same rotation id, or the key the failed attempt may have made was
    /// found and revoked first.
    pub(super) async fn generate(&self, rotation: &Rotation) -> Result<Credential, String> {
        let options = self.options_for(rotation);
        let mut attempt = 1;
        loop {
            let outcome = self.recorded("generate", Some(&rotation.id), self.provider.generate(&options)).await;
            let error = match outcome.result {
                Ok(key) => return Ok(key),
                Err(error) => error,
            };
            if !may_have_made_a_key(&error, &outcome.transcript) {
                self.store.record(rotation, GENERATE_REFUSED, Phase::Done).map_err(|e| e.to_string())?;
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
    pub(super) async fn lost_generate(&self, rotation: &Rotation, why: &str) -> Result<Lost, String> {
        if self.provider.idempotent_generate() {
            return Ok(Lost::Nothing);
        }
        let plugin = self.spec.plugin_name().to_string();
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
    pub(super) async fn suspect(&self, rotation: &Rotation, key_id: Option<&str>, reason: &str) -> Result<(), String> {
        tracing::error!("possible orphaned key of `{}`: {reason}", self.name());
        self.store.suspect(self.name(), Some(&rotation.id), key_id, reason).map_err(|e| e.to_string())?;
        self.notify(rotation, "key.possible_orphan", serde_json::json!({ "key_id": key_id, "reason": reason })).await
    }

    /// Stores the new key as pending. A key that cannot be stored (a full
    /// disk, a locked or broken store) or whose generation cannot be
    /// audited is revoked at once, before the error is reported: no key
    /// the provider made is left without a record.
    pub(super) async fn keep(&self, rotation: &Rotation, key: Credential) -> Result<(), String> {
        let stored = self.audited().and_then(|()| {
            self.store
                .store_pending(rotation, &keys::for_store(&key))
                .map(drop)
                .map_err(|e| format!("storing the new key failed: {e}"))
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
}

/// What became of a key that a lost `generate` answer may have left.
#[must_use]
pub(super) enum Lost {
    /// Nothing is left behind: the provider returns the same key again, or
    /// the key was found and revoked.
    Nothing,
    /// It may be live at the provider: recorded as a suspected orphan.
    Suspected,
}

impl Lost {
    /// An error, saying `why`, when `generate` must not be called again.
    pub(super) fn or_stop(self, why: &str) -> Result<(), String> {
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
