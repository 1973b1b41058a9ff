//! What callers ask of a credential: rotate it, resume or finish its open
//! rotation, roll it back, take a typed key, confirm a manual revocation,
//! check its current key.

use super::allowed;
use super::plan::{REVOKE_OLD, ROLLBACK};
use super::retry;
use super::{Ended, Provider, RotationError, Rotator, keys};
use crate::runtime::{CallOptions, Credential};
use crate::store::now;
use crate::store::rotations::State;
use crate::store::versions::Label;

impl Rotator<'_> {
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
                serde_json::json!({ "version": version, "key_id": old.key_id, "by": crate::access::local_user() }),
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
        let open = self.store.open_rotation(self.name())?;
        if let Some(why) = allowed::rollback_refusal(self.store, open.as_ref(), false)? {
            return Err(self.setup(&why));
        }
        let open = open.expect("a rotation with nothing open is refused above");
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
        let key = keys::for_provider(self.store.credential(&current)?);
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
}
