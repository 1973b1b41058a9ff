//! The tables, the schema version, and the check that tells a wrong master
//! key from a corrupt store.

use super::StoreError;
use super::crypto::Sealer;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::path::Path;

/// The schema this build writes and understands.
pub const VERSION: i64 = 5;

/// The steps from each older schema to the next, applied in order when a
/// store is opened (`MIGRATIONS[0]` takes version 1 to 2).
const MIGRATIONS: &[&str] = &[
    // 2: what the provider last said about a key's use, and when it was asked.
    "ALTER TABLE versions ADD COLUMN last_used_at INTEGER;
     ALTER TABLE versions ADD COLUMN checked_at INTEGER;
     ALTER TABLE versions ADD COLUMN valid INTEGER;",
    // 3: keys a provider may hold that no version accounts for.
    "CREATE TABLE suspects (
         id INTEGER PRIMARY KEY,
         credential TEXT NOT NULL,
         rotation TEXT,
         key_id TEXT,
         reason TEXT NOT NULL,
         found_at INTEGER NOT NULL,
         resolved_at INTEGER,
         resolution TEXT
     );
     CREATE INDEX open_suspects ON suspects (credential) WHERE resolved_at IS NULL;",
    // 4: events the daemon sends once (reminders), so a restart does not repeat them.
    "CREATE TABLE notices (
         credential TEXT NOT NULL,
         event TEXT NOT NULL,
         subject TEXT NOT NULL,
         at INTEGER NOT NULL,
         PRIMARY KEY (credential, event, subject)
     );",
    // 5: API tokens, known by the start of the token and its SHA-256 only.
    "CREATE TABLE tokens (
         name TEXT PRIMARY KEY,
         lookup TEXT NOT NULL UNIQUE,
         digest TEXT NOT NULL,
         role TEXT NOT NULL,
         scope TEXT NOT NULL,
         created_by TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         expires_at INTEGER,
         last_used_at INTEGER,
         revoked_at INTEGER
     );",
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

/// Brings a store at schema `from` up to [`VERSION`], inside the caller's
/// write transaction.
fn migrate(conn: &Connection, from: i64) -> Result<(), StoreError> {
    if from >= VERSION {
        return Ok(());
    }
    for step in &MIGRATIONS[(from - 1) as usize..] {
        conn.execute_batch(step)?;
    }
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", [VERSION.to_string()])?;
    Ok(())
}

/// The store's schema version.
fn version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let not_a_store = |why: &str| StoreError::NotAStore { path: path.into(), why: why.into() };
    let found: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
        .optional()
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(..) if e.sqlite_error_code() != Some(rusqlite::ErrorCode::Unknown) => {
                StoreError::Sqlite(e)
            }
            _ => not_a_store("it has no schema version"),
        })?;
    found.and_then(|v| v.parse().ok()).ok_or_else(|| not_a_store("its schema version is missing or not a number"))
}

/// Checks the store's schema, and upgrades an older one in one write
/// transaction (another process may have upgraded it meanwhile).
pub fn check_version(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = version(conn, path)?;
    if found > VERSION {
        return Err(StoreError::NewerSchema { found, supported: VERSION });
    }
    if found < VERSION {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        migrate(conn, version(conn, path)?)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn salt(conn: &Connection) -> Result<Vec<u8>, StoreError> {
    let salt: String = conn.query_row("SELECT value FROM meta WHERE key = 'argon2_salt'", [], |r| r.get(0))?;
    BASE64.decode(salt).map_err(|_| StoreError::Tampered("meta/argon2-salt".into()))
}
