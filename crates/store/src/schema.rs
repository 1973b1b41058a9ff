//! The store's `meta` values: the schema version (and the upgrade of an
//! older one, see [`tables`]), the salt, the KMS-wrapped key, and the check
//! that tells a wrong master key from a corrupt store.

use super::StoreError;
use super::crypto::{Sealer, Wrapped};
use super::db::Db;
use super::sql::args;
use super::tables;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::tables::VERSION;

const KEY_CHECK: &[u8] = b"rekey master key check";
const KEY_CHECK_ID: &str = "meta/key-check";

/// Creates the tables of a new store, inside the caller's write.
pub fn create(db: &Db, salt: &[u8]) -> Result<(), StoreError> {
    tables::run_after(db, 0)?;
    db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?1)", args![VERSION.to_string()])?;
    db.execute("INSERT INTO meta (key, value) VALUES ('argon2_salt', ?1)", args![BASE64.encode(salt)])?;
    Ok(())
}

/// Whether the database already holds a store (PostgreSQL: its `meta` table).
pub fn exists(db: &Db) -> Result<bool, StoreError> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'meta'",
            &[],
        )?
        .is_some())
}

/// A value of the store's `meta` table, if set.
pub fn meta(db: &Db, key: &str) -> Result<Option<String>, StoreError> {
    db.query_opt("SELECT value FROM meta WHERE key = ?1", args![key])?.map(|row| row.get(0)).transpose()
}

/// Sets a value of `meta`, replacing the one there.
pub fn set_meta(db: &Db, key: &str, value: &str) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![key, value],
    )?;
    Ok(())
}

pub fn set_key_check(db: &Db, sealer: &Sealer) -> Result<(), StoreError> {
    set_meta(db, "key_check", &BASE64.encode(sealer.seal(KEY_CHECK_ID, KEY_CHECK)))
}

/// Keeps the master key as KMS wrapped it, and the KMS key's ARN.
pub fn set_wrapped_key(db: &Db, wrapped: &Wrapped) -> Result<(), StoreError> {
    set_meta(db, "kms_key", &wrapped.arn)?;
    set_meta(db, "kms_wrapped_key", &BASE64.encode(&wrapped.key))
}

/// Forgets the KMS-wrapped key (the master key is elsewhere now).
pub fn clear_wrapped_key(db: &Db) -> Result<(), StoreError> {
    db.execute("DELETE FROM meta WHERE key IN ('kms_key', 'kms_wrapped_key')", &[])?;
    Ok(())
}

/// The KMS key's ARN and the wrapped master key, if KMS holds the key.
pub fn wrapped_key(db: &Db) -> Result<Option<Wrapped>, StoreError> {
    let (Some(arn), Some(wrapped)) = (meta(db, "kms_key")?, meta(db, "kms_wrapped_key")?) else { return Ok(None) };
    let wrapped = BASE64.decode(wrapped).map_err(|_| StoreError::Tampered("meta/kms-wrapped-key".into()))?;
    Ok(Some(Wrapped { arn, key: wrapped }))
}

/// A value of `meta` every store has.
fn required(db: &Db, key: &str) -> Result<String, StoreError> {
    meta(db, key)?.ok_or_else(|| StoreError::Tampered(format!("meta/{key}")))
}

pub fn key_check_opens(db: &Db, sealer: &Sealer) -> Result<bool, StoreError> {
    let sealed = required(db, "key_check")?;
    let sealed = BASE64.decode(sealed).map_err(|_| StoreError::Tampered(KEY_CHECK_ID.into()))?;
    Ok(sealer.open(KEY_CHECK_ID, &sealed).is_ok_and(|plain| plain.as_slice() == KEY_CHECK))
}

/// Brings a store at schema `from` up to [`VERSION`], inside the caller's
/// write transaction.
fn migrate(db: &Db, from: i64) -> Result<(), StoreError> {
    if from >= VERSION {
        return Ok(());
    }
    tables::run_after(db, from)?;
    db.execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", args![VERSION.to_string()])?;
    Ok(())
}

/// The store's schema version.
fn version(db: &Db, store: &str) -> Result<i64, StoreError> {
    let not_a_store = |why: &str| StoreError::NotAStore { store: store.into(), why: why.into() };
    if let Db::Postgres { .. } = db
        && !exists(db)?
    {
        return Err(not_a_store("the database has no rekey tables"));
    }
    let found: Option<String> = db
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .map_err(|e| match e {
            StoreError::Sqlite(e @ rusqlite::Error::SqliteFailure(..))
                if e.sqlite_error_code() != Some(rusqlite::ErrorCode::Unknown) =>
            {
                StoreError::Sqlite(e)
            }
            StoreError::Sqlite(_) => not_a_store("it has no schema version"),
            e => e,
        })?
        .map(|row| row.get(0))
        .transpose()?;
    found.and_then(|v| v.parse().ok()).ok_or_else(|| not_a_store("its schema version is missing or not a number"))
}

/// Checks the store's schema, and upgrades an older one in one write
/// transaction (another process may have upgraded it meanwhile).
pub fn check_version(db: &Db, store: &str) -> Result<(), StoreError> {
    let found = version(db, store)?;
    if found > VERSION {
        return Err(StoreError::NewerSchema { found, supported: VERSION });
    }
    if found < VERSION {
        let tx = db.begin()?;
        migrate(db, version(db, store)?)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn salt(db: &Db) -> Result<Vec<u8>, StoreError> {
    let salt = required(db, "argon2_salt")?;
    BASE64.decode(salt).map_err(|_| StoreError::Tampered("meta/argon2-salt".into()))
}
