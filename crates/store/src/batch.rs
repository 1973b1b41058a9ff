//! Batched writes: the journal records of many concurrent rotations share
//! one SQLite transaction.
//!
//! Each transaction costs the same whatever it holds: the write lock taken
//! and given back (a dozen `fcntl` calls on the database and its `-shm`),
//! and every page it changed written to the WAL again — the last page of
//! the journal, of the audit log and of their indexes, over and over. A
//! rotation wrote 19 of them.
//!
//! Inside [`Store::batching`] (a session's rotations), writes made through
//! [`Store::batched`] join one open transaction instead, each in a
//! savepoint of its own so that a failed write undoes only itself. The
//! transaction commits
//!
//! - at [`Store::durable`], before the flush: nothing acts outside the
//!   store before its records are committed *and* on disk;
//! - at the next write not made through [`Store::batched`], which commits
//!   with it: the record of a side effect that resuming could not redo
//!   (a key generated, a key revoked) is committed before the process
//!   goes on, as before, so a killed process forgets none; so is a
//!   rotation's start, so that a rotation begun is always resumed;
//! - whenever the task running the session waits, so the write lock is
//!   never held while nothing runs, and other processes wait at most for
//!   one burst of work.
//!
//! What a batched record may lose to a killed process is therefore what a
//! power cut could already lose with group commits (see [`crate::durable`]):
//! a `begun` whose side effect had not started, a `done` whose step is
//! done again on resume, a plugin call's audit entry, a deployment's
//! record (written before the step's `done`, so the step is done again and
//! recorded again). PostgreSQL does not
//! batch: a transaction there holds the lock every daemon of the fleet waits
//! for.

use super::db::Db;
use super::{Store, StoreError};
use std::cell::{Cell, RefCell};
use std::pin::pin;

/// The state of batched writes on one connection.
#[derive(Default)]
pub(super) struct Batch {
    /// Inside [`Store::batching`]: someone commits at every wait.
    active: Cell<bool>,
    /// Inside [`Store::batched`]: writes may join the batch.
    deferring: Cell<bool>,
    /// Whether the open transaction is a batch.
    open: Cell<bool>,
    /// Whether a write's body is running (a write inside it joins it).
    writing: Cell<bool>,
    /// Why a batch could not be committed. Its writes are lost, so every
    /// later [`Store::durable`] fails: no side effect may follow them.
    lost: RefCell<Option<String>>,
}

impl Store {
    /// Runs `work` (a session's rotations, a daemon's generation) with
    /// batched writes, committing the open batch whenever `work` waits and
    /// when it ends. A batch lost to a failure fails every flush until then.
    pub async fn batching<T>(&self, work: impl Future<Output = T>) -> T {
        let batch = &self.batch;
        let active = batch.active.replace(true);
        let mut work = pin!(work);
        let out = std::future::poll_fn(|cx| {
            let polled = work.as_mut().poll(cx);
            // A failure is kept in `lost`, and reported by the next `durable`.
            let _ = self.commit_batch();
            polled
        })
        .await;
        batch.active.set(active);
        if !active {
            batch.lost.take();
        }
        out
    }

    /// Runs `body` as one write ([`Store::write`]) that may join the open
    /// batch instead of committing on its own: for records that nothing
    /// outside the store depends on until the next [`Store::durable`].
    pub fn batched<T>(&self, body: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        let deferring = self.batch.deferring.replace(true);
        let out = self.write(body);
        self.batch.deferring.set(deferring);
        out
    }

    /// Whether the next write goes to a batch: one is open, or the write
    /// may open one.
    pub(super) fn to_batch(&self) -> bool {
        self.batch.open.get() || self.deferring()
    }

    /// Whether a write now may wait in a batch: inside [`Store::batched`]
    /// and [`Store::batching`], on SQLite with group commits (whose flush
    /// commits the batch first).
    fn deferring(&self) -> bool {
        let batch = &self.batch;
        batch.active.get() && batch.deferring.get() && matches!(self.db, Db::Sqlite(_)) && self.group_committing()
    }

    /// [`Store::write`] in the batch ([`Store::to_batch`]): the body runs
    /// in a savepoint; unless it is deferred, the batch commits with it.
    pub(super) fn write_in_batch<T>(&self, body: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        let batch = &self.batch;
        if !batch.open.get() {
            self.fenced.borrow_mut().clear();
            self.db.batch("BEGIN IMMEDIATE")?;
            batch.open.set(true);
        }
        self.db.batch("SAVEPOINT write")?;
        batch.writing.set(true);
        let out = body();
        batch.writing.set(false);
        self.db.batch(if out.is_ok() { "RELEASE write" } else { "ROLLBACK TO write; RELEASE write" })?;
        if out.is_ok() {
            self.committed();
        }
        if !self.deferring() {
            self.commit_batch()?;
        }
        out
    }

    /// Whether a batch is open.
    pub(super) fn batch_open(&self) -> bool {
        self.batch.open.get()
    }

    /// Whether a write's body is running in the open batch.
    pub(super) fn writing_in_batch(&self) -> bool {
        self.batch.writing.get()
    }

    /// Commits the open batch, if any. A failure loses its writes, and is
    /// kept for [`Store::durable`] to report.
    pub(super) fn commit_batch(&self) -> Result<(), StoreError> {
        if !self.batch.open.replace(false) {
            return Ok(());
        }
        let committed = self.db.batch("COMMIT").map_err(|e| self.located(e));
        if let Err(e) = &committed {
            if self.db.in_transaction() {
                let _ = self.db.batch("ROLLBACK");
            }
            tracing::error!("batched journal records could not be committed: {e}");
            self.batch.lost.borrow_mut().get_or_insert(e.to_string());
        }
        committed
    }

    /// The failure that lost batched writes, if one did.
    pub(super) fn batch_lost(&self) -> Result<(), StoreError> {
        match &*self.batch.lost.borrow() {
            Some(cause) => Err(StoreError::Uncommitted(cause.clone())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(store: &Store) -> usize {
        store.verify_audit().unwrap().unwrap()
    }

    #[tokio::test]
    async fn batched_writes_share_one_transaction_until_the_task_waits() {
        let (_dir, store) = crate::tests::scratch();
        store.group_commits().unwrap();
        let before = entries(&store);
        store
            .batching(async {
                for i in 0..3 {
                    store.batched(|| store.audit("test", Some(&format!("c{i}")), None, json!({}))).unwrap();
                }
                assert!(store.batch.open.get(), "the writes wait in one open transaction");
                tokio::task::yield_now().await;
                assert!(!store.batch.open.get(), "a task that waits commits them");
            })
            .await;
        assert_eq!(entries(&store), before + 3);
    }

    #[tokio::test]
    async fn a_write_that_is_not_batched_commits_the_batch_with_it() {
        let (_dir, store) = crate::tests::scratch();
        store.group_commits().unwrap();
        store
            .batching(async {
                store.batched(|| store.audit("test", Some("a"), None, json!({}))).unwrap();
                store.audit("test", Some("b"), None, json!({})).unwrap();
                assert!(!store.batch.open.get());
                assert!(!store.db.in_transaction());
            })
            .await;
    }

    #[tokio::test]
    async fn a_failed_write_undoes_only_itself() {
        let (_dir, store) = crate::tests::scratch();
        store.group_commits().unwrap();
        let before = entries(&store);
        store
            .batching(async {
                store.batched(|| store.audit("test", Some("a"), None, json!({}))).unwrap();
                let failed: Result<(), _> = store.batched(|| {
                    store.audit("test", Some("b"), None, json!({}))?;
                    Err(StoreError::NotFound("a failure".into()))
                });
                assert!(failed.is_err());
                store.durable().await.unwrap();
            })
            .await;
        assert_eq!(entries(&store), before + 1, "a's entry is kept, b's undone");
    }

    #[tokio::test]
    async fn outside_a_session_nothing_is_batched() {
        let (_dir, store) = crate::tests::scratch();
        store.group_commits().unwrap();
        store.batched(|| store.audit("test", Some("a"), None, json!({}))).unwrap();
        assert!(!store.db.in_transaction(), "committed at once: no task would commit it later");
    }
}
