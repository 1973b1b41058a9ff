//! Encrypted backups. An export holds every version (secrets included),
//! rotation, journal record and audit entry, encrypted with XChaCha20-Poly1305
//! under a key stretched from a passphrase with Argon2id, so it can be kept
//! apart from the master key. It imports into a fresh store, which seals the
//! secrets under its own master key and re-chains the audit log.

use super::audit::Entry;
use super::rotations::{JournalEntry, Rotation};
use super::sql::args;
use super::suspects::Suspect;
use super::versions::Version;
use super::{Store, StoreError, rand_bytes};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"REKEY-BACKUP-1\n";
const SALT: usize = 16;
const NONCE: usize = 24;

#[derive(serde::Serialize, serde::Deserialize)]
struct Dump {
    versions: Vec<VersionDump>,
    rotations: Vec<RotationDump>,
    audit: Vec<AuditDump>,
    /// Unresolved suspected orphans (absent from backups of before them).
    #[serde(default)]
    suspects: Vec<Suspect>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct VersionDump {
    credential: String,
    version: i64,
    label: Option<String>,
    key_id: String,
    secret: String,
    attributes: String,
    expires_at: Option<i64>,
    created_at: i64,
    rotation: Option<String>,
    revoked_at: Option<i64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RotationDump {
    id: String,
    credential: String,
    started_at: i64,
    finished_at: Option<i64>,
    state: String,
    emergency: bool,
    from_version: Option<i64>,
    to_version: Option<i64>,
    revoke_after: Option<i64>,
    error: Option<String>,
    journal: Vec<(String, String, i64)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AuditDump {
    seq: i64,
    at: i64,
    event: String,
    credential: Option<String>,
    rotation: Option<String>,
    detail: serde_json::Value,
}

/// What an import brought in.
#[derive(Debug, serde::Serialize)]
pub struct Imported {
    /// Versions (keys) restored.
    pub versions: usize,
    /// Rotations restored.
    pub rotations: usize,
    /// Audit entries restored.
    pub audit_entries: usize,
    /// Suspected orphans restored.
    pub suspects: usize,
}

fn cipher(passphrase: &str, salt: &[u8]) -> Result<XChaCha20Poly1305, StoreError> {
    let mut key = Zeroizing::new([0u8; 32]);
    argon2::Argon2::default()
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| StoreError::MasterKey(format!("cannot derive the backup key: {e}")))?;
    Ok(XChaCha20Poly1305::new(key.as_ref().into()))
}

impl Store {
    /// The whole store, encrypted under `passphrase`.
    pub fn export(&self, passphrase: &str) -> Result<Vec<u8>, StoreError> {
        let mut dump = Dump { versions: vec![], rotations: vec![], audit: vec![], suspects: self.suspects(None)? };
        for credential in self.all_credentials()? {
            for v in self.versions(&credential)? {
                dump.versions.push(self.dump_version(&v)?);
            }
            for r in self.rotations(&credential)? {
                let journal = self
                    .journal(&r.id)?
                    .into_iter()
                    .map(|j: JournalEntry| (j.step, j.state.as_str().to_string(), j.at))
                    .collect();
                dump.rotations.push(dump_rotation(r, journal));
            }
        }
        dump.audit = self
            .audit_log(None)?
            .into_iter()
            .map(|e: Entry| AuditDump {
                seq: e.seq,
                at: e.at,
                event: e.event,
                credential: e.credential,
                rotation: e.rotation,
                detail: e.detail,
            })
            .collect();
        let plain = Zeroizing::new(serde_json::to_vec(&dump).expect("the dump serializes"));
        drop(dump);
        let salt: [u8; SALT] = rand_bytes();
        let nonce: [u8; NONCE] = rand_bytes();
        let sealed = cipher(passphrase, &salt)?
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plain, aad: MAGIC })
            .expect("encryption to memory cannot fail");
        Ok([MAGIC, &salt, &nonce, &sealed].concat())
    }

    /// Restores an export into this store, which must be empty.
    pub fn import_backup(&self, bytes: &[u8], passphrase: &str) -> Result<Imported, StoreError> {
        if !self.all_credentials()?.is_empty() {
            return Err(StoreError::Exists(self.location.describe()));
        }
        let body = bytes
            .strip_prefix(MAGIC)
            .filter(|b| b.len() > SALT + NONCE)
            .ok_or_else(|| StoreError::NotFound("this file is not a rekey backup".into()))?;
        let (salt, rest) = body.split_at(SALT);
        let (nonce, sealed) = rest.split_at(NONCE);
        let plain = Zeroizing::new(
            cipher(passphrase, salt)?.decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: MAGIC }).map_err(
                |_| StoreError::MasterKey("the backup passphrase is wrong, or the backup file was altered".into()),
            )?,
        );
        self.restore(&plain)
    }

    /// Restores a decrypted export in one transaction. The schema's
    /// constraints (known labels and states, one version per label, journal
    /// records of existing rotations) check it as it goes in, so a crafted
    /// backup (its passphrase is all an attacker needs) cannot leave rows
    /// the store would not write itself; the `backup` fuzz target holds it
    /// to that.
    pub fn restore(&self, plain: &[u8]) -> Result<Imported, StoreError> {
        if !self.all_credentials()?.is_empty() {
            return Err(StoreError::Exists(self.location.describe()));
        }
        let dump: Dump =
            serde_json::from_slice(plain).map_err(|e| StoreError::NotFound(format!("the backup is malformed: {e}")))?;
        self.write(|| {
            self.execute("DELETE FROM audit", &[])?;
            for v in &dump.versions {
                let sealed = self.sealer.seal(&format!("secret/{}/{}", v.credential, v.version), v.secret.as_bytes());
                self.execute(
                    "INSERT INTO versions (credential, version, label, key_id, secret, attributes, expires_at, created_at, rotation, revoked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    args![&v.credential, v.version, &v.label, &v.key_id, sealed, &v.attributes, v.expires_at, v.created_at, &v.rotation, v.revoked_at],
                )?;
            }
            for r in &dump.rotations {
                self.execute(
                    "INSERT INTO rotations (id, credential, started_at, finished_at, state, emergency, from_version, to_version, revoke_after, error)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    args![&r.id, &r.credential, r.started_at, r.finished_at, &r.state, r.emergency, r.from_version, r.to_version, r.revoke_after, &r.error],
                )?;
                for (seq, (step, state, at)) in (1..).zip(&r.journal) {
                    self.execute(
                        "INSERT INTO journal (rotation, seq, step, state, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        args![&r.id, seq, step, state, at],
                    )?;
                }
            }
            // Numbered anew from 1, in their order: a backup's own numbers are
            // not trusted (duplicates or gaps would break the chain's check).
            let mut audit: Vec<&AuditDump> = dump.audit.iter().collect();
            audit.sort_by_key(|a| a.seq);
            let mut previous = String::new();
            for (seq, a) in (1..).zip(audit) {
                let entry = Entry {
                    seq,
                    at: a.at,
                    event: a.event.clone(),
                    credential: a.credential.clone(),
                    rotation: a.rotation.clone(),
                    detail: a.detail.clone(),
                };
                previous = self.append(&self.sealer, &entry, &previous)?;
            }
            // Their `key.possible_orphan` entries came with the audit log.
            for s in &dump.suspects {
                self.execute(
                    "INSERT INTO suspects (credential, rotation, key_id, reason, found_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    args![&s.credential, &s.rotation, &s.key_id, &s.reason, s.found_at],
                )?;
            }
            let imported = Imported {
                versions: dump.versions.len(),
                rotations: dump.rotations.len(),
                audit_entries: dump.audit.len(),
                suspects: dump.suspects.len(),
            };
            self.audit("backup.imported", None, None, serde_json::to_value(&imported).expect("counts serialize"))?;
            Ok(imported)
        })
    }

    /// Every credential with a version or a rotation.
    fn all_credentials(&self) -> Result<Vec<String>, StoreError> {
        self.all("SELECT credential FROM versions UNION SELECT credential FROM rotations ORDER BY 1", &[], |r| r.get(0))
    }

    fn dump_version(&self, v: &Version) -> Result<VersionDump, StoreError> {
        let label = v
            .label
            .map(|l| serde_json::to_value(l).expect("labels serialize").as_str().unwrap_or_default().to_string());
        Ok(VersionDump {
            credential: v.credential.clone(),
            version: v.version,
            label,
            key_id: v.key_id.clone(),
            secret: self.secret(v)?.to_string(),
            attributes: serde_json::to_string(&v.attributes).expect("pairs serialize"),
            expires_at: v.expires_at,
            created_at: v.created_at,
            rotation: v.rotation.clone(),
            revoked_at: v.revoked_at,
        })
    }
}

fn dump_rotation(r: Rotation, journal: Vec<(String, String, i64)>) -> RotationDump {
    let state = serde_json::to_value(r.state).expect("states serialize").as_str().unwrap_or_default().to_string();
    RotationDump {
        id: r.id,
        credential: r.credential,
        started_at: r.started_at,
        finished_at: r.finished_at,
        state,
        emergency: r.emergency,
        from_version: r.from_version,
        to_version: r.to_version,
        revoke_after: r.revoke_after,
        error: r.error,
        journal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Location;

    #[test]
    fn a_restored_audit_log_is_numbered_and_chained_anew() {
        let dir = tempfile::tempdir().unwrap();
        let (db, key) = (dir.path().join("rekey.db"), dir.path().join("rekey.key"));
        Store::init(&Location::File(db.clone()), &key).unwrap();
        let store = Store::open(&Location::File(db.clone()), &key).unwrap();
        // Found by the `backup` fuzz target: out-of-order and duplicate numbers.
        let entry = |seq: i64, event: &str| AuditDump {
            seq,
            at: 0,
            event: event.into(),
            credential: None,
            rotation: None,
            detail: serde_json::json!({}),
        };
        let dump = Dump {
            versions: vec![],
            rotations: vec![],
            audit: vec![entry(7, "second"), entry(0, "first"), entry(7, "third")],
            suspects: vec![],
        };
        store.restore(&serde_json::to_vec(&dump).unwrap()).unwrap();
        assert_eq!(store.verify_audit().unwrap().unwrap(), 4, "three restored entries and backup.imported");
        let events: Vec<String> = store.audit_log(None).unwrap().into_iter().map(|e| e.event).collect();
        assert_eq!(events, ["first", "second", "third", "backup.imported"]);
    }

    #[test]
    fn a_suspected_orphan_survives_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            let (db, key) = (dir.path().join(format!("{name}.db")), dir.path().join(format!("{name}.key")));
            Store::init(&Location::File(db.clone()), &key).unwrap();
            Store::open(&Location::File(db.clone()), &key).unwrap()
        };
        let store = open("a");
        store.suspect("api", Some("rot-1"), None, "a lost generate").unwrap();
        let restored = open("b");
        let imported = restored.import_backup(&store.export("pass phrase").unwrap(), "pass phrase").unwrap();
        assert_eq!(imported.suspects, 1);
        let suspects = restored.suspects(Some("api")).unwrap();
        assert_eq!((suspects[0].rotation.as_deref(), suspects[0].reason.as_str()), (Some("rot-1"), "a lost generate"));
    }
}
