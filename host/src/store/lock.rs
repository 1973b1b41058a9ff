//! One rotation per credential at a time, across processes: an exclusive
//! `flock` on a file per credential next to the store. The kernel releases
//! it when the holder exits or is killed, so a crashed rotation never leaves
//! a stale lock behind; its journal says what is left to do.

use super::StoreError;
use rustix::fs::{FlockOperation, flock};
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Held while a process works on a credential; dropping it unlocks.
pub struct CredentialLock {
    _file: File,
}

impl CredentialLock {
    /// Takes the lock of `credential`, or `None` if another process holds it.
    pub fn try_acquire(store: &Path, credential: &str) -> Result<Option<Self>, StoreError> {
        let dir = store.with_extension("locks");
        let io = |source| StoreError::Io { path: dir.clone(), source };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io)?;
        let path = dir.join(format!("{credential}.lock"));
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).map_err(io)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(io(e.into())),
        }
    }

    /// Whether a process is working on `credential` now. A rotation that
    /// is `running` in the store while nobody holds its lock was
    /// interrupted, and waits for `rekey resume`.
    pub fn is_held(store: &Path, credential: &str) -> Result<bool, StoreError> {
        Ok(Self::try_acquire(store, credential)?.is_none())
    }
}
