//! What can go wrong with the store, typed so the CLI can say what to do.

/// A store error. None of them carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (I/O, a locked or corrupt file).
    #[error("store database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The store's file could not be read or written: the disk is full, the
    /// file system failed, or it is not a store.
    #[error("{path}: {cause} ({detail})")]
    File {
        /// The store file.
        path: std::path::PathBuf,
        /// The cause, as the operating system says it (`No space left on device`).
        cause: String,
        /// What SQLite said.
        detail: String,
    },
    /// PostgreSQL failed, or could not be reached.
    #[error("store database error: {0}")]
    Postgres(String),
    /// A column holds a value of the wrong type.
    #[error(
        "a stored value has the wrong type (column {index} should hold {expected}); the store was altered by something other than rekey"
    )]
    Column {
        /// The column, from 0.
        index: usize,
        /// What it should hold.
        expected: &'static str,
    },
    /// The file or database is not a rekey store.
    #[error("{store} is not a rekey store ({why}); check `store` in rekey.toml, or run `rekey init` for a new one")]
    NotAStore {
        /// The file or URL.
        store: String,
        /// What is missing.
        why: String,
    },
    /// The store's file is damaged: pages are missing or overwritten.
    #[error(
        "{}: the store is damaged ({problems}); stop rekey, keep a copy of the file, and restore the store from a backup (`rekey backup import`)",
        path.display()
    )]
    Damaged {
        /// The store file.
        path: std::path::PathBuf,
        /// What SQLite's check found.
        problems: String,
    },
    /// Batched records could not be committed (see `batch`): whatever
    /// wrote them must not act on them.
    #[error("journal records could not be committed to the store: {0}")]
    Uncommitted(String),
    /// A file next to the store could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The master key is missing or malformed.
    #[error("{0}")]
    MasterKey(String),
    /// The master key does not open this store.
    #[error("the master key from {0} does not open this store (wrong key, passphrase or key file)")]
    WrongKey(String),
    /// A sealed value failed to open with the right key: it was edited or
    /// moved from another row.
    #[error(
        "the stored secret `{0}` was tampered with (it does not decrypt for its row); restore the store from a backup"
    )]
    Tampered(String),
    /// The store was written by a newer rekey.
    #[error("the store has schema version {found}, newer than this rekey understands ({supported}); upgrade rekey")]
    NewerSchema {
        /// The store's version.
        found: i64,
        /// This build's version.
        supported: i64,
    },
    /// The store does not exist yet.
    #[error("no store at {0}; run `rekey init` first")]
    Missing(String),
    /// `rekey init` on an existing store.
    #[error("a store already exists at {0}; nothing was changed")]
    Exists(String),
    /// Another process is rotating this credential.
    #[error(
        "credential `{credential}` is being rotated by another rekey process (rotation {rotation}); wait for it to finish"
    )]
    Busy {
        /// The credential.
        credential: String,
        /// The rotation in progress.
        rotation: String,
    },
    /// This process's lease on a credential was taken over by another
    /// (it was paused or cut off past the lease's expiry): it must not
    /// write about that credential any more.
    #[error(
        "lost the lease on `{credential}` to another rekey process (fencing token {} is stale); nothing more is written here, and the rotation goes on there",
        token.map_or("none".to_string(), |t| t.to_string())
    )]
    Fenced {
        /// The credential.
        credential: String,
        /// The token this process held, if it held one.
        token: Option<i64>,
    },
    /// A name that must be unique is in use.
    #[error("{0}")]
    Taken(String),
    /// A record the caller expected is not there.
    #[error("{0}")]
    NotFound(String),
}

impl From<postgres::Error> for StoreError {
    /// The server's own message and detail when it sent one, which say
    /// more than the client's summary.
    fn from(error: postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) => Self::Postgres(format!("{}: {}", db.severity(), db.message())),
            None => Self::Postgres(with_causes(&error)),
        }
    }
}

/// An error and its causes, `a: b: c` (the client's summary alone, "error
/// performing TLS handshake", does not say what to fix).
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text = format!("{text}: {next}");
        cause = next.source();
    }
    text
}
