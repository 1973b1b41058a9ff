//! The schema, written once for both engines: the tables as version 1 made
//! them and every change since, each rendered for SQLite or PostgreSQL and
//! run in order. A new store runs every step, an older one the steps it
//! lacks, so a migrated store and a new one have the same tables, columns,
//! constraints and indexes on either engine (a test compares them).
//!
//! The steps use four words that differ between the engines:
//!
//! | word | SQLite | PostgreSQL |
//! |---|---|---|
//! | `{int}` | `INTEGER` | `BIGINT` |
//! | `{bytes}` | `BLOB` | `BYTEA` |
//! | `{serial_key}` | `INTEGER PRIMARY KEY` (the rowid) | `BIGSERIAL PRIMARY KEY` |
//! | `{rowid}` | nothing: every table has one | `rowid BIGSERIAL UNIQUE,` |
//!
//! `rotations.rowid` keeps the order of insertion that queries sort by.

use super::StoreError;
use super::db::Db;

/// The schema this build writes and understands.
pub const VERSION: i64 = 6;

/// The engine a step is rendered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded default.
    Sqlite,
    /// Shared by several daemons.
    Postgres,
}

/// One change of the schema.
struct Step {
    /// The schema version it brings a store to.
    version: i64,
    /// Its statements, in the words above.
    sql: &'static str,
    /// The engine it is for, when it is for one only.
    only: Option<Dialect>,
}

/// Every change, in order. Never edit a step a released build ran: add one.
const STEPS: &[Step] = &[
    Step {
        version: 1,
        only: None,
        sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE versions (
                credential TEXT NOT NULL,
                version {int} NOT NULL,
                label TEXT CHECK (label IN ('current', 'pending', 'previous')),
                key_id TEXT NOT NULL,
                secret {bytes} NOT NULL,
                attributes TEXT NOT NULL,
                expires_at {int},
                created_at {int} NOT NULL,
                rotation TEXT,
                revoked_at {int},
                PRIMARY KEY (credential, version)
            );
            CREATE UNIQUE INDEX one_per_label ON versions (credential, label) WHERE label IS NOT NULL;
            CREATE TABLE rotations (
                {rowid}
                id TEXT PRIMARY KEY,
                credential TEXT NOT NULL,
                started_at {int} NOT NULL,
                finished_at {int},
                state TEXT NOT NULL CHECK (state IN ('running', 'grace', 'succeeded', 'rolled-back', 'failed')),
                emergency {int} NOT NULL,
                from_version {int},
                to_version {int},
                revoke_after {int},
                error TEXT
            );
            CREATE INDEX rotations_by_credential ON rotations (credential, started_at);
            CREATE TABLE journal (
                rotation TEXT NOT NULL REFERENCES rotations (id),
                seq {int} NOT NULL,
                step TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('begun', 'done')),
                at {int} NOT NULL,
                PRIMARY KEY (rotation, seq)
            );
            CREATE TABLE audit (
                seq {int} PRIMARY KEY,
                at {int} NOT NULL,
                event TEXT NOT NULL,
                credential TEXT,
                rotation TEXT,
                detail TEXT NOT NULL,
                mac TEXT NOT NULL
            );",
    },
    // The leases that let several daemons share a store (SQLite's are file locks: see `lease.rs`).
    Step {
        version: 1,
        only: Some(Dialect::Postgres),
        sql: "CREATE TABLE leases (
                credential TEXT PRIMARY KEY,
                owner TEXT,
                fence BIGINT NOT NULL,
                expires_at TIMESTAMPTZ
            );",
    },
    // What the provider last said about a key's use, and when it was asked.
    Step {
        version: 2,
        only: None,
        sql: "ALTER TABLE versions ADD COLUMN last_used_at {int};
            ALTER TABLE versions ADD COLUMN checked_at {int};
            ALTER TABLE versions ADD COLUMN valid {int};",
    },
    // Keys a provider may hold that no version accounts for.
    Step {
        version: 3,
        only: None,
        sql: "CREATE TABLE suspects (
                id {serial_key},
                credential TEXT NOT NULL,
                rotation TEXT,
                key_id TEXT,
                reason TEXT NOT NULL,
                found_at {int} NOT NULL,
                resolved_at {int},
                resolution TEXT
            );
            CREATE INDEX open_suspects ON suspects (credential) WHERE resolved_at IS NULL;",
    },
    // Events the daemon sends once (reminders), so a restart does not repeat them.
    Step {
        version: 4,
        only: None,
        sql: "CREATE TABLE notices (
                credential TEXT NOT NULL,
                event TEXT NOT NULL,
                subject TEXT NOT NULL,
                at {int} NOT NULL,
                PRIMARY KEY (credential, event, subject)
            );",
    },
    // API tokens, known by the start of the token and its SHA-256 only.
    Step {
        version: 5,
        only: None,
        sql: "CREATE TABLE tokens (
                name TEXT PRIMARY KEY,
                lookup TEXT NOT NULL UNIQUE,
                digest TEXT NOT NULL,
                role TEXT NOT NULL,
                scope TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at {int} NOT NULL,
                expires_at {int},
                last_used_at {int},
                revoked_at {int}
            );",
    },
    // The indexes the daemon's reads need on both engines (PostgreSQL
    // stores made by schema 5 already have them).
    Step {
        version: 6,
        only: None,
        sql: "CREATE INDEX IF NOT EXISTS versions_by_label ON versions (label) WHERE label IS NOT NULL;
            CREATE INDEX IF NOT EXISTS open_rotations ON rotations (credential) WHERE state IN ('running', 'grace');
            CREATE INDEX IF NOT EXISTS audit_by_credential ON audit (credential, seq);",
    },
];

/// The statements that take a store at schema `from` (0: none) to
/// [`VERSION`], for `dialect`.
pub fn steps_after(from: i64, dialect: Dialect) -> String {
    STEPS
        .iter()
        .filter(|step| step.version > from && step.only.is_none_or(|only| only == dialect))
        .map(|step| render(step.sql, dialect) + "\n")
        .collect()
}

/// `sql` with the words that differ between the engines rendered for `dialect`.
fn render(sql: &str, dialect: Dialect) -> String {
    let words: [(&str, &str); 4] = match dialect {
        Dialect::Sqlite => {
            [("{int}", "INTEGER"), ("{bytes}", "BLOB"), ("{serial_key}", "INTEGER PRIMARY KEY"), ("{rowid}", "")]
        }
        Dialect::Postgres => [
            ("{int}", "BIGINT"),
            ("{bytes}", "BYTEA"),
            ("{serial_key}", "BIGSERIAL PRIMARY KEY"),
            ("{rowid}", "rowid BIGSERIAL UNIQUE,"),
        ],
    };
    words.iter().fold(sql.to_string(), |sql, (word, rendered)| sql.replace(word, rendered))
}

/// Runs the steps after `from` on `db`, inside the caller's write.
pub fn run_after(db: &Db, from: i64) -> Result<(), StoreError> {
    let dialect = if let Db::Postgres { .. } = db { Dialect::Postgres } else { Dialect::Sqlite };
    db.batch(&steps_after(from, dialect))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_rendered_and_versions_only_grow() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let all = steps_after(0, dialect);
            assert!(!all.contains('{'), "an unrendered word for {dialect:?}: {all}");
        }
        assert!(STEPS.windows(2).all(|w| w[0].version <= w[1].version));
        assert_eq!(STEPS.last().map(|s| s.version), Some(VERSION));
        assert!(steps_after(VERSION, Dialect::Sqlite).is_empty());
    }
}
