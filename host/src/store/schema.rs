//! The tables, the schema version, and the check that tells a wrong master
//! key from a corrupt store.

use super::StoreError;
use super::crypto::{Sealer, Wrapped};
use super::db::Db;
use super::sql::args;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

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
/// The same tables on PostgreSQL, at [`VERSION`] (integers are `BIGINT`,
/// bytes `BYTEA`; `rotations.rowid` keeps their order of insertion as
/// SQLite's rowid does), and the leases that let several daemons share
/// them (see `lease.rs`). Keep it in step with the SQLite schema and its
/// migrations.
const POSTGRES: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE versions (
        credential TEXT NOT NULL,
        version BIGINT NOT NULL,
        label TEXT CHECK (label IN ('current', 'pending', 'previous')),
        key_id TEXT NOT NULL,
        secret BYTEA NOT NULL,
        attributes TEXT NOT NULL,
        expires_at BIGINT,
        created_at BIGINT NOT NULL,
        rotation TEXT,
        revoked_at BIGINT,
        last_used_at BIGINT,
        checked_at BIGINT,
        valid BIGINT,
        PRIMARY KEY (credential, version)
    );
    CREATE UNIQUE INDEX one_per_label ON versions (credential, label) WHERE label IS NOT NULL;
    CREATE INDEX versions_by_label ON versions (label) WHERE label IS NOT NULL;
    CREATE TABLE rotations (
        rowid BIGSERIAL UNIQUE,
        id TEXT PRIMARY KEY,
        credential TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT,
        state TEXT NOT NULL CHECK (state IN ('running', 'grace', 'succeeded', 'rolled-back', 'failed')),
        emergency BIGINT NOT NULL,
        from_version BIGINT,
        to_version BIGINT,
        revoke_after BIGINT,
        error TEXT
    );
    CREATE INDEX rotations_by_credential ON rotations (credential, started_at);
    CREATE INDEX open_rotations ON rotations (credential) WHERE state IN ('running', 'grace');
    CREATE TABLE journal (
        rotation TEXT NOT NULL REFERENCES rotations (id),
        seq BIGINT NOT NULL,
        step TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('begun', 'done')),
        at BIGINT NOT NULL,
        PRIMARY KEY (rotation, seq)
    );
    CREATE TABLE audit (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        event TEXT NOT NULL,
        credential TEXT,
        rotation TEXT,
        detail TEXT NOT NULL,
        mac TEXT NOT NULL
    );
    CREATE INDEX audit_by_credential ON audit (credential, seq);
    CREATE TABLE suspects (
        id BIGSERIAL PRIMARY KEY,
        credential TEXT NOT NULL,
        rotation TEXT,
        key_id TEXT,
        reason TEXT NOT NULL,
        found_at BIGINT NOT NULL,
        resolved_at BIGINT,
        resolution TEXT
    );
    CREATE INDEX open_suspects ON suspects (credential) WHERE resolved_at IS NULL;
    CREATE TABLE notices (
        credential TEXT NOT NULL,
        event TEXT NOT NULL,
        subject TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (credential, event, subject)
    );
    CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        lookup TEXT NOT NULL UNIQUE,
        digest TEXT NOT NULL,
        role TEXT NOT NULL,
        scope TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        last_used_at BIGINT,
        revoked_at BIGINT
    );
    CREATE TABLE leases (
        credential TEXT PRIMARY KEY,
        owner TEXT,
        fence BIGINT NOT NULL,
        expires_at TIMESTAMPTZ
    );";
const KEY_CHECK: &[u8] = b"rekey master key check";
const KEY_CHECK_ID: &str = "meta/key-check";

/// Creates the tables of a new store, inside the caller's write.
pub fn create(db: &Db, salt: &[u8]) -> Result<(), StoreError> {
    if let Db::Postgres { .. } = db {
        db.batch(POSTGRES)?;
        db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?1)", args![VERSION.to_string()])?;
    } else {
        create_sqlite(db)?;
    }
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

/// The SQLite tables as version 1 made them, brought up to [`VERSION`].
fn create_sqlite(db: &Db) -> Result<(), StoreError> {
    db.batch(
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
    db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?1)", args!["1"])?;
    migrate(db, 1)
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
    for step in &MIGRATIONS[(from - 1) as usize..] {
        db.batch(step)?;
    }
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
