//! One rotation per credential at a time, across processes and hosts: a
//! process holds a credential's lease while it works on it.
//!
//! - On SQLite (one host) the lease is an exclusive `flock` on a file per
//!   credential next to the store. The kernel releases it when the holder
//!   exits or is killed, and a stopped process keeps it, so it cannot be
//!   lost while its holder lives.
//! - On PostgreSQL (several daemons, maybe on several hosts) it is a row of
//!   `leases`: an owner, an expiry, and a fencing token that grows by one
//!   at every claim. A claim takes a lease nobody holds or whose holder let
//!   it expire (`FOR UPDATE SKIP LOCKED`: claimers never wait on each
//!   other); a thread renews the leases a process holds; and every journal
//!   write checks, in its transaction, that the lease still carries the
//!   token this process got ([`Store::fenced`]). A holder that was paused
//!   (SIGSTOP, a long GC-like stall, a partition) past its expiry finds its
//!   token stale once another process took the credential over, and writes
//!   nothing more: the other one resumes the rotation from the journal.

use super::sql::args;
use super::{Store, StoreError, location, postgres};
use rustix::fs::{FlockOperation, flock};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Held while a process works on a credential; dropping it releases it.
pub struct Lease {
    _held: Held,
}

enum Held {
    /// Open while the `flock` is held.
    File {
        _lock: File,
    },
    Fenced {
        leases: Arc<Leases>,
        credential: String,
    },
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Self::Fenced { leases, credential } = self {
            leases.release(credential);
        }
    }
}

/// The PostgreSQL leases one store holds, claimed, renewed and released on
/// a connection of their own, so a renewal never waits behind the store's
/// write transactions.
pub(super) struct Leases {
    connection: postgres::Connection,
    /// This process, as the `owner` column names it.
    owner: String,
    ttl: Duration,
    /// Credential → the fencing token of its lease, and whether a renewal
    /// found it taken over (it stays until released, so that every write
    /// about the credential keeps failing its check).
    held: Mutex<HashMap<String, (i64, bool)>>,
}

impl Leases {
    /// Connects, and starts the thread that renews every lease held at a
    /// third of its lifetime; it ends with the store.
    pub(super) fn start(target: &location::Postgres) -> Result<Arc<Self>, StoreError> {
        let leases = Arc::new(Self {
            connection: postgres::Connection::open(target)?,
            owner: format!("{}:{}:{}", host(), std::process::id(), hex::encode(super::rand_bytes::<4>())),
            ttl: target.lease,
            held: Mutex::default(),
        });
        let weak = Arc::downgrade(&leases);
        std::thread::Builder::new()
            .name("rekey-leases".into())
            .spawn(move || renew_while_alive(&weak))
            .map_err(|source| StoreError::Io { path: "rekey-leases thread".into(), source })?;
        Ok(leases)
    }

    /// Claims `credential`; its fencing token, or `None` while another
    /// process holds a lease on it that has not expired.
    fn claim(&self, credential: &str) -> Result<Option<i64>, StoreError> {
        self.connection.execute(
            "INSERT INTO leases (credential, fence) VALUES (?1, 0) ON CONFLICT (credential) DO NOTHING",
            args![credential],
        )?;
        let claimed = self.connection.query(
            "UPDATE leases SET owner = ?2, fence = fence + 1,
                 expires_at = clock_timestamp() + ?3::bigint * interval '1 millisecond'
             WHERE credential = (SELECT credential FROM leases WHERE credential = ?1
                 AND (owner IS NULL OR expires_at < clock_timestamp()) FOR UPDATE SKIP LOCKED)
             RETURNING fence",
            args![credential, &self.owner, self.ttl.as_millis() as i64],
        )?;
        let claimed = match claimed.first() {
            Some(row) => Some(row.get(0)?),
            None => self.take_from_the_dead(credential)?,
        };
        let Some(fence) = claimed else { return Ok(None) };
        self.held.lock().expect("not poisoned").insert(credential.into(), (fence, false));
        Ok(Some(fence))
    }

    /// Takes over a lease whose holder was a process on this host that is
    /// gone (killed, crashed): on one host, a dead holder is known at
    /// once, as a `flock` would be, without waiting for the expiry. A
    /// holder elsewhere, or alive (if stopped), keeps it until it expires.
    fn take_from_the_dead(&self, credential: &str) -> Result<Option<i64>, StoreError> {
        let holder = self
            .connection
            .query("SELECT owner, fence FROM leases WHERE credential = ?1 AND owner IS NOT NULL", args![credential])?;
        let Some(holder) = holder.first() else { return Ok(None) };
        let (owner, fence): (String, i64) = (holder.get(0)?, holder.get(1)?);
        if !dead_here(&owner) {
            return Ok(None);
        }
        let taken = self.connection.query(
            "UPDATE leases SET owner = ?2, fence = fence + 1,
                 expires_at = clock_timestamp() + ?5::bigint * interval '1 millisecond'
             WHERE credential = ?1 AND owner = ?3 AND fence = ?4
             RETURNING fence",
            args![credential, &self.owner, &owner, fence, self.ttl.as_millis() as i64],
        )?;
        taken.first().map(|row| row.get(0)).transpose()
    }

    /// Extends every lease held; one found taken over is marked lost, and
    /// no longer renewed.
    fn renew(&self) {
        let held: Vec<(String, i64)> = {
            let held = self.held.lock().expect("not poisoned");
            held.iter().filter(|(_, (_, lost))| !lost).map(|(c, (fence, _))| (c.clone(), *fence)).collect()
        };
        for (credential, fence) in held {
            let renewed = self.connection.execute(
                "UPDATE leases SET expires_at = clock_timestamp() + ?4::bigint * interval '1 millisecond'
                 WHERE credential = ?1 AND owner = ?2 AND fence = ?3",
                args![&credential, &self.owner, fence, self.ttl.as_millis() as i64],
            );
            match renewed {
                Ok(0) => {
                    tracing::warn!(
                        "the lease on `{credential}` was taken over by another rekey; this process writes nothing more about it"
                    );
                    if let Some(entry) = self.held.lock().expect("not poisoned").get_mut(&credential) {
                        entry.1 = true;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("cannot renew the lease on `{credential}`: {e}"),
            }
        }
    }

    /// Gives a lease up at once, so another process need not wait for it
    /// to expire.
    fn release(&self, credential: &str) {
        let Some((fence, _)) = self.held.lock().expect("not poisoned").remove(credential) else { return };
        let released = self.connection.execute(
            "UPDATE leases SET owner = NULL, expires_at = NULL WHERE credential = ?1 AND owner = ?2 AND fence = ?3",
            args![credential, &self.owner, fence],
        );
        if let Err(e) = released {
            tracing::warn!("cannot release the lease on `{credential}` (it expires on its own): {e}");
        }
    }

    fn fence(&self, credential: &str) -> Option<i64> {
        self.held.lock().expect("not poisoned").get(credential).map(|(fence, _)| *fence)
    }
}

/// This host's name, as lease owners name their host.
fn host() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// Whether `owner` (`host:pid:nonce`) names a process of this host that
/// no longer exists.
fn dead_here(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (_nonce, pid, host_name) = (parts.next(), parts.next(), parts.next());
    let pid = pid.and_then(|p| p.parse().ok()).and_then(rustix::process::Pid::from_raw);
    match pid {
        Some(pid) if host_name == Some(host().as_str()) => {
            rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
        }
        _ => false,
    }
}

fn renew_while_alive(leases: &Weak<Leases>) {
    let Some(every) = leases.upgrade().map(|l| l.ttl / 3) else { return };
    loop {
        std::thread::sleep(every);
        match leases.upgrade() {
            Some(leases) => leases.renew(),
            None => return,
        }
    }
}

impl Store {
    /// Takes the lease of `credential`, or `None` while another process
    /// holds it.
    pub fn lease(&self, credential: &str) -> Result<Option<Lease>, StoreError> {
        let held = match &self.location {
            super::Location::File(path) => flock_file(path, credential)?.map(|lock| Held::File { _lock: lock }),
            super::Location::Postgres(target) => {
                let leases = match self.leases.get() {
                    Some(leases) => leases.clone(),
                    None => {
                        let leases = Leases::start(target)?;
                        self.leases.get_or_init(|| leases.clone());
                        leases
                    }
                };
                leases.claim(credential)?.map(|_| Held::Fenced { leases, credential: credential.into() })
            }
        };
        Ok(held.map(|held| Lease { _held: held }))
    }

    /// Whether a process is working on `credential` now. A rotation that
    /// is `running` in the store while nobody holds its lease was
    /// interrupted, and waits for `rekey resume` (or another daemon). On
    /// PostgreSQL a lease whose holder died on this host is not held.
    pub fn is_held(&self, credential: &str) -> Result<bool, StoreError> {
        match &self.location {
            super::Location::File(_) => Ok(self.lease(credential)?.is_none()),
            super::Location::Postgres(_) => {
                let holder: Option<String> = self.one(
                    "SELECT owner FROM leases WHERE credential = ?1 AND owner IS NOT NULL AND expires_at > clock_timestamp()",
                    args![credential],
                    |row| row.get(0),
                )?;
                Ok(holder.is_some_and(|owner| !dead_here(&owner)))
            }
        }
    }

    /// The lease of `credential` this process held, when another process
    /// has taken it over since: what remains to do about the credential is
    /// that process's to do, and doing it here (a rollback, a revoke) would
    /// undo its work.
    pub fn lease_lost(&self, credential: &str) -> Option<StoreError> {
        let leases = self.leases.get()?;
        leases.fence(credential)?;
        self.fenced(credential).err().filter(|e| matches!(e, StoreError::Fenced { .. }))
    }

    /// [`Store::fenced`] when this process holds (or held, and has not
    /// released) the lease of `credential`: an audit entry about it, from a
    /// plugin call say, is not written after another process took over.
    pub(super) fn fenced_if_leased(&self, credential: &str) -> Result<(), StoreError> {
        match self.leases.get() {
            Some(leases) if leases.fence(credential).is_some() => self.fenced(credential),
            _ => Ok(()),
        }
    }

    /// Inside a write transaction about `credential`: checks that this
    /// process still holds its lease with the token it was given. The row
    /// is read `FOR SHARE`, so no claim can slip in before the commit.
    /// Checked once per transaction, since the row stays locked until it
    /// ends. Nothing to check on SQLite, whose lease cannot be lost.
    pub(super) fn fenced(&self, credential: &str) -> Result<(), StoreError> {
        let super::Location::Postgres(_) = &self.location else { return Ok(()) };
        if self.db.in_transaction() && self.fenced.borrow().contains(credential) {
            return Ok(());
        }
        let (ours, owner) = match self.leases.get() {
            Some(leases) => (leases.fence(credential), leases.owner.as_str()),
            None => (None, ""),
        };
        let found: Option<i64> = self
            .db
            .query_opt(
                "SELECT fence FROM leases WHERE credential = ?1 AND owner = ?2 FOR SHARE",
                args![credential, owner],
            )?
            .map(|row| row.get(0))
            .transpose()?;
        match (ours, found) {
            (Some(ours), Some(found)) if ours == found => {
                if self.db.in_transaction() {
                    self.fenced.borrow_mut().insert(credential.into());
                }
                Ok(())
            }
            _ => Err(StoreError::Fenced { credential: credential.into(), token: ours }),
        }
    }
}

/// The SQLite lease: an exclusive `flock` on `<store>.locks/<credential>.lock`.
fn flock_file(store: &Path, credential: &str) -> Result<Option<File>, StoreError> {
    let dir = store.with_extension("locks");
    let io = |source| StoreError::Io { path: dir.clone(), source };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io)?;
    let path = dir.join(format!("{credential}.lock"));
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).map_err(io)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(io(e.into())),
    }
}
