//! The append-only audit log. Each entry carries a MAC over its content and
//! the MAC of the entry before it, keyed by the master key; a head record
//! seals the count and the last MAC. Editing, deleting, reordering or
//! truncating entries breaks the chain, and `verify` names the first entry
//! where it breaks.

use super::crypto::Sealer;
use super::sql::args;
use super::{Store, StoreError, now, schema};

/// One audit entry.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub struct Entry {
    /// 1, 2, 3… without gaps.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// What happened, e.g. `rotation.started`, `key.revoked`.
    pub event: String,
    /// The credential concerned.
    pub credential: Option<String>,
    /// The rotation concerned.
    pub rotation: Option<String>,
    /// Details (never a secret).
    pub detail: serde_json::Value,
}

impl Entry {
    fn canonical(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.seq,
            self.at,
            self.event,
            self.credential.as_deref().unwrap_or(""),
            self.rotation.as_deref().unwrap_or(""),
            self.detail
        )
    }
}

/// Where the chain breaks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Break {
    /// An entry's content or position does not match its MAC.
    #[error("audit entry {0} was edited or moved")]
    Edited(i64),
    /// A sequence number is missing.
    #[error("audit entry {0} was removed")]
    Removed(i64),
    /// Entries at the end were removed, or the head was edited.
    #[error("audit entries after {0} were removed (the log is shorter than it was)")]
    Truncated(i64),
}

/// Which entries a page of the audit log shows, read in the database (a
/// log holds millions).
#[derive(Clone, Copy, Debug)]
pub struct Page<'a> {
    /// Only the entries about this credential.
    pub credential: Option<&'a str>,
    /// Only the events that start with this (`rotation.`); empty: all.
    pub event: &'a str,
    /// Only the entries after this number.
    pub after: i64,
    /// Only the entries before this number.
    pub before: i64,
    /// Newest first (the dashboard), or oldest first (the API).
    pub newest_first: bool,
    /// How many entries, at most.
    pub limit: usize,
}

impl Default for Page<'_> {
    fn default() -> Self {
        Self { credential: None, event: "", after: 0, before: i64::MAX, newest_first: false, limit: 100 }
    }
}

/// How far the chain is known to hold: its last entry's number and MAC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// How many entries (the last one's number).
    pub count: i64,
    /// The last entry's MAC.
    pub mac: String,
}

fn entry(r: &super::sql::Row) -> Result<(Entry, String), StoreError> {
    let detail: String = r.get(5)?;
    let entry = Entry {
        seq: r.get(0)?,
        at: r.get(1)?,
        event: r.get(2)?,
        credential: r.get(3)?,
        rotation: r.get(4)?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
    };
    Ok((entry, r.get::<String>(6)?))
}

impl Store {
    /// Appends an entry, inside the caller's write transaction or in one of
    /// its own: the entry is numbered under the write lock, so concurrent
    /// processes never take the same number. An error means the entry is
    /// not in the log, and whatever it records must be treated as failed.
    pub fn audit(
        &self,
        event: &str,
        credential: Option<&str>,
        rotation: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|| {
            if let Some(credential) = credential {
                self.fenced_if_leased(credential)?;
            }
            let last: Option<(i64, String)> =
                self.one("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1", &[], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let seq = last.as_ref().map_or(1, |(seq, _)| seq + 1);
            let entry = Entry {
                seq,
                at: now(),
                event: event.into(),
                credential: credential.map(Into::into),
                rotation: rotation.map(Into::into),
                detail,
            };
            self.append(&self.sealer, &entry, &last.map(|(_, mac)| mac).unwrap_or_default()).map(drop)
        })
    }

    /// Writes `entry` after the entry whose MAC is `previous`, keyed by
    /// `sealer`, and moves the head. Also used to re-chain a log imported
    /// from a backup.
    pub(super) fn append(&self, sealer: &Sealer, entry: &Entry, previous: &str) -> Result<String, StoreError> {
        let seq = entry.seq;
        let mac = sealer.chain(previous, &entry.canonical());
        self.execute(
            "INSERT INTO audit (seq, at, event, credential, rotation, detail, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            args![
                entry.seq,
                entry.at,
                &entry.event,
                &entry.credential,
                &entry.rotation,
                entry.detail.to_string(),
                &mac
            ],
        )?;
        let head = sealer.chain("head", &format!("{seq}|{mac}"));
        schema::set_meta(&self.db, "audit_head", &head)?;
        Ok(mac)
    }

    /// The credentials named in the audit entries after `seq`, and the
    /// last entry's number: every change to a credential's standing is
    /// audited, so this is how a daemon sees what other processes did.
    pub fn changed_since(&self, seq: i64) -> Result<(i64, Vec<String>), StoreError> {
        let last: i64 = self.one("SELECT COALESCE(MAX(seq), 0) FROM audit", &[], |r| r.get(0))?.unwrap_or(0);
        if last <= seq {
            return Ok((last, vec![]));
        }
        let sql = "SELECT DISTINCT credential FROM audit WHERE seq > ?1 AND seq <= ?2 AND credential IS NOT NULL";
        Ok((last, self.all(sql, args![seq, last], |r| r.get(0))?))
    }

    /// Entries, oldest first, optionally for one credential.
    pub fn audit_log(&self, credential: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        Ok(self.audit_rows(credential)?.into_iter().map(|(entry, _)| entry).collect())
    }

    /// The entries of one `event` about `credential`, oldest first.
    pub fn audit_events(&self, credential: &str, event: &str) -> Result<Vec<Entry>, StoreError> {
        let sql = "SELECT seq, at, event, credential, rotation, detail, mac FROM audit
                   WHERE credential = ?1 AND event = ?2 ORDER BY seq";
        Ok(self.all(sql, args![credential, event], entry)?.into_iter().map(|(entry, _)| entry).collect())
    }

    fn audit_rows(&self, credential: Option<&str>) -> Result<Vec<(Entry, String)>, StoreError> {
        let sql = "SELECT seq, at, event, credential, rotation, detail, mac FROM audit
                   WHERE CAST(?1 AS TEXT) IS NULL OR credential = ?1 ORDER BY seq";
        self.all(sql, args![credential], entry)
    }

    /// A page of entries as `page` says, of those `keep` keeps (the
    /// entries a token's scope covers): read a page at a time in the
    /// database until the page is full or the log ends.
    pub fn audit_page(&self, page: &Page, keep: impl Fn(&Entry) -> bool) -> Result<Vec<Entry>, StoreError> {
        let order = if page.newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT seq, at, event, credential, rotation, detail, mac FROM audit
             WHERE seq > ?1 AND seq < ?2 AND (CAST(?3 AS TEXT) IS NULL OR credential = ?3)
             AND event LIKE ?4 ESCAPE '\\' ORDER BY seq {order} LIMIT ?5"
        );
        let mut prefix = String::with_capacity(page.event.len() + 1);
        for c in page.event.chars() {
            if matches!(c, '%' | '_' | '\\') {
                prefix.push('\\');
            }
            prefix.push(c);
        }
        prefix.push('%');
        let (mut after, mut before, mut kept) = (page.after, page.before, Vec::new());
        loop {
            let batch = self.all(&sql, args![after, before, page.credential, &prefix, page.limit as i64], entry)?;
            let exhausted = batch.len() < page.limit;
            for (entry, _) in batch {
                match page.newest_first {
                    true => before = entry.seq,
                    false => after = entry.seq,
                }
                if keep(&entry) {
                    kept.push(entry);
                    if kept.len() == page.limit {
                        return Ok(kept);
                    }
                }
            }
            if exhausted {
                return Ok(kept);
            }
        }
    }

    /// Keys the whole chain anew with `sealer` (a new master key's), then
    /// appends `event` under it; inside the caller's write. A chain that
    /// does not verify now is refused: re-keying it would hide the break.
    pub(super) fn rechain(&self, sealer: &Sealer, event: &str, detail: serde_json::Value) -> Result<(), StoreError> {
        if let Err(broken) = self.verify_audit()? {
            return Err(StoreError::NotFound(format!(
                "the audit log was tampered with ({broken}); nothing was re-keyed, restore the store from a backup first"
            )));
        }
        let mut previous = String::new();
        for (entry, _) in self.audit_rows(None)? {
            previous = sealer.chain(&previous, &entry.canonical());
            self.execute("UPDATE audit SET mac = ?2 WHERE seq = ?1", args![entry.seq, &previous])?;
        }
        let seq = self.one("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit", &[], |r| r.get(0))?.unwrap_or(1);
        let entry = Entry { seq, at: now(), event: event.into(), credential: None, rotation: None, detail };
        self.append(sealer, &entry, &previous).map(drop)
    }

    /// Checks the whole chain; `Ok(n)` is the number of entries verified.
    pub fn verify_audit(&self) -> Result<Result<usize, Break>, StoreError> {
        Ok(self.verify_audit_after(&Checkpoint::default())?.map(|checked| checked.count as usize))
    }

    /// Checks the chain after `from`, a point already verified, and the
    /// head: what a view that verified before need check again (entries
    /// appended since). A change before `from` is for [`Store::verify_audit`]
    /// to find; a removal at the end or an edited head is found here too.
    pub fn verify_audit_after(&self, from: &Checkpoint) -> Result<Result<Checkpoint, Break>, StoreError> {
        let sql = "SELECT seq, at, event, credential, rotation, detail, mac FROM audit WHERE seq > ?1 ORDER BY seq";
        let rows = self.all(sql, args![from.count], entry)?;
        let mut previous = from.mac.clone();
        for (expected, (entry, mac)) in (from.count + 1..).zip(&rows) {
            if entry.seq != expected {
                return Ok(Err(Break::Removed(expected)));
            }
            if self.sealer.chain(&previous, &entry.canonical()) != *mac {
                return Ok(Err(Break::Edited(entry.seq)));
            }
            previous.clone_from(mac);
        }
        let count = from.count + rows.len() as i64;
        let head = schema::meta(&self.db, "audit_head")?.unwrap_or_default();
        if head != self.sealer.chain("head", &format!("{count}|{previous}")) {
            return Ok(Err(Break::Truncated(count)));
        }
        Ok(Ok(Checkpoint { count, mac: previous }))
    }
}
