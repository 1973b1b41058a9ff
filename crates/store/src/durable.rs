//! Group commit: how many concurrent rotations share one flush to disk.
//!
//! By default every transaction is on disk when it commits
//! (`synchronous=FULL`: one fsync of the WAL per commit). The rotation
//! engine instead switches its store to group commits: transactions are
//! written to the WAL without waiting for the disk (`synchronous=NORMAL`),
//! and before any side effect — a plugin call, a target written, a check
//! run, a notification — the rotation waits for [`Store::durable`], which
//! makes everything committed so far durable with one `fdatasync` of the
//! WAL. Every rotation that asks while a flush is under way waits for the
//! next one, and that one flush covers all their commits: the technique of
//! database WALs.
//!
//! The journal's promise is unchanged: no side effect starts before the
//! records that guard it are on disk, so what a power cut can lose is a
//! tail of records whose side effects had not started, the same state a
//! crash just before them leaves, which `rekey resume` handles. SQLite's
//! checkpoints still sync the WAL and the database file themselves.
//!
//! On PostgreSQL the same holds with the server's own switch: group
//! commits set `synchronous_commit = off` on the connection (a commit
//! returns once its WAL is written, before it is flushed), and a flush is a
//! transaction with `synchronous_commit = on` that takes a transaction id:
//! its commit record is flushed, and with it every WAL record before it.
//! Commits then no longer wait for the disk while they hold the store's
//! write lock, which every daemon sharing the database waits for.

use super::db::Db;
use super::{Location, Store, StoreError, sibling};
use std::cell::Cell;
use tokio::sync::watch;

/// The state of group commits on one connection.
pub(super) struct GroupCommit {
    /// Whether transactions wait for a flush ([`Store::durable`]) instead
    /// of syncing as they commit.
    enabled: Cell<bool>,
    /// Transactions committed so far.
    committed: Cell<u64>,
    /// Whether a flush is under way.
    flushing: Cell<bool>,
    /// Flushes done, for measuring how many commits share one.
    flushes: Cell<u64>,
    /// How many of the committed transactions are known to be on disk; a
    /// flush that ends (or fails) wakes its waiters through it.
    flushed: watch::Sender<u64>,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            enabled: Cell::new(false),
            committed: Cell::new(0),
            flushing: Cell::new(false),
            flushes: Cell::new(0),
            flushed: watch::Sender::new(0),
        }
    }
}

/// Ends a flush, even one whose future was dropped, and wakes its waiters.
struct Flushing<'a>(&'a GroupCommit);

impl Drop for Flushing<'_> {
    fn drop(&mut self) {
        self.0.flushing.set(false);
        self.0.flushed.send_modify(|_| {});
    }
}

impl Store {
    /// Switches this connection to group commits: from now on a commit
    /// does not wait for the disk, and callers wait for
    /// [`Store::durable`] before acting on what they wrote.
    pub fn group_commits(&self) -> Result<(), StoreError> {
        if self.group.enabled.replace(true) {
            return Ok(());
        }
        match &self.db {
            Db::Sqlite(conn) => conn.pragma_update(None, "synchronous", "NORMAL")?,
            Db::Postgres { .. } => self.db.batch("SET synchronous_commit = off")?,
        }
        Ok(())
    }

    /// Whether this connection makes group commits.
    pub(super) fn group_committing(&self) -> bool {
        self.group.enabled.get()
    }

    /// Counts a committed transaction.
    pub(super) fn committed(&self) {
        self.group.committed.set(self.group.committed.get() + 1);
    }

    /// Waits until every transaction committed so far is on disk. Callers
    /// that ask while a flush is under way share the next one. Without
    /// group commits, every commit already is.
    pub async fn durable(&self) -> Result<(), StoreError> {
        let group = &self.group;
        self.batch_lost()?;
        let target = group.committed.get();
        let mut flushed = group.flushed.subscribe();
        loop {
            if *flushed.borrow_and_update() >= target || !group.enabled.get() {
                return Ok(());
            }
            if group.flushing.replace(true) {
                // The flush under way may have started before our commits:
                // look again when it ends.
                let _ = flushed.changed().await;
                continue;
            }
            let _flushing = Flushing(group);
            // What was batched while the last flush ran.
            self.commit_batch()?;
            let upto = group.committed.get();
            match &self.location {
                Location::File(path) => {
                    let wal = sibling(path, "-wal");
                    let synced = tokio::task::spawn_blocking({
                        let wal = wal.clone();
                        move || sync(&wal)
                    })
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
                    synced.map_err(|source| StoreError::Io { path: wal, source })?;
                }
                Location::Postgres(_) => self.flush_postgres()?,
            }
            group.flushes.set(group.flushes.get() + 1);
            group.flushed.send_modify(|done| *done = (*done).max(upto));
        }
    }

    /// Flushes PostgreSQL's WAL up to now: a transaction that takes an id
    /// and commits with `synchronous_commit = on` waits for its commit
    /// record, the last of everything this connection committed, to be
    /// on disk.
    fn flush_postgres(&self) -> Result<(), StoreError> {
        self.db.batch("BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT")
    }

    /// How many flushes [`Store::durable`] has done.
    pub fn flushes(&self) -> u64 {
        self.group.flushes.get()
    }

    /// What [`Store::durable`] does, for a store going away: anything not
    /// yet on disk is flushed (a failure is logged; nothing can take it).
    pub(super) fn flush_before_close(&self) {
        let _ = self.commit_batch();
        let group = &self.group;
        if group.enabled.get()
            && *group.flushed.borrow() < group.committed.get()
            && let Err(e) = match &self.location {
                Location::File(path) => sync(&sibling(path, "-wal")).map_err(|e| e.to_string()),
                Location::Postgres(_) => self.flush_postgres().map_err(|e| e.to_string()),
            }
        {
            tracing::error!("the store's last changes may not be on disk: {e}");
        }
    }
}

/// `fdatasync` of the WAL: the file's data and size, which is all a reader
/// needs after a power cut. No WAL file means no commit is waiting in one
/// (the last connection checkpointed it into the database, with its syncs).
fn sync(wal: &std::path::Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {

    #[tokio::test]
    async fn concurrent_waiters_share_flushes_and_every_commit_is_covered() {
        let (_dir, store) = crate::tests::scratch();
        store.group_commits().unwrap();
        let writers = (0..20).map(|i| {
            let store = &store;
            async move {
                store.audit("test", Some(&format!("c{i}")), None, serde_json::json!({})).unwrap();
                store.durable().await.unwrap();
                store.audit("test", Some(&format!("c{i}")), None, serde_json::json!({})).unwrap();
                store.durable().await.unwrap();
            }
        });
        futures_util::future::join_all(writers).await;
        assert_eq!(*store.group.flushed.borrow(), store.group.committed.get());
        assert!(!store.group.flushing.get());
        assert!(store.flushes() < 40, "{} flushes for 40 waits", store.flushes());
        assert_eq!(store.verify_audit().unwrap().unwrap(), 41);
    }
}
