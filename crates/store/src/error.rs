use std::path::PathBuf;

use sfconn_errors::{Classify, ErrorClass};

use crate::db::{DbError, PgError};
use crate::store::Location;

/// Everything that can go wrong with the snapshot store. Each message says what happened and
/// what to do; [`Classify::class`] says what kind of failure it is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "no snapshot store at {path}: run `sfconn collect --store {path}` or `sfconn history import FILE.json --store {path}` first, or check `store.path` / `--store`"
    )]
    Missing { path: PathBuf },

    #[error(
        "cannot open the snapshot store {path}: {source}; check `store.path` / `--store` and the file's permissions"
    )]
    Open { path: PathBuf, source: rusqlite::Error },

    #[error(
        "{path} is not an sfconn snapshot store (not an SQLite database): {source}; check `store.path` / `--store`"
    )]
    NotADatabase { path: PathBuf, source: rusqlite::Error },

    #[error(
        "the snapshot store {store} has schema version {found}, newer than this sfconn supports ({supported}); upgrade sfconn"
    )]
    NewerSchema { store: Location, found: i64, supported: i64 },

    #[error(
        "cannot migrate the snapshot store to schema version {version}: {source}; the store was left at the version before"
    )]
    Migration { version: i64, source: rusqlite::Error },

    #[error("cannot read the snapshot file {path}: {source}")]
    ReadSnapshotFile { path: PathBuf, source: std::io::Error },

    #[error(
        "not a valid sfconn snapshot document (at {at}): {source}; give a file written by `sfconn collect -f json`"
    )]
    InvalidSnapshot { at: String, source: serde_json::Error },

    #[error("the snapshot has schema_version {found:?}; this sfconn reads schema_version \"1\"")]
    UnsupportedSchemaVersion { found: String },

    #[error("the snapshot's {field} is not an RFC 3339 date-time: {value:?}")]
    InvalidTimestamp { field: &'static str, value: String, source: time::error::Parse },

    #[error(
        "this snapshot (org {org_id}, collected at {collected_at}) is already stored as snapshot {id}; nothing was imported"
    )]
    AlreadyStored { id: i64, org_id: String, collected_at: String },

    #[error("the snapshot lists the {what} {id} twice; nothing was imported")]
    DuplicateRecord { what: &'static str, id: String },

    #[error(
        "the snapshot store's {column} holds text that is not a JSON list: {source}; the store was changed outside sfconn, import the snapshot again"
    )]
    CorruptColumn { column: &'static str, source: serde_json::Error },

    #[error("no stored snapshot matches {selector}: see `sfconn history list`")]
    SnapshotNotFound { selector: String },

    #[error("{selector:?} is neither a snapshot id nor a date (YYYY-MM-DD or RFC 3339 date-time)")]
    BadSelector { selector: String },

    #[error("the snapshot store {store} holds no snapshot{org}: run `sfconn collect {flag} {store}` or `sfconn history import FILE.json` first", org = org_suffix(.org_id), flag = .store.flag())]
    NoSnapshots { store: Location, org_id: Option<String> },

    #[error(
        "a diff needs two snapshots of the same org; the store holds only snapshot {only} for org {org_id}"
    )]
    NothingToCompare { only: i64, org_id: String },

    #[error(
        "snapshots {from} (org {from_org}) and {to} (org {to_org}) belong to different orgs; compare snapshots of one org"
    )]
    DifferentOrgs { from: i64, from_org: String, to: i64, to_org: String },

    #[error("the snapshot store is busy (another sfconn is writing to it); try again in a moment")]
    Busy { source: rusqlite::Error },

    #[error("snapshot store error while {context}: {source}")]
    Sqlite { context: &'static str, source: rusqlite::Error },

    #[error("internal error in the snapshot store: {what}")]
    Internal { what: &'static str },

    #[error("cannot write the {what}: {source}")]
    Write { what: &'static str, source: std::io::Error },

    #[error("store.url {url} is not a PostgreSQL URL sfconn can use: {reason}")]
    BadUrl { url: String, reason: String },

    #[error("cannot read the PostgreSQL password file {path}: {source}")]
    ReadPasswordFile { path: PathBuf, source: std::io::Error },

    #[error(
        "cannot reach the PostgreSQL store {url}: {source}; check that the server runs and that store.url names its host and port"
    )]
    PgUnreachable { url: String, source: PgError },

    #[error(
        "PostgreSQL refused the login to {url}: {source}; check the user in store.url and its password \
         (store.password_file, PGPASSWORD, PGPASSFILE or store.url_file)"
    )]
    PgAuth { url: String, source: PgError },

    #[error("cannot connect to the PostgreSQL store {url}: {source}; check store.url")]
    PgConnect { url: String, source: PgError },

    #[error(
        "the connection to the PostgreSQL store was lost while {context}: {source}; nothing of this \
         snapshot was stored (the transaction was rolled back): try again"
    )]
    PgConnectionLost { context: &'static str, source: PgError },

    #[error(
        "cannot migrate the snapshot store to schema version {version}: {source}; the store was left at the version before"
    )]
    PgMigration { version: i64, source: PgError },

    #[error("PostgreSQL store error while {context}: {source}")]
    Postgres { context: &'static str, source: PgError },

    /// The machine's storage refused the store: disk full, quota exceeded, read-only file
    /// system. The transaction was rolled back, so the store holds what it held before.
    #[error(
        "cannot write the snapshot store {path}: {reason} ({source}); the store is as it was before \
         (nothing of this snapshot was stored). Free some space (or make the file system writable), then try again"
    )]
    Storage { path: PathBuf, reason: &'static str, source: Box<dyn std::error::Error + Send + Sync> },
}

fn org_suffix(org_id: &Option<String>) -> String {
    match org_id {
        Some(id) => format!(" of org {id}"),
        None => String::new(),
    }
}

impl Classify for StoreError {
    /// Bad data for what sfconn cannot read or use (a bad snapshot file, a store of a newer
    /// version, a selection with nothing in it), usage for a selection that names nothing (the
    /// command line was wrong), temporary for a busy store, configuration for a store path that
    /// leads nowhere, I/O when the disk is full or read-only, internal for the rest.
    fn class(&self) -> ErrorClass {
        match self {
            StoreError::Missing { .. }
            | StoreError::Open { .. }
            | StoreError::BadUrl { .. }
            | StoreError::ReadPasswordFile { .. }
            | StoreError::PgAuth { .. }
            | StoreError::PgConnect { .. } => ErrorClass::Configuration,
            StoreError::PgUnreachable { .. } => ErrorClass::Unavailable,
            StoreError::PgConnectionLost { .. } => ErrorClass::Temporary,
            StoreError::Postgres { source, .. } | StoreError::PgMigration { source, .. } => {
                if source.is_transient() {
                    ErrorClass::Temporary
                } else if source.sqlstate().is_some_and(|code| code == "42501") {
                    // Insufficient privilege: the role in store.url may not do this.
                    ErrorClass::Configuration
                } else {
                    ErrorClass::Internal
                }
            }
            // The configured store belongs to a newer sfconn: upgrade, or point at another store.
            StoreError::NewerSchema { .. } => ErrorClass::Configuration,
            StoreError::NotADatabase { .. }
            | StoreError::ReadSnapshotFile { .. }
            | StoreError::InvalidSnapshot { .. }
            | StoreError::UnsupportedSchemaVersion { .. }
            | StoreError::InvalidTimestamp { .. }
            | StoreError::AlreadyStored { .. }
            | StoreError::DuplicateRecord { .. }
            | StoreError::CorruptColumn { .. }
            | StoreError::NoSnapshots { .. }
            | StoreError::NothingToCompare { .. } => ErrorClass::BadData,
            StoreError::SnapshotNotFound { .. }
            | StoreError::BadSelector { .. }
            | StoreError::DifferentOrgs { .. } => ErrorClass::Usage,
            StoreError::Busy { .. } => ErrorClass::Temporary,
            StoreError::Storage { .. } => ErrorClass::Io,
            StoreError::Migration { .. }
            | StoreError::Sqlite { .. }
            | StoreError::Write { .. }
            | StoreError::Internal { .. } => ErrorClass::Internal,
        }
    }
}

impl StoreError {
    /// Wraps a PostgreSQL error, recognising a lost connection (temporary: nothing of the
    /// transaction was stored).
    pub(crate) fn postgres(context: &'static str) -> impl FnOnce(PgError) -> StoreError {
        move |source| {
            if source.connection_lost() {
                StoreError::PgConnectionLost { context, source }
            } else {
                StoreError::Postgres { context, source }
            }
        }
    }

    /// Wraps an error of either engine.
    pub(crate) fn db(context: &'static str) -> impl FnOnce(DbError) -> StoreError {
        move |error| match error {
            DbError::Sqlite(source) => StoreError::sqlite(context)(source),
            DbError::Postgres(source) => StoreError::postgres(context)(source),
        }
    }

    /// Wraps an SQLite error, recognising a busy or locked database as temporary.
    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| {
            if matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ) {
                StoreError::Busy { source }
            } else {
                StoreError::Sqlite { context, source }
            }
        }
    }
}
