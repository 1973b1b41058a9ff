//! A connection to a PostgreSQL store. The `postgres` client (rust-postgres,
//! over `tokio-postgres`) runs its own small runtime and must not be called
//! from inside another, which the daemon and the rotation engine are; so
//! each connection lives on a thread of its own, and a call sends it the
//! statement and waits for the rows, blocking the caller as an SQLite call
//! does. A connection that broke (the server restarted) is opened again
//! before the next statement.

use super::StoreError;
use super::location::Postgres as Target;
use super::sql::{Row, Value, numbered_for_postgres};
use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use std::collections::HashMap;
use std::sync::mpsc;

/// One connection, on its thread.
pub struct Connection {
    jobs: mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// What the connection's thread owns.
struct Session {
    target: Target,
    client: postgres::Client,
    /// Statements prepared on this connection, by their text.
    prepared: HashMap<String, postgres::Statement>,
}

impl Connection {
    /// Connects to `target` (TLS as its `sslmode` asks, verified against
    /// the public roots and `store_ca`).
    pub fn open(target: &Target) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::sync_channel(1);
        let target = target.clone();
        std::thread::Builder::new()
            .name("rekey-postgres".into())
            .spawn(move || {
                let session = target.connect().map(|client| Session { target, client, prepared: HashMap::new() });
                let mut session = match session {
                    Ok(session) => {
                        let _ = ready.send(Ok(()));
                        session
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                for job in queue {
                    job(&mut session);
                }
            })
            .map_err(|source| StoreError::Io { path: "rekey-postgres thread".into(), source })?;
        connected.recv().map_err(|_| StoreError::Postgres("the connection thread ended".into()))??;
        Ok(Self { jobs })
    }

    /// Runs `work` on the connection's thread and waits for its result.
    fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Session) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |session| {
            let _ = reply.send(session.reconnected().and_then(|()| work(session)));
        });
        self.jobs.send(job).map_err(|_| StoreError::Postgres("the connection thread ended".into()))?;
        result.recv().map_err(|_| StoreError::Postgres("the connection thread ended".into()))?
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        let (sql, args) = (sql.to_string(), args.to_vec());
        self.call(move |session| {
            let statement = session.prepare(&sql)?;
            Ok(session.client.execute(&statement, &params(&args))? as usize)
        })
    }

    /// Runs one query; its rows.
    pub fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        let (sql, args) = (sql.to_string(), args.to_vec());
        self.call(move |session| {
            let statement = session.prepare(&sql)?;
            session.client.query(&statement, &params(&args))?.iter().map(row).collect()
        })
    }

    /// Runs statements without parameters (schema, transaction control).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let sql = sql.to_string();
        self.call(move |session| Ok(session.client.batch_execute(&sql)?))
    }
}

impl Session {
    /// Opens the connection again if it broke; a transaction that was open
    /// on it is gone, and its statement fails rather than run outside it.
    fn reconnected(&mut self) -> Result<(), StoreError> {
        if self.client.is_closed() {
            self.prepared.clear();
            self.client = self.target.connect()?;
        }
        Ok(())
    }

    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&numbered_for_postgres(sql))?;
        self.prepared.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

/// A row as the backend-neutral [`Row`].
fn row(row: &postgres::Row) -> Result<Row, StoreError> {
    let column = |index: usize| -> Result<Value, StoreError> {
        let value = match *row.columns()[index].type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Value::Int),
            Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(|v| Value::Int(v.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(|v| Value::Int(v.into())),
            Type::TEXT | Type::VARCHAR | Type::NAME => row.try_get::<_, Option<String>>(index)?.map(Value::Text),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index)?.map(Value::Blob),
            _ => return Err(StoreError::Column { index, expected: "a type rekey stores" }),
        };
        Ok(value.unwrap_or(Value::Null))
    };
    (0..row.len()).map(column).collect::<Result<_, _>>().map(Row)
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(v) => v.to_sql(ty, out),
            Value::Blob(v) => v.to_sql(ty, out),
        }
    }

    /// Any column: the statements are rekey's own, and the value's own
    /// conversion checks the type as it writes.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
