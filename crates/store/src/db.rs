//! The store's database, SQLite or PostgreSQL, behind one small interface:
//! run a statement, read rows, hold a write transaction. Everything above
//! it (versions, rotations, the audit chain) is written once.
//!
//! A write transaction takes the database's write lock before it reads
//! anything: SQLite's (`BEGIN IMMEDIATE`), or on PostgreSQL a transaction
//! advisory lock every rekey writer takes first. So writes from any number
//! of processes, on any number of hosts, happen one after another, and
//! what a transaction reads (the next audit number, the last MAC) cannot
//! change before it commits: the audit chain stays one chain.

use super::StoreError;
use super::postgres;
use super::sql::{Row, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::cell::Cell;

/// The advisory lock every writing transaction on PostgreSQL holds
/// (an arbitrary number: "rekey" in ASCII).
const WRITE_LOCK: i64 = 0x72656b6579;

/// A connection to the store's database.
pub enum Db {
    /// The embedded default.
    Sqlite(rusqlite::Connection),
    /// A shared database.
    Postgres {
        /// The connection.
        connection: postgres::Connection,
        /// Whether a transaction is open on it.
        open: Cell<bool>,
    },
}

impl Db {
    /// A PostgreSQL connection, outside any transaction.
    pub fn postgres(connection: postgres::Connection) -> Self {
        Self::Postgres { connection, open: Cell::new(false) }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        match self {
            Self::Sqlite(conn) => Ok(conn.prepare_cached(sql)?.execute(rusqlite::params_from_iter(args))?),
            Self::Postgres { connection, .. } => connection.execute(sql, args),
        }
    }

    /// Reads every row of a query.
    pub fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut out = Vec::new();
        self.query_each(sql, args, |row| {
            out.push(row);
            Ok(())
        })?;
        Ok(out)
    }

    /// Hands each row of a query to `each` as it is read: a caller that
    /// converts rows never holds them all twice.
    pub fn query_each(
        &self,
        sql: &str,
        args: &[Value],
        mut each: impl FnMut(Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let columns = statement.column_count();
                let mut rows = statement.query(rusqlite::params_from_iter(args))?;
                while let Some(row) = rows.next()? {
                    each(Row((0..columns).map(|i| row.get_ref(i).map(value)).collect::<Result<_, _>>()?))?;
                }
                Ok(())
            }
            Self::Postgres { connection, .. } => connection.query(sql, args)?.into_iter().try_for_each(each),
        }
    }

    /// Reads the first row of a query, if there is one.
    pub fn query_opt(&self, sql: &str, args: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// Runs statements without parameters (the schema).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Self::Postgres { connection, .. } => connection.batch(sql),
        }
    }

    /// Whether a write transaction is open.
    pub fn in_transaction(&self) -> bool {
        match self {
            Self::Sqlite(conn) => !conn.is_autocommit(),
            Self::Postgres { open, .. } => open.get(),
        }
    }

    /// Opens a write transaction holding the write lock; it is rolled
    /// back unless [`Transaction::commit`] is called.
    pub fn begin(&self) -> Result<Transaction<'_>, StoreError> {
        match self {
            Self::Sqlite(conn) => conn.execute_batch("BEGIN IMMEDIATE")?,
            Self::Postgres { connection, open } => {
                connection.batch(&format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"))?;
                open.set(true);
            }
        }
        Ok(Transaction { db: self, done: false })
    }

    /// Opens a read-only transaction: every read in it sees the same
    /// snapshot, and SQLite takes its locks once for all of them.
    pub fn begin_read(&self) -> Result<Transaction<'_>, StoreError> {
        match self {
            Self::Sqlite(conn) => conn.execute_batch("BEGIN")?,
            Self::Postgres { connection, open } => {
                connection.batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
                open.set(true);
            }
        }
        Ok(Transaction { db: self, done: false })
    }

    fn end(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Self::Postgres { connection, open } => {
                open.set(false);
                connection.batch(sql)
            }
        }
    }
}

/// An open write transaction.
pub struct Transaction<'a> {
    db: &'a Db,
    done: bool,
}

impl Transaction<'_> {
    /// Commits it.
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.done = true;
        self.db.end("COMMIT")
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.db.end("ROLLBACK");
        }
    }
}

fn value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        ValueRef::Real(v) => Value::Text(v.to_string()),
        ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
        ValueRef::Blob(v) => Value::Blob(v.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}
