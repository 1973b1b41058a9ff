//! Keys a provider may hold that no stored version accounts for: a
//! `generate` whose answer was lost (a crash, a dropped connection, a
//! timeout) with a provider that can neither return the same key again nor
//! list its keys, or an unlabelled key a listing turned up. Each is kept
//! until an operator resolves it, so `rekey status` keeps showing it.

use super::sql::args;
use super::{Store, StoreError, now};

/// One key that may be live at the provider with nobody holding it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Suspect {
    /// Its number, for `rekey reconcile`.
    pub id: i64,
    /// The credential.
    pub credential: String,
    /// The rotation whose `generate` may have made it.
    pub rotation: Option<String>,
    /// The provider's id of the key, when a listing showed it.
    pub key_id: Option<String>,
    /// Why it is suspected, and what to do.
    pub reason: String,
    /// When it was found (Unix seconds).
    pub found_at: i64,
}

impl Store {
    /// Records a suspected orphan, with its audit entry; one already open
    /// for the same credential, rotation and key is not recorded twice.
    pub fn suspect(
        &self,
        credential: &str,
        rotation: Option<&str>,
        key_id: Option<&str>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.write(|| {
            let known = self.one(
                "SELECT 1 FROM suspects WHERE credential = ?1 AND rotation IS NOT DISTINCT FROM ?2
                 AND key_id IS NOT DISTINCT FROM ?3 AND resolved_at IS NULL",
                args![credential, rotation, key_id],
                |_| Ok(()),
            )?;
            if known.is_some() {
                return Ok(());
            }
            self.execute(
                "INSERT INTO suspects (credential, rotation, key_id, reason, found_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                args![credential, rotation, key_id, reason, now()],
            )?;
            self.audit(
                "key.possible_orphan",
                Some(credential),
                rotation,
                serde_json::json!({ "key_id": key_id, "reason": reason }),
            )
        })
    }

    /// The unresolved suspects, of one credential or of all.
    pub fn suspects(&self, credential: Option<&str>) -> Result<Vec<Suspect>, StoreError> {
        let sql = "SELECT id, credential, rotation, key_id, reason, found_at FROM suspects
                   WHERE resolved_at IS NULL AND (CAST(?1 AS TEXT) IS NULL OR credential = ?1) ORDER BY id";
        self.all(sql, args![credential], |r| {
            Ok(Suspect {
                id: r.get(0)?,
                credential: r.get(1)?,
                rotation: r.get(2)?,
                key_id: r.get(3)?,
                reason: r.get(4)?,
                found_at: r.get(5)?,
            })
        })
    }

    /// Records, before a key nobody held is revoked at the provider, that it
    /// was found and is being revoked: a kill between the revoke and
    /// [`Store::orphan_revoked`] must not leave the key without a trace.
    pub fn orphan_revoking(
        &self,
        credential: &str,
        rotation: Option<&str>,
        key_id: &str,
        tag: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(|| self.orphan_event("key.orphan_revoking", credential, rotation, key_id, tag))
    }

    /// The audit entry about a key nobody held.
    fn orphan_event(
        &self,
        event: &str,
        credential: &str,
        rotation: Option<&str>,
        key_id: &str,
        tag: Option<&str>,
    ) -> Result<(), StoreError> {
        self.audit(event, Some(credential), rotation, serde_json::json!({ "key_id": key_id, "tag": tag }))
    }

    /// Records that a key nobody held was revoked at the provider, and
    /// resolves any suspect of it.
    pub fn orphan_revoked(
        &self,
        credential: &str,
        rotation: Option<&str>,
        key_id: &str,
        tag: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(|| {
            self.execute(
                "UPDATE suspects SET resolved_at = ?3, resolution = 'revoked'
                 WHERE credential = ?1 AND key_id = ?2 AND resolved_at IS NULL",
                args![credential, key_id, now()],
            )?;
            self.orphan_event("key.orphan_revoked", credential, rotation, key_id, tag)
        })
    }

    /// Resolves suspects an operator dealt with by hand (or that a listing
    /// no longer shows), with the reason; returns how many.
    pub fn resolve_suspects(&self, credential: &str, ids: &[i64], resolution: &str) -> Result<usize, StoreError> {
        self.write(|| {
            let mut resolved = 0;
            for id in ids {
                resolved += self.execute(
                    "UPDATE suspects SET resolved_at = ?3, resolution = ?4
                     WHERE credential = ?1 AND id = ?2 AND resolved_at IS NULL",
                    args![credential, id, now(), resolution],
                )?;
            }
            if resolved > 0 {
                self.audit(
                    "orphans.resolved",
                    Some(credential),
                    None,
                    serde_json::json!({ "ids": ids, "resolution": resolution }),
                )?;
            }
            Ok(resolved)
        })
    }
}
