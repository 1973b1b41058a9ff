//! Rotations and their journal. Each step of a rotation is journaled
//! `begun` before its side effect and `done` after it; the state changes
//! that must not be torn apart (a new key and its journal entry, a promotion)
//! happen in one transaction.

use super::sql::{Row, args};
use super::versions::{Key, Label};
use super::{Store, StoreError, now};

/// Where a rotation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Steps remain (or the process running it died: `rekey resume`).
    Running,
    /// Promoted; the previous key is revoked once the grace period ends.
    Grace,
    /// Done: the old key is revoked.
    Succeeded,
    /// Failed and undone: the old key is current again.
    RolledBack,
    /// Failed and could not be undone; see the error.
    Failed,
}

impl State {
    /// The state as `rekey status` and the store write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Grace => "grace",
            Self::Succeeded => "succeeded",
            Self::RolledBack => "rolled-back",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "grace" => Self::Grace,
            "succeeded" => Self::Succeeded,
            "rolled-back" => Self::RolledBack,
            _ => Self::Failed,
        }
    }
}

/// One rotation of one credential.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Rotation {
    /// Unique id, also passed to the provider.
    pub id: String,
    /// The credential.
    pub credential: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, once it ended.
    pub finished_at: Option<i64>,
    /// Where it stands.
    pub state: State,
    /// Whether the old key is revoked right after the new one verifies.
    pub emergency: bool,
    /// The version that was current when it started.
    pub from_version: Option<i64>,
    /// The version it generated.
    pub to_version: Option<i64>,
    /// When the previous key may be revoked (Unix seconds).
    pub revoke_after: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Where a journaled step stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Written before the step's side effect.
    Begun,
    /// Written after it.
    Done,
}

impl Phase {
    /// The phase as the journal writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Begun => "begun",
            Self::Done => "done",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "done" { Self::Done } else { Self::Begun }
    }
}

/// One journal record.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JournalEntry {
    /// The step, e.g. `generate` or `deploy:prod`.
    pub step: String,
    /// `begun` or `done`.
    pub state: Phase,
    /// Unix seconds.
    pub at: i64,
}

const COLUMNS: &str =
    "id, credential, started_at, finished_at, state, emergency, from_version, to_version, revoke_after, error";

fn from_row(row: &Row) -> Result<Rotation, StoreError> {
    let state: String = row.get(4)?;
    Ok(Rotation {
        id: row.get(0)?,
        credential: row.get(1)?,
        started_at: row.get(2)?,
        finished_at: row.get(3)?,
        state: State::parse(&state),
        emergency: row.get(5)?,
        from_version: row.get(6)?,
        to_version: row.get(7)?,
        revoke_after: row.get(8)?,
        error: row.get(9)?,
    })
}

/// The rotation ids (`rot-SECONDS-HEX`) that occur in `text`, such as the
/// name a plugin gave a key at `generate`.
pub fn ids_in(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("rot-").filter_map(|(at, _)| {
        let rest = &text[at + 4..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let hex = rest.get(digits + 1..digits + 9)?;
        let well_formed = digits > 0
            && rest.as_bytes()[digits] == b'-'
            && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        well_formed.then(|| &text[at..at + 4 + digits + 9])
    })
}

impl Store {
    /// Starts a rotation of `credential` from its current version.
    pub fn start_rotation(&self, credential: &str, emergency: bool) -> Result<Rotation, StoreError> {
        let id = format!("rot-{}-{}", now(), hex::encode(super::rand_bytes::<4>()));
        self.write(|| {
            self.fenced(credential)?;
            let from = self.labeled(credential, Label::Current)?.map(|v| v.version);
            self.execute(
                "INSERT INTO rotations (id, credential, started_at, state, emergency, from_version) VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
                args![&id, credential, now(), emergency, from],
            )?;
            self.audit(
                "rotation.started",
                Some(credential),
                Some(&id),
                serde_json::json!({ "emergency": emergency, "from_version": from }),
            )?;
            Ok(())
        })?;
        self.rotation(&id)
    }

    /// A rotation by id.
    pub fn rotation(&self, id: &str) -> Result<Rotation, StoreError> {
        self.one(&format!("SELECT {COLUMNS} FROM rotations WHERE id = ?1"), args![id], from_row)?
            .ok_or_else(|| StoreError::NotFound(format!("no rotation `{id}`")))
    }

    /// The unfinished rotation of a credential (running or in its grace
    /// period), if any.
    pub fn open_rotation(&self, credential: &str) -> Result<Option<Rotation>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM rotations WHERE credential = ?1 AND state IN ('running', 'grace')");
        self.one(&sql, args![credential], from_row)
    }

    /// Every unfinished rotation.
    pub fn open_rotations(&self) -> Result<Vec<Rotation>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM rotations WHERE state IN ('running', 'grace') ORDER BY started_at");
        self.all(&sql, &[], from_row)
    }

    /// The rotations of a credential, newest first.
    pub fn rotations(&self, credential: &str) -> Result<Vec<Rotation>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM rotations WHERE credential = ?1 ORDER BY started_at DESC, rowid DESC");
        self.all(&sql, args![credential], from_row)
    }

    /// Every rotation started at or after `since`, oldest first.
    pub fn rotations_since(&self, since: i64) -> Result<Vec<Rotation>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM rotations WHERE started_at >= ?1 ORDER BY started_at");
        self.all(&sql, args![since], from_row)
    }

    /// The most recent rotation of a credential, if any.
    pub fn last_rotation(&self, credential: &str) -> Result<Option<Rotation>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM rotations WHERE credential = ?1 ORDER BY started_at DESC, rowid DESC LIMIT 1"
        );
        self.one(&sql, args![credential], from_row)
    }

    /// The most recent rotation of every credential: the one inserted last,
    /// since a credential's rotations start one after another. (Read from
    /// the credential index alone, where sorting by start time would sort
    /// every rotation ever made.)
    pub(super) fn latest_rotations(&self) -> Result<Vec<Rotation>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM rotations WHERE rowid IN (SELECT max(rowid) FROM rotations GROUP BY credential)"
        );
        self.all(&sql, &[], from_row)
    }

    /// The journal of a rotation, in order.
    pub fn journal(&self, rotation: &str) -> Result<Vec<JournalEntry>, StoreError> {
        self.all("SELECT step, state, at FROM journal WHERE rotation = ?1 ORDER BY seq", args![rotation], |r| {
            Ok(JournalEntry { step: r.get(0)?, state: Phase::parse(&r.get::<String>(1)?), at: r.get(2)? })
        })
    }

    /// Whether a step of a rotation is journaled as done.
    pub fn step_done(&self, rotation: &str, step: &str) -> Result<bool, StoreError> {
        let sql = "SELECT 1 FROM journal WHERE rotation = ?1 AND step = ?2 AND state = 'done'";
        Ok(self.one(sql, args![rotation, step], |_| Ok(()))?.is_some())
    }

    /// Whether a step of a rotation was begun (done or not).
    pub fn step_begun(&self, rotation: &str, step: &str) -> Result<bool, StoreError> {
        let sql = "SELECT 1 FROM journal WHERE rotation = ?1 AND step = ?2";
        Ok(self.one(sql, args![rotation, step], |_| Ok(()))?.is_some())
    }

    /// Journals a step `begun` or `done`.
    pub fn record(&self, rotation: &Rotation, step: &str, phase: Phase) -> Result<(), StoreError> {
        self.write(|| {
            self.fenced(&rotation.credential)?;
            self.execute(
                "INSERT INTO journal (rotation, seq, step, state, at)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE rotation = ?1), ?2, ?3, ?4)",
                args![&rotation.id, step, phase.as_str(), now()],
            )?;
            Ok(())
        })
    }

    /// Stores the key `generate` returned as `pending` and journals the step
    /// done, together: once the provider made a key, the store has it.
    pub fn store_pending(&self, rotation: &Rotation, key: &Key) -> Result<i64, StoreError> {
        self.write(|| {
            self.fenced(&rotation.credential)?;
            let version = self.insert_version(&rotation.credential, Label::Pending, key, Some(&rotation.id))?;
            self.execute("UPDATE rotations SET to_version = ?2 WHERE id = ?1", args![&rotation.id, version])?;
            self.record(rotation, "generate", Phase::Done)?;
            self.audit(
                "key.generated",
                Some(&rotation.credential),
                Some(&rotation.id),
                serde_json::json!({ "version": version, "key_id": key.key_id }),
            )?;
            Ok(version)
        })
    }

    /// `pending` becomes `current` and `current` becomes `previous`, and the
    /// rotation enters its grace period (ending at `revoke_after`).
    pub fn promote(&self, rotation: &Rotation, revoke_after: i64) -> Result<(), StoreError> {
        let to = rotation.to_version.ok_or_else(|| StoreError::NotFound("nothing to promote".into()))?;
        self.write(|| {
            self.fenced(&rotation.credential)?;
            if let Some(current) = self.labeled(&rotation.credential, Label::Current)? {
                self.relabel(&rotation.credential, current.version, Some(Label::Previous))?;
            }
            self.relabel(&rotation.credential, to, Some(Label::Current))?;
            self.execute(
                "UPDATE rotations SET state = 'grace', revoke_after = ?2 WHERE id = ?1",
                args![&rotation.id, revoke_after],
            )?;
            self.record(rotation, "promote", Phase::Done)?;
            self.audit(
                "key.promoted",
                Some(&rotation.credential),
                Some(&rotation.id),
                serde_json::json!({ "version": to, "revoke_after": revoke_after }),
            )
        })
    }

    /// Records that a version was revoked at the provider, with its step.
    pub fn revoked(&self, rotation: &Rotation, version: i64, step: &str) -> Result<(), StoreError> {
        self.write(|| {
            self.fenced(&rotation.credential)?;
            self.mark_revoked(&rotation.credential, version)?;
            self.record(rotation, step, Phase::Done)?;
            self.audit(
                "key.revoked",
                Some(&rotation.credential),
                Some(&rotation.id),
                serde_json::json!({ "version": version }),
            )
        })
    }

    /// Undoes a promotion: the previous version is current again and the
    /// version the rotation made goes back to `pending` (to be revoked).
    pub fn demote(&self, rotation: &Rotation) -> Result<(), StoreError> {
        let (Some(from), Some(to)) = (rotation.from_version, rotation.to_version) else {
            return Err(StoreError::NotFound("this rotation has no previous key to go back to".into()));
        };
        self.write(|| {
            self.fenced(&rotation.credential)?;
            self.relabel(&rotation.credential, to, None)?;
            self.relabel(&rotation.credential, from, Some(Label::Current))?;
            self.relabel(&rotation.credential, to, Some(Label::Pending))?;
            self.execute("UPDATE rotations SET state = 'running' WHERE id = ?1", args![&rotation.id])?;
            self.audit(
                "key.demoted",
                Some(&rotation.credential),
                Some(&rotation.id),
                serde_json::json!({ "current": from, "pending": to }),
            )
        })
    }

    /// Records why a rotation is failing, before it is undone.
    pub fn set_error(&self, rotation: &Rotation, error: &str) -> Result<(), StoreError> {
        self.write(|| {
            self.fenced(&rotation.credential)?;
            self.execute("UPDATE rotations SET error = ?2 WHERE id = ?1", args![&rotation.id, error])?;
            Ok(())
        })
    }

    /// Ends the grace period now.
    pub fn end_grace(&self, rotation: &Rotation) -> Result<(), StoreError> {
        self.write(|| {
            self.fenced(&rotation.credential)?;
            self.execute("UPDATE rotations SET revoke_after = ?2 WHERE id = ?1", args![&rotation.id, now()])?;
            self.audit("grace.ended", Some(&rotation.credential), Some(&rotation.id), serde_json::json!({}))
        })
    }

    /// Ends a rotation.
    pub fn finish(&self, rotation: &Rotation, state: State, error: Option<&str>) -> Result<(), StoreError> {
        self.write(|| {
            self.fenced(&rotation.credential)?;
            self.execute(
                "UPDATE rotations SET state = ?2, finished_at = ?3, error = ?4 WHERE id = ?1",
                args![&rotation.id, state.as_str(), now(), error],
            )?;
            let event = match state {
                State::Succeeded => "rotation.succeeded",
                State::RolledBack => "rotation.rolled_back",
                _ => "rotation.failed",
            };
            self.audit(event, Some(&rotation.credential), Some(&rotation.id), serde_json::json!({ "error": error }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ids_in;

    #[test]
    fn rotation_ids_are_found_inside_a_key_name() {
        let found: Vec<&str> = ids_in("rekey rot-1796616600-fce80098 (was rot-17-0123abcd)").collect();
        assert_eq!(found, ["rot-1796616600-fce80098", "rot-17-0123abcd"]);
    }

    #[test]
    fn text_that_only_looks_like_a_rotation_id_is_not_one() {
        for text in ["rot-", "rot-123", "rot-123-abc", "rot--0123abcd", "rot-12-0123ABCD", "carrot-x-12345678"] {
            assert_eq!(ids_in(text).count(), 0, "{text}");
        }
    }
}
