//! The two engines behind [`crate::Store`]: SQLite (a file, `rusqlite`) and PostgreSQL
//! (`tokio-postgres` on a worker thread, [`pg`]). Everything above this module writes one SQL
//! text for both and calls [`Db`]; what differs between the engines is in [`dialect`]
//! (parameters, column types, the schema's version, locks) and nowhere else.
//!
//! Parameters are written `$1`, `$2`, … (PostgreSQL's form); for SQLite they become `?1`, `?2`,
//! …, which bind by number too, so a parameter may be used twice or out of order on both.

pub(crate) mod dialect;
pub(crate) mod pg;
pub(crate) mod pgpass;
mod tls;

use std::borrow::Cow;

use rusqlite::OptionalExtension;

use crate::StoreError;
pub use pg::PgError;

/// A query parameter. Booleans are stored as the integers 0 and 1 on both engines.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Int(value)
    }
}
impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Int(i64::from(value))
    }
}
impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Text(value.to_owned())
    }
}
impl From<&String> for Value {
    fn from(value: &String) -> Value {
        Value::Text(value.clone())
    }
}
impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Text(value)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}
impl From<&Option<String>> for Value {
    fn from(value: &Option<String>) -> Value {
        value.as_deref().into()
    }
}
impl From<&Option<i64>> for Value {
    fn from(value: &Option<i64>) -> Value {
        (*value).into()
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(value) => ToSqlOutput::Borrowed(ValueRef::Integer(*value)),
            Value::Text(value) => ToSqlOutput::Borrowed(ValueRef::Text(value.as_bytes())),
        })
    }
}

/// `[Value::from(a), Value::from(b), ...]`
macro_rules! values {
    ($($value:expr),* $(,)?) => { [$($crate::db::Value::from($value)),*] };
}
pub(crate) use values;

/// A failure of either engine, with the engine's own error kept.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] PgError),
}

impl DbError {
    /// For rusqlite's row callbacks, which return its own error. Reading an SQLite row fails
    /// only with an SQLite error; the other arm is there for the type.
    fn into_sqlite(self) -> rusqlite::Error {
        match self {
            DbError::Sqlite(error) => error,
            DbError::Postgres(error) => rusqlite::Error::ToSqlConversionFailure(Box::new(error)),
        }
    }
}

/// One row of a result, of either engine.
pub(crate) enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a tokio_postgres::Row),
}

impl Row<'_> {
    pub(crate) fn get<T: Cell>(&self, index: usize) -> Result<T, DbError> {
        match self {
            Row::Sqlite(row) => T::from_sqlite(row, index).map_err(DbError::Sqlite),
            Row::Pg(row) => T::from_pg(row, index).map_err(DbError::Postgres),
        }
    }
}

/// A type a column is read as: text, integer or boolean (an integer 0 or 1), maybe NULL.
pub(crate) trait Cell: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self>;
    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, PgError>;
}

/// An integer column of PostgreSQL read whatever its width (`COUNT(*)` is `bigint`, a `CASE`
/// of literals `integer`).
fn pg_integer(row: &tokio_postgres::Row, index: usize) -> Result<Option<i64>, tokio_postgres::Error> {
    use tokio_postgres::types::Type;
    let ty = row.columns().get(index).map(|column| column.type_().clone());
    match ty {
        Some(Type::INT4) => Ok(row.try_get::<_, Option<i32>>(index)?.map(i64::from)),
        Some(Type::INT2) => Ok(row.try_get::<_, Option<i16>>(index)?.map(i64::from)),
        Some(Type::BOOL) => Ok(row.try_get::<_, Option<bool>>(index)?.map(i64::from)),
        _ => row.try_get::<_, Option<i64>>(index),
    }
}

impl Cell for Option<i64> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, PgError> {
        pg_integer(row, index).map_err(PgError::new)
    }
}
impl Cell for i64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, PgError> {
        pg_integer(row, index).map_err(PgError::new)?.ok_or(PgError::null(index))
    }
}
impl Cell for bool {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, PgError> {
        Ok(i64::from_pg(row, index)? != 0)
    }
}
impl Cell for Option<bool> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, PgError> {
        Ok(Option::<i64>::from_pg(row, index)?.map(|value| value != 0))
    }
}
impl Cell for Option<String> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, PgError> {
        row.try_get(index).map_err(PgError::new)
    }
}
impl Cell for String {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, PgError> {
        row.try_get(index).map_err(PgError::new)
    }
}

/// The open database of a [`crate::Store`].
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(pg::PgConn),
}

/// Rows fetched at once when a PostgreSQL result is streamed ([`Db::each`]).
const FETCH_ROWS: usize = 1000;

impl Db {
    /// Runs a statement that returns no rows.
    pub(crate) fn execute(
        &self,
        context: &'static str,
        sql: &str,
        params: &[Value],
    ) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement =
                    conn.prepare_cached(&dialect::sqlite_sql(sql)).map_err(StoreError::sqlite(context))?;
                statement
                    .execute(rusqlite::params_from_iter(params.iter()))
                    .map_err(StoreError::sqlite(context))?;
                Ok(())
            }
            Db::Postgres(conn) => {
                conn.query(sql, params.to_vec()).map(drop).map_err(StoreError::postgres(context))
            }
        }
    }

    /// Runs statements without parameters, one after another.
    pub(crate) fn batch(&self, context: &'static str, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(conn) => conn.execute_batch(sql).map_err(StoreError::sqlite(context)),
            Db::Postgres(conn) => conn.batch(sql).map_err(StoreError::postgres(context)),
        }
    }

    /// Every row of a query, mapped.
    pub(crate) fn rows<T, C: FromIterator<T>>(
        &self,
        context: &'static str,
        sql: &str,
        params: &[Value],
        mut map: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<C, StoreError> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement =
                    conn.prepare_cached(&dialect::sqlite_sql(sql)).map_err(StoreError::sqlite(context))?;
                let rows = statement
                    .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                        map(&Row::Sqlite(row)).map_err(DbError::into_sqlite)
                    })
                    .map_err(StoreError::sqlite(context))?;
                rows.collect::<Result<C, _>>().map_err(StoreError::sqlite(context))
            }
            Db::Postgres(conn) => {
                let rows = conn.query(sql, params.to_vec()).map_err(StoreError::postgres(context))?;
                rows.iter()
                    .map(|row| map(&Row::Pg(row)))
                    .collect::<Result<C, _>>()
                    .map_err(StoreError::db(context))
            }
        }
    }

    /// The first row of a query, if any.
    pub(crate) fn row<T>(
        &self,
        context: &'static str,
        sql: &str,
        params: &[Value],
        mut map: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Option<T>, StoreError> {
        match self {
            Db::Sqlite(conn) => conn
                .query_row(&dialect::sqlite_sql(sql), rusqlite::params_from_iter(params.iter()), |row| {
                    map(&Row::Sqlite(row)).map_err(DbError::into_sqlite)
                })
                .optional()
                .map_err(StoreError::sqlite(context)),
            Db::Postgres(_) => {
                let rows: Vec<T> = self.rows(context, sql, params, map)?;
                Ok(rows.into_iter().next())
            }
        }
    }

    /// Calls `each` with every row of a query, streamed: memory does not grow with the rows
    /// (PostgreSQL reads them through a cursor, [`FETCH_ROWS`] at a time).
    pub(crate) fn each(
        &self,
        context: &'static str,
        sql: &str,
        params: &[Value],
        mut each: impl FnMut(&Row<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement =
                    conn.prepare_cached(&dialect::sqlite_sql(sql)).map_err(StoreError::sqlite(context))?;
                let mut rows = statement
                    .query(rusqlite::params_from_iter(params.iter()))
                    .map_err(StoreError::sqlite(context))?;
                while let Some(row) = rows.next().map_err(StoreError::sqlite(context))? {
                    each(&Row::Sqlite(row))?;
                }
                Ok(())
            }
            Db::Postgres(conn) => {
                let in_transaction = conn.in_transaction();
                if !in_transaction {
                    conn.batch("BEGIN READ ONLY").map_err(StoreError::postgres(context))?;
                }
                let result = (|| {
                    conn.query(&format!("DECLARE sfconn_rows NO SCROLL CURSOR FOR {sql}"), params.to_vec())
                        .map_err(StoreError::postgres(context))?;
                    loop {
                        let rows = conn
                            .query(&format!("FETCH {FETCH_ROWS} FROM sfconn_rows"), Vec::new())
                            .map_err(StoreError::postgres(context))?;
                        for row in &rows {
                            each(&Row::Pg(row))?;
                        }
                        if rows.len() < FETCH_ROWS {
                            break;
                        }
                    }
                    conn.batch("CLOSE sfconn_rows").map_err(StoreError::postgres(context))
                })();
                if !in_transaction {
                    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
                    let ended = conn.batch(end).map_err(StoreError::postgres(context));
                    result?;
                    ended?;
                    return Ok(());
                }
                result
            }
        }
    }

    /// Starts the one write transaction of a snapshot. It holds the store's write lock (SQLite:
    /// `BEGIN IMMEDIATE`; PostgreSQL: a lock on `snapshots` that other writers wait for and
    /// readers do not), so that the reads of an insert (the same snapshot, the next id) cannot
    /// go stale, and snapshot ids are numbered the same way on both engines. Foreign keys are
    /// checked at the commit: users are written before their snapshot row.
    pub(crate) fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        let context = "starting a transaction";
        match self {
            Db::Sqlite(conn) => {
                conn.execute_batch("BEGIN IMMEDIATE").map_err(StoreError::sqlite(context))?;
                let tx = WriteTx { db: self, open: true };
                conn.execute_batch("PRAGMA defer_foreign_keys = ON")
                    .map_err(StoreError::sqlite("deferring foreign keys"))?;
                Ok(tx)
            }
            Db::Postgres(conn) => {
                conn.batch("BEGIN").map_err(StoreError::postgres(context))?;
                let tx = WriteTx { db: self, open: true };
                conn.batch(dialect::PG_WRITE_LOCK)
                    .map_err(StoreError::postgres("locking the store for a write"))?;
                Ok(tx)
            }
        }
    }

    /// How many rows one INSERT of users or licences carries. SQLite: one, with a prepared
    /// statement (a duplicate is found where it is). PostgreSQL: many, to save round trips.
    pub(crate) fn insert_batch(&self) -> usize {
        match self {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => dialect::PG_INSERT_BATCH,
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }
}

/// An open write transaction: rolled back when dropped without [`WriteTx::commit`].
pub(crate) struct WriteTx<'a> {
    pub(crate) db: &'a Db,
    open: bool,
}

impl WriteTx<'_> {
    /// Commits; when the commit fails (a deferred foreign key, a lost connection), the drop
    /// rolls back, so the connection is never left inside the failed transaction.
    pub(crate) fn commit(mut self) -> Result<(), StoreError> {
        let committed = self.db.batch("committing the snapshot", "COMMIT");
        self.open = committed.is_err();
        committed
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // The error that stopped the transaction is what the caller reports; a failed
            // rollback leaves nothing committed either.
            drop(self.db.batch("rolling back", "ROLLBACK"));
        }
    }
}

/// `$n` parameters as SQLite's `?n`.
pub(crate) fn to_question_marks(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_parameters_become_numbered_question_marks() {
        assert_eq!(
            to_question_marks("a = $2 AND ($1 IS NULL OR b = $1)"),
            "a = ?2 AND (?1 IS NULL OR b = ?1)"
        );
        assert_eq!(to_question_marks("SELECT 1"), "SELECT 1");
    }
}
