//! The tables, the schema version, and the check that tells a wrong master
//! key from a corrupt store.

use super::StoreError;
use super::crypto::Sealer;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rusqlite::{Connection, OptionalExtension};

/// The schema this build writes and understands.
pub const VERSION: i64 = 2;

/// The steps from each older schema to the next, applied in order when a
/// store is opened (`MIGRATIONS[0]` takes version 1 to 2).
const MIGRATIONS: &[&str] = &[
    // 2: what the provider last said about a key's use, and when it was asked.
    "ALTER TABLE versions ADD COLUMN last_used_at INTEGER;
     ALTER TABLE versions ADD COLUMN checked_at INTEGER;
     ALTER TABLE versions ADD COLUMN valid INTEGER;",
];
const KEY_CHECK: &[u8] = b"rekey master key check";
const KEY_CHECK_ID: &str = "meta/key-check";

pub fn create(conn: &Connection, salt: &[u8]) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE versions (
             credential TEXT NOT NULL,
             version INTEGER NOT NULL,
             label TEXT CHECK (label IN ('current', 'pending', 'previous')),
             key_id TEXT NOT NULL,
             secret BLOB NOT NULL,
             attributes TEXT NOT NULL,
             expires_at INTEGER,
             created_at INTEGER NOT NULL,
             rotation TEXT,
             revoked_at INTEGER,
             PRIMARY KEY (credential, version)
         );
         CREATE UNIQUE INDEX one_per_label ON versions (credential, label) WHERE label IS NOT NULL;
         CREATE TABLE rotations (
             id TEXT PRIMARY KEY,
             credential TEXT NOT NULL,
             started_at INTEGER NOT NULL,
             finished_at INTEGER,
             state TEXT NOT NULL CHECK (state IN ('running', 'grace', 'succeeded', 'rolled-back', 'failed')),
             emergency INTEGER NOT NULL,
             from_version INTEGER,
             to_version INTEGER,
             revoke_after INTEGER,
             error TEXT
         );
         CREATE INDEX rotations_by_credential ON rotations (credential, started_at);
         CREATE TABLE journal (
             rotation TEXT NOT NULL REFERENCES rotations (id),
             seq INTEGER NOT NULL,
             step TEXT NOT NULL,
             state TEXT NOT NULL CHECK (state IN ('begun', 'done')),
             at INTEGER NOT NULL,
             PRIMARY KEY (rotation, seq)
         );
         CREATE TABLE audit (
             seq INTEGER PRIMARY KEY,
             at INTEGER NOT NULL,
             event TEXT NOT NULL,
             credential TEXT,
             rotation TEXT,
             detail TEXT NOT NULL,
             mac TEXT NOT NULL
         );",
    )?;
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?1)", ["1"])?;
    migrate(conn, 1)?;
    conn.execute("INSERT INTO meta (key, value) VALUES ('argon2_salt', ?1)", [BASE64.encode(salt)])?;
    Ok(())
}

pub fn set_key_check(conn: &Connection, sealer: &Sealer) -> Result<(), StoreError> {
    let sealed = BASE64.encode(sealer.seal(KEY_CHECK_ID, KEY_CHECK));
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('key_check', ?1)", [sealed])?;
    Ok(())
}

pub fn key_check_opens(conn: &Connection, sealer: &Sealer) -> Result<bool, StoreError> {
    let sealed: String = conn.query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| r.get(0))?;
    let sealed = BASE64.decode(sealed).map_err(|_| StoreError::Tampered(KEY_CHECK_ID.into()))?;
    Ok(sealer.open(KEY_CHECK_ID, &sealed).is_ok_and(|plain| plain.as_slice() == KEY_CHECK))
}

/// Brings a store at schema `from` up to [`VERSION`], in one transaction.
fn migrate(conn: &Connection, from: i64) -> Result<(), StoreError> {
    if from >= VERSION {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    for step in &MIGRATIONS[(from - 1) as usize..] {
        conn.execute_batch(step)?;
    }
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", [VERSION.to_string()])?;
    tx.commit()?;
    Ok(())
}

/// Checks the store's schema, and upgrades an older one.
pub fn check_version(conn: &Connection) -> Result<(), StoreError> {
    let found: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
        .optional()
        .map_err(|_| StoreError::NotFound("this file is not a rekey store (no schema version)".into()))?;
    let found: i64 = found
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::NotFound("this file is not a rekey store".into()))?;
    if found > VERSION {
        return Err(StoreError::NewerSchema { found, supported: VERSION });
    }
    migrate(conn, found)
}

pub fn salt(conn: &Connection) -> Result<Vec<u8>, StoreError> {
    let salt: String = conn.query_row("SELECT value FROM meta WHERE key = 'argon2_salt'", [], |r| r.get(0))?;
    BASE64.decode(salt).map_err(|_| StoreError::Tampered("meta/argon2-salt".into()))
}
