//! Moving a store to another backend (`rekey store migrate --to …`):
//! SQLite to PostgreSQL and back. Every row is copied as it is, the
//! store's own metadata included (its salt, the key check, the audit head,
//! a KMS-wrapped key), so the copy opens with the same master key, its
//! sealed secrets open for the same rows and its audit chain verifies
//! unchanged. The source's write lock is held throughout, so nothing
//! changes while it is read; the target is written in one transaction
//! and must be empty.

use super::crypto::KeySource;
use super::db::Db;
use super::{Created, Location, Store, StoreError, fresh_database, schema};

/// The tables copied, their columns, and the order that keeps the
/// copy's order of insertion the source's.
const TABLES: &[(&str, &str, &str)] = &[
    ("meta", "key, value", "key"),
    (
        "versions",
        "credential, version, label, key_id, secret, attributes, expires_at, created_at, rotation, revoked_at, last_used_at, checked_at, valid",
        "credential, version",
    ),
    (
        "rotations",
        "id, credential, started_at, finished_at, state, emergency, from_version, to_version, revoke_after, error",
        "rowid",
    ),
    ("journal", "rotation, seq, step, state, at", "rotation, seq"),
    ("audit", "seq, at, event, credential, rotation, detail, mac", "seq"),
    ("suspects", "id, credential, rotation, key_id, reason, found_at, resolved_at, resolution", "id"),
    ("notices", "credential, event, subject, at", "credential, event, subject"),
    (
        "tokens",
        "name, lookup, digest, role, scope, created_by, created_at, expires_at, last_used_at, revoked_at",
        "name",
    ),
];

/// What a migration copied: rows per table, and the audit entries the
/// copy's chain verified.
#[derive(Debug, serde::Serialize)]
pub struct Copied {
    /// Table → rows.
    pub rows: Vec<(&'static str, usize)>,
    /// Entries of the copy's audit chain, verified.
    pub audit_verified: usize,
}

impl Store {
    /// Copies this store into the empty `target`, then checks the copy,
    /// opened with the same master key (`key`): the same number of rows in
    /// every table, and its audit chain intact. The copy's last entry says
    /// where it came from (`store.migrated`, also in the source's log). On
    /// a failure the target is left as it was: no file, or no tables.
    pub fn migrate_to(&self, target: &Location, key: &KeySource) -> Result<Copied, StoreError> {
        let mut created = Created::default();
        let db = fresh_database(target, &mut created)?;
        let detail = serde_json::json!({ "from": self.location.describe(), "to": target.describe() });
        let copied = self.copy_into(&db, detail);
        if copied.is_err() {
            drop(db);
            created.remove();
        }
        let rows = copied?;
        let copy = Store::open_with(target, key)?;
        for (table, count) in &rows {
            let found: i64 = copy.one(&format!("SELECT COUNT(*) FROM {table}"), &[], |r| r.get(0))?.unwrap_or_default();
            if found as usize != *count {
                return Err(StoreError::NotFound(format!(
                    "the copy's {table} holds {found} rows where the store holds {count}; the copy at {} is incomplete: drop it and migrate again",
                    target.describe()
                )));
            }
        }
        let audit_verified = copy.verify_audit()?.map_err(|broken| {
            StoreError::NotFound(format!(
                "the copy's audit chain does not verify ({broken}); drop it and migrate again"
            ))
        })?;
        Ok(Copied { rows, audit_verified })
    }

    /// Records the migration and writes every row into `db`, in one
    /// transaction on each side, under this store's write lock: a failure
    /// leaves no trace in either.
    fn copy_into(&self, db: &Db, detail: serde_json::Value) -> Result<Vec<(&'static str, usize)>, StoreError> {
        self.write(|| {
            self.audit("store.migrated", None, None, detail)?;
            let tx = db.begin()?;
            schema::create(db, &[0; 16])?;
            let mut rows = Vec::new();
            for (table, columns, order) in TABLES {
                let read = self.db.query(&format!("SELECT {columns} FROM {table} ORDER BY {order}"), &[])?;
                let marks: Vec<String> = (1..=columns.split(',').count()).map(|i| format!("?{i}")).collect();
                let insert = format!("INSERT INTO {table} ({columns}) VALUES ({})", marks.join(", "));
                for row in &read {
                    match *table {
                        // The new database's own schema version and salt give way to the store's.
                        "meta" => schema::set_meta(db, &row.get::<String>(0)?, &row.get::<String>(1)?)?,
                        _ => {
                            db.execute(&insert, &row.0)?;
                        }
                    }
                }
                rows.push((*table, read.len()));
            }
            if let Db::Postgres { .. } = db {
                db.batch("SELECT setval(pg_get_serial_sequence('suspects', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM suspects")?;
            }
            tx.commit()?;
            Ok(rows)
        })
    }
}
