//! The embedded store: one SQLite file (WAL) holding credential versions,
//! rotations with their journal, and the audit log. Secret values are sealed
//! (see [`crypto`]); nothing secret is ever written in clear.
//!
//! The journal is what makes rotations crash-safe: every step is recorded
//! *before* its side effect and marked done after it, with `synchronous=FULL`
//! so a record survives a killed process or a power cut.

pub mod audit;
pub mod backup;
pub mod crypto;
mod error;
pub mod lock;
pub mod rotations;
mod schema;
pub mod versions;

pub use error::StoreError;

use crypto::{KeySource, MasterKey, Sealer};
use rusqlite::{Connection, OptionalExtension};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An open store.
pub struct Store {
    conn: Connection,
    sealer: Sealer,
    path: PathBuf,
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64
}

impl Store {
    /// Creates a store at `path`. Unless the master key comes from the
    /// environment, a new random key is written to `key_file` (mode 0600).
    pub fn init(path: &Path, key_file: &Path) -> Result<(), StoreError> {
        if path.exists() {
            return Err(StoreError::Exists(path.into()));
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let source = KeySource::find(key_file);
        if let KeySource::File(file) = &source {
            if file.exists() {
                return Err(StoreError::Exists(file.to_path_buf()));
            }
            let mut out =
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file).map_err(io(file))?;
            use std::io::Write;
            out.write_all(MasterKey::generate().encode().as_bytes()).and_then(|()| out.sync_all()).map_err(io(file))?;
        }
        // The database file is private before SQLite writes anything to it.
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
        let conn = connect(path)?;
        let salt: [u8; 16] = rand_bytes();
        schema::create(&conn, &salt)?;
        let sealer = Sealer::new(&source.master_key(&salt)?);
        schema::set_key_check(&conn, &sealer)?;
        let store = Self { conn, sealer, path: path.into() };
        store.audit("store.initialized", None, None, serde_json::json!({ "key": source.describe() }))?;
        Ok(())
    }

    /// Opens an existing store with the master key from the environment or
    /// `key_file`.
    pub fn open(path: &Path, key_file: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.into()));
        }
        let conn = connect(path)?;
        schema::check_version(&conn)?;
        let source = KeySource::find(key_file);
        let sealer = Sealer::new(&source.master_key(&schema::salt(&conn)?)?);
        if !schema::key_check_opens(&conn, &sealer)? {
            return Err(StoreError::WrongKey(source.describe()));
        }
        Ok(Self { conn, sealer, path: path.into() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Random bytes from the OS.
pub fn rand_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Credential;

    fn credential(id: &str, secret: &str) -> Credential {
        Credential { key_id: id.into(), secret: secret.into(), attributes: vec![], expires_at: None }
    }

    fn fresh() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (db, key) = (dir.path().join("rekey.db"), dir.path().join("rekey.key"));
        Store::init(&db, &key).unwrap();
        (dir, db, key)
    }

    #[test]
    fn a_store_opens_with_its_key_and_keeps_secrets_sealed() {
        let (_dir, db, key) = fresh();
        let store = Store::open(&db, &key).unwrap();
        store.import("api", &credential("k1", "s3cr3t-value")).unwrap();
        let current = store.labeled("api", versions::Label::Current).unwrap().unwrap();
        assert_eq!(store.secret(&current).unwrap().as_str(), "s3cr3t-value");
        let bytes = std::fs::read(&db).unwrap();
        assert!(!bytes.windows(12).any(|w| w == b"s3cr3t-value"));
        assert!(matches!(Store::init(&db, &key), Err(StoreError::Exists(_))));
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_does_not_open() {
        let (_dir, db, key) = fresh();
        let store = Store::open(&db, &key).unwrap();
        store.import("a", &credential("k1", "secret-a")).unwrap();
        store.import("b", &credential("k2", "secret-b")).unwrap();
        store.conn.execute("UPDATE versions SET secret = (SELECT secret FROM versions WHERE credential = 'a') WHERE credential = 'b'", []).unwrap();
        let b = store.labeled("b", versions::Label::Current).unwrap().unwrap();
        assert!(matches!(store.secret(&b), Err(StoreError::Tampered(id)) if id == "secret/b/1"));
    }

    #[test]
    fn a_store_from_a_newer_rekey_is_refused() {
        let (_dir, db, key) = fresh();
        Connection::open(&db)
            .unwrap()
            .execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", [])
            .unwrap();
        let error = Store::open(&db, &key).err().unwrap();
        assert_eq!(
            error.to_string(),
            "the store has schema version 99, newer than this rekey understands (2); upgrade rekey"
        );
    }

    #[test]
    fn a_store_from_an_older_rekey_is_upgraded_in_place() {
        let (_dir, db, key) = fresh();
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "ALTER TABLE versions DROP COLUMN last_used_at; ALTER TABLE versions DROP COLUMN checked_at;
             ALTER TABLE versions DROP COLUMN valid; UPDATE meta SET value = '1' WHERE key = 'schema_version';",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(&db, &key).unwrap();
        store.import("api", &credential("k1", "s")).unwrap();
        assert_eq!(store.meta("schema_version").unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let (_dir, db, key) = fresh();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = Store::open(&db, &key).err().unwrap().to_string();
        assert!(error.contains("can be read by others (mode 644)"), "{error}");
    }
}
