//! The store: credential versions, rotations with their journal, the audit
//! log, suspects, tokens and leases, in one SQLite file (WAL, the embedded
//! default) or one PostgreSQL database shared by several daemons
//! ([`Location`]); every query is written once for both (`sql`, `db`,
//! `postgres`). Secret values are sealed under the master key, held in a
//! file or by a KMS (see [`crypto`], [`kms`]); nothing secret is ever
//! written in clear.
//!
//! The journal is what makes rotations crash-safe: every step is recorded
//! *before* its side effect and marked done after it, and waits for the
//! disk (`synchronous=FULL` on SQLite, a committed transaction on
//! PostgreSQL) so a record survives a killed process or a power cut.
//!
//! Several processes share one store. Every write goes through
//! `Store::write`, which takes the write lock before it reads anything
//! (`BEGIN IMMEDIATE` on SQLite, an advisory lock on PostgreSQL): a
//! transaction that read first and wrote later could find the database
//! changed under it, and numbers such as the next audit entry's would be
//! read outside the lock. Leases with fencing
//! keep one process per credential ([`lease`]).

pub mod audit;
pub mod backup;
mod batch;
pub mod clock;
pub mod crypto;
mod db;
mod durable;
mod error;
pub mod kms;
pub mod lease;
pub mod location;
pub mod migrate;
mod notices;
pub mod overview;
mod postgres;
pub mod reference;
pub mod rewrap;
pub mod rotations;
mod schema;
mod sql;
pub mod suspects;
mod tables;
pub mod tokens;
pub mod versions;

pub use error::StoreError;
pub use location::Location;

use crypto::{KeySource, Sealer, Wrapped};
use db::Db;
use rusqlite::Connection;
use sql::{Row, Value};
use std::cell::{OnceCell, RefCell};
use std::collections::HashSet;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// An open store.
pub struct Store {
    db: Db,
    sealer: Sealer,
    location: Location,
    group: durable::GroupCommit,
    batch: batch::Batch,
    /// The PostgreSQL leases this store holds, once it claimed one.
    leases: OnceCell<Arc<lease::Leases>>,
    /// The credentials whose lease the open write transaction checked.
    fenced: RefCell<HashSet<String>>,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.flush_before_close();
    }
}

/// Seconds since the Unix epoch, by rekey's clock (which tests can set).
pub use crate::clock::now;

impl Store {
    /// Creates a store at `location`. Unless the master key comes from the
    /// environment, a new random key is written to `key_file` (mode 0600).
    /// All or nothing: on any failure (a full disk, say) every file it
    /// created is removed again and a database is left empty, so `init`
    /// can simply be run once more.
    pub fn init(location: &Location, key_file: &Path) -> Result<(), StoreError> {
        Self::init_with(location, &KeySource::find(key_file))
    }

    /// The same with the master key from `source` (a KMS key, say).
    pub fn init_with(location: &Location, source: &KeySource) -> Result<(), StoreError> {
        if let KeySource::File(file) = &source
            && file.exists()
        {
            return Err(StoreError::Exists(file.display().to_string()));
        }
        let mut created = Created::default();
        let result = Self::create(location, source, &mut created);
        if result.is_err() {
            created.remove();
        }
        result
    }

    fn create(location: &Location, source: &KeySource, created: &mut Created) -> Result<(), StoreError> {
        let db = fresh_database(location, created)?;
        let salt: [u8; 16] = rand_bytes();
        let (master, wrapped) = source.new_master_key(&salt)?;
        if let KeySource::File(file) = source {
            created.files.push(file.to_path_buf());
        }
        let store = Self::new(db, Sealer::new(&master), location);
        store.write(|| {
            schema::create(&store.db, &salt)?;
            if let Some(wrapped) = &wrapped {
                schema::set_wrapped_key(&store.db, wrapped)?;
            }
            schema::set_key_check(&store.db, &store.sealer)?;
            store.audit("store.initialized", None, None, serde_json::json!({ "key": source.describe() }))
        })?;
        // Checkpoint now, so a full disk shows here and not at the first rotation.
        if let Db::Sqlite(conn) = &store.db {
            conn.pragma_update(None, "wal_checkpoint", "TRUNCATE").map_err(|e| store.located(e.into()))?;
        }
        Ok(())
    }

    fn new(db: Db, sealer: Sealer, location: &Location) -> Self {
        Self {
            db,
            sealer,
            location: location.clone(),
            group: Default::default(),
            batch: Default::default(),
            leases: OnceCell::new(),
            fenced: RefCell::default(),
        }
    }

    /// Opens an existing store with the master key from the environment or
    /// `key_file`.
    pub fn open(location: &Location, key_file: &Path) -> Result<Self, StoreError> {
        Self::open_with(location, &KeySource::find(key_file))
    }

    /// The same with the master key from `source`.
    pub fn open_with(location: &Location, source: &KeySource) -> Result<Self, StoreError> {
        let db = opened(location)?;
        let located = |e| located(&db, location, e);
        let wrapped = schema::wrapped_key(&db).map_err(located)?;
        if let (Some(Wrapped { arn, .. }), KeySource::Env(_) | KeySource::Passphrase(_) | KeySource::File(_)) =
            (&wrapped, source)
        {
            return Err(StoreError::MasterKey(format!(
                "this store's master key is held by the AWS KMS key {arn}; set key = \"aws-kms:{arn}\" in rekey.toml"
            )));
        }
        let salt = schema::salt(&db).map_err(located)?;
        let sealer = Sealer::new(&source.master_key(&salt, wrapped.as_ref().map(|w| w.key.as_slice()))?);
        if !schema::key_check_opens(&db, &sealer).map_err(located)? {
            return Err(StoreError::WrongKey(source.describe()));
        }
        Ok(Self::new(db, sealer, location))
    }

    /// Another connection to the same store, with the same master key
    /// (not derived or fetched again): for readers that must not wait
    /// behind this connection's work, such as the API's.
    pub fn connection(&self) -> Result<Self, StoreError> {
        Ok(Self::new(opened(&self.location)?, self.sealer.clone(), &self.location))
    }

    /// Runs the reads of `body` on one snapshot of the store (inside a
    /// transaction already open, in that one).
    pub fn snapshot<T>(&self, body: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.db.in_transaction() {
            return body();
        }
        let tx = self.db.begin_read()?;
        let value = body()?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `body` in one write transaction that holds the write lock
    /// from its first statement (see [`db`]), and commits it: on disk when
    /// it returns, or, with group commits, at the next [`Store::durable`].
    /// Called inside another `write`, it joins that transaction; while a
    /// batch is open, it commits with it (see [`batch`]). A failure names
    /// the file and its cause (`no space left on device`).
    pub fn write<T>(&self, body: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.writing_in_batch() || (self.db.in_transaction() && !self.batch_open()) {
            return body();
        }
        if self.to_batch() {
            return self.write_in_batch(body).map_err(|e| self.located(e));
        }
        let run = || {
            self.fenced.borrow_mut().clear();
            let tx = self.db.begin()?;
            let value = body()?;
            tx.commit()?;
            self.committed();
            Ok(value)
        };
        run().map_err(|e| self.located(e))
    }

    /// Names the store file, and the operating system's cause, in an error
    /// from SQLite.
    fn located(&self, error: StoreError) -> StoreError {
        located(&self.db, &self.location, error)
    }

    /// Where the store is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Runs one statement.
    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        self.db.execute(sql, args)
    }

    /// Reads the first row of a query, converted by `row`, if there is one.
    fn one<T>(
        &self,
        sql: &str,
        args: &[Value],
        row: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.db.query_opt(sql, args)?.as_ref().map(row).transpose()
    }

    /// Reads every row of a query, each converted by `row`.
    fn all<T>(
        &self,
        sql: &str,
        args: &[Value],
        row: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.db.query_each(sql, args, |r| {
            out.push(row(&r)?);
            Ok(())
        })?;
        Ok(out)
    }
}

/// Connects to the store at `location` and checks (or upgrades) its schema.
fn opened(location: &Location) -> Result<Db, StoreError> {
    let db = match location {
        Location::File(path) if !path.exists() => return Err(StoreError::Missing(location.describe())),
        Location::File(path) => Db::Sqlite(connect(path)?),
        Location::Postgres(target) => Db::postgres(postgres::Connection::open(target)?),
    };
    schema::check_version(&db, &location.describe()).map_err(|e| located(&db, location, e))?;
    Ok(db)
}

/// Checks that the store at `location` can still be opened and read, on a
/// connection of its own: a daemon's open connection keeps working on a
/// file that was deleted, moved or made unreadable, which its readiness
/// must not hide.
pub fn probe(location: &Location) -> Result<(), StoreError> {
    let Location::File(path) = location else { return opened(location).map(drop) };
    probed(path, &location.describe()).map(drop)
}

/// Checks, beyond [`probe`], that every page of an SQLite store is whole
/// (`PRAGMA quick_check`): a file truncated or partly overwritten under a
/// running daemon still answers the few pages its connection has cached.
/// It reads the whole file, so it runs now and then, not per request.
/// PostgreSQL checks its own pages.
pub fn check_integrity(location: &Location) -> Result<(), StoreError> {
    let Location::File(path) = location else { return probe(location) };
    let conn = probed(path, &location.describe())?;
    let found: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut query| query.query_map([], |row| row.get(0))?.collect())
        .map_err(|e| locate(e.into(), path, None))?;
    match found.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        problems => Err(StoreError::Damaged { path: path.clone(), problems: problems.join("; ") }),
    }
}

/// A connection of its own to the SQLite file at `path` (described as
/// `store`), once its schema version reads: what both checks start from.
fn probed(path: &Path, store: &str) -> Result<Connection, StoreError> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| locate(e.into(), path, None))?;
    conn.busy_timeout(Duration::from_secs(2))?;
    let db = Db::Sqlite(conn);
    schema::check_version(&db, store)?;
    let Db::Sqlite(conn) = db else { unreachable!("made as SQLite just above") };
    Ok(conn)
}

/// The file SQLite keeps beside the store, e.g. `rekey.db-wal`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Files `init` made, removed again when it fails.
#[derive(Default)]
struct Created {
    files: Vec<PathBuf>,
}

/// A new, empty database for a store at `location`: a new SQLite file
/// (its folder made, private before SQLite writes to it), or a PostgreSQL
/// database that holds no store yet. The files it made join `created`.
fn fresh_database(location: &Location, created: &mut Created) -> Result<Db, StoreError> {
    match location {
        Location::File(path) => {
            if path.exists() {
                return Err(StoreError::Exists(location.describe()));
            }
            let io = |path: &Path| {
                let path = path.to_path_buf();
                move |source| StoreError::Io { path, source }
            };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
            created.files.extend(["", "-wal", "-shm", "-journal"].map(|suffix| sibling(path, suffix)));
            Ok(Db::Sqlite(connect(path)?))
        }
        Location::Postgres(target) => {
            let db = Db::postgres(postgres::Connection::open(target)?);
            if schema::exists(&db)? {
                return Err(StoreError::Exists(location.describe()));
            }
            Ok(db)
        }
    }
}

impl Created {
    fn remove(self) {
        for file in self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// [`locate`] for a store's database, when it is an SQLite file.
fn located(db: &Db, location: &Location, error: StoreError) -> StoreError {
    match (db, location) {
        (Db::Sqlite(conn), Location::File(path)) => locate(error, path, Some(conn)),
        _ => error,
    }
}

/// Turns an SQLite error into one that says which file failed and why, in
/// the operating system's words when SQLite only says `disk I/O error`.
fn locate(error: StoreError, path: &Path, conn: Option<&Connection>) -> StoreError {
    let StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, message)) = &error else { return error };
    let detail = message.clone().unwrap_or_else(|| failure.to_string());
    let cause = match failure.code {
        rusqlite::ErrorCode::DiskFull => no_space(),
        rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::CannotOpen => {
            // SAFETY: the handle belongs to a live connection, and
            // sqlite3_system_errno only reads the errno it recorded.
            let errno = conn.map_or(0, |c| unsafe { rusqlite::ffi::sqlite3_system_errno(c.handle()) });
            match errno {
                0 if disk_is_full(path) => no_space(),
                0 => detail.clone(),
                errno => std::io::Error::from_raw_os_error(errno).to_string(),
            }
        }
        rusqlite::ErrorCode::NotADatabase => "this file is not a rekey store (not an SQLite database)".into(),
        _ => return error,
    };
    StoreError::File { path: path.into(), cause, detail }
}

fn no_space() -> String {
    std::io::Error::from_raw_os_error(libc::ENOSPC).to_string()
}

/// Whether the file system holding `path` has no block left to write.
fn disk_is_full(path: &Path) -> bool {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    rustix::fs::statvfs(dir).is_ok_and(|stats| stats.f_bavail == 0)
}

/// Opens the database with the settings every connection uses; a failure
/// names the file and the cause.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| locate(e.into(), path, None))?;
    let settings = || -> rusqlite::Result<()> {
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(64);
        // The bundled SQLite is built with STAT4, which re-prepares a cached
        // statement whenever a value bound against an indexed column changes
        // (every journal INSERT, every lookup by credential), in case the
        // value would change the plan: 13 % of a rotation's CPU. The store's
        // plans do not depend on values (it keeps no statistics), so the
        // query planner stability guarantee turns that off.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")
    };
    settings().map_err(|e| locate(e.into(), path, Some(&conn)))?;
    Ok(conn)
}

/// Random bytes from the OS.
pub fn rand_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    bytes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::versions::Key;

    fn credential(id: &str, secret: &str) -> Key {
        Key { key_id: id.into(), secret: secret.into(), attributes: vec![], expires_at: None }
    }

    fn fresh() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (db, key) = (dir.path().join("rekey.db"), dir.path().join("rekey.key"));
        Store::init(&Location::File(db.clone()), &key).unwrap();
        (dir, db, key)
    }

    /// A new store in a temporary folder, open.
    pub(crate) fn scratch() -> (tempfile::TempDir, Store) {
        let (dir, db, key) = fresh();
        let store = Store::open(&Location::File(db.clone()), &key).unwrap();
        (dir, store)
    }

    #[test]
    fn a_probe_fails_once_the_store_file_is_gone() {
        let (dir, store) = scratch();
        assert!(probe(store.location()).is_ok());
        std::fs::rename(dir.path().join("rekey.db"), dir.path().join("moved.db")).unwrap();
        assert!(probe(store.location()).is_err());
    }

    #[test]
    fn a_store_opens_with_its_key_and_keeps_secrets_sealed() {
        let (_dir, db, key) = fresh();
        let store = Store::open(&Location::File(db.clone()), &key).unwrap();
        store.import("api", &credential("k1", "s3cr3t-value")).unwrap();
        let current = store.labeled("api", versions::Label::Current).unwrap().unwrap();
        assert_eq!(store.secret(&current).unwrap().as_str(), "s3cr3t-value");
        let bytes = std::fs::read(&db).unwrap();
        assert!(!bytes.windows(12).any(|w| w == b"s3cr3t-value"));
        assert!(matches!(Store::init(&Location::File(db.clone()), &key), Err(StoreError::Exists(_))));
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_does_not_open() {
        let (_dir, db, key) = fresh();
        let store = Store::open(&Location::File(db.clone()), &key).unwrap();
        store.import("a", &credential("k1", "secret-a")).unwrap();
        store.import("b", &credential("k2", "secret-b")).unwrap();
        store.db.execute("UPDATE versions SET secret = (SELECT secret FROM versions WHERE credential = 'a') WHERE credential = 'b'", &[]).unwrap();
        let b = store.labeled("b", versions::Label::Current).unwrap().unwrap();
        assert!(matches!(store.secret(&b), Err(StoreError::Tampered(id)) if id == "secret/b/1"));
    }

    #[test]
    fn a_cached_statement_is_not_prepared_again_when_its_bindings_change() {
        let (_dir, db, _key) = fresh();
        let conn = connect(&db).unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT, n INTEGER); CREATE INDEX t_by_k ON t (k);").unwrap();
        let sql = "INSERT INTO t (k, n) VALUES (?1, (SELECT COALESCE(MAX(n), 0) + 1 FROM t WHERE k = ?1))";
        for k in ["a", "b", "a", "c"] {
            conn.prepare_cached(sql).unwrap().execute([k]).unwrap();
        }
        let statement = conn.prepare_cached(sql).unwrap();
        assert_eq!(statement.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }

    #[test]
    fn a_store_from_a_newer_rekey_is_refused() {
        let (_dir, db, key) = fresh();
        Connection::open(&db)
            .unwrap()
            .execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", [])
            .unwrap();
        let error = Store::open(&Location::File(db.clone()), &key).err().unwrap();
        assert_eq!(
            error.to_string(),
            "the store has schema version 99, newer than this rekey understands (6); upgrade rekey"
        );
    }

    #[test]
    fn a_store_from_an_older_rekey_is_upgraded_in_place() {
        let (_dir, db, key) = fresh();
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "ALTER TABLE versions DROP COLUMN last_used_at; ALTER TABLE versions DROP COLUMN checked_at;
             ALTER TABLE versions DROP COLUMN valid; DROP TABLE suspects; DROP TABLE notices; DROP TABLE tokens;
             DROP INDEX versions_by_label; DROP INDEX open_rotations; DROP INDEX audit_by_credential;
             UPDATE meta SET value = '1' WHERE key = 'schema_version';",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(&Location::File(db.clone()), &key).unwrap();
        store.import("api", &credential("k1", "s")).unwrap();
        assert_eq!(schema::meta(&store.db, "schema_version").unwrap().as_deref(), Some("6"));
        assert!(!store.noticed("api", "key.due_soon", "v1:1d").unwrap(), "the tables of every step are there");
        assert!(store.tokens().unwrap().is_empty(), "the newest too");
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let (_dir, db, key) = fresh();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = Store::open(&Location::File(db.clone()), &key).err().unwrap().to_string();
        assert!(error.contains("can be read by others (mode 644)"), "{error}");
    }
}
