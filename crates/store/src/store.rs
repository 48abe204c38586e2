use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::db::pg::{PgConn, PgTarget};
use crate::db::{Db, DbError, Row, Value, dialect, values};
use crate::doc::SnapshotDoc;
use crate::import::{self, Collected, Header, SnapshotWriter};
use crate::{StoreError, SubscriptionSource, render, schema, timefmt};
use sfconn_text::Table;

/// A stored snapshot's id (`snapshots.id`), shown by `sfconn history list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SnapshotId(pub i64);

impl std::fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One row of `sfconn history list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    pub id: SnapshotId,
    pub org_id: String,
    pub org_name: String,
    pub is_sandbox: bool,
    /// RFC 3339 UTC: whole seconds, with milliseconds when there are some.
    pub collected_at: String,
    /// The same instant in Unix milliseconds (orders snapshots).
    #[serde(skip)]
    pub collected_at_ms: i64,
    /// Users written to the snapshot (after the company filter).
    pub users: i64,
    pub subscriptions: i64,
    /// True when the run collected every user (`*`).
    pub filter_all: bool,
    pub company_names: Vec<String>,
}

/// Which snapshot a command means: `--snapshot`, `--from`, `--to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The newest snapshot.
    Latest,
    /// A snapshot id from `sfconn history list`.
    Id(i64),
    /// The newest snapshot collected at or before this moment (Unix milliseconds, inclusive).
    /// `YYYY-MM-DD` means the end of that day, UTC.
    AtOrBefore { until_ms: i64, given: String },
}

impl Selector {
    /// Reads a selector as typed on the command line: digits are an id, anything else must be a
    /// date (`YYYY-MM-DD`) or an RFC 3339 date-time.
    pub fn parse(text: &str) -> Result<Selector, StoreError> {
        let trimmed = text.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return trimmed
                .parse()
                .map(Selector::Id)
                .map_err(|_| StoreError::BadSelector { selector: text.to_owned() });
        }
        match timefmt::selector_upper_bound(trimmed) {
            Some(until_ms) => Ok(Selector::AtOrBefore { until_ms, given: trimmed.to_owned() }),
            None => Err(StoreError::BadSelector { selector: text.to_owned() }),
        }
    }

    fn describe(&self, org_id: Option<&str>) -> String {
        let what = match self {
            Selector::Latest => "the latest snapshot".to_owned(),
            Selector::Id(id) => format!("snapshot id {id}"),
            Selector::AtOrBefore { given, .. } => format!("a snapshot collected at or before {given}"),
        };
        match org_id {
            Some(org) => format!("{what} of org {org}"),
            None => what,
        }
    }
}

impl std::str::FromStr for Selector {
    type Err = StoreError;
    fn from_str(text: &str) -> Result<Selector, StoreError> {
        Selector::parse(text)
    }
}

impl SnapshotInfo {
    /// `sfconn history list` as a table.
    pub fn write_list_table(snapshots: &[SnapshotInfo], out: &mut dyn Write) -> Result<(), StoreError> {
        let mut table = Table::new(&[
            "#ID",
            "ORG ID",
            "ORG",
            "COLLECTED AT",
            "#USERS",
            "#SUBSCRIPTIONS",
            "COMPANY NAMES",
        ]);
        for s in snapshots {
            table.row(vec![
                s.id.to_string(),
                s.org_id.clone(),
                if s.is_sandbox { format!("{} (sandbox)", s.org_name) } else { s.org_name.clone() },
                s.collected_at.clone(),
                s.users.to_string(),
                s.subscriptions.to_string(),
                s.company_names.join(", "),
            ]);
        }
        render::write("snapshot list", || table.write_or(out, "", "no snapshots stored"))
    }
}

/// Where a store is, as it may be shown: an SQLite file, or a PostgreSQL URL with its password
/// replaced by `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Postgres(String),
}

impl Location {
    /// The command-line flag that names such a store.
    pub fn flag(&self) -> &'static str {
        match self {
            Location::File(_) => "--store",
            Location::Postgres(_) => "--store-url",
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => path.display().fmt(f),
            Location::Postgres(url) => f.write_str(url),
        }
    }
}

/// Which store to open: the SQLite file (`store.path`, `--store`) or PostgreSQL (`store.url`).
#[derive(Debug)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(PgTarget),
}

/// The snapshot history: an SQLite database (bundled SQLite, WAL mode) at one path, or a
/// PostgreSQL database (docs/architecture.md, "The store's two engines").
pub struct Store {
    pub(crate) db: Db,
    location: Location,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("location", &self.location).finish_non_exhaustive()
    }
}

const SNAPSHOT_COLUMNS: &str = "id, org_id, org_name, is_sandbox, collected_at, users, subscriptions, filter_all, company_names, collected_at_ms";

/// A `source` column. The store writes only the three known names, so anything else (a database
/// changed by hand) is read as a user licence rather than failing the whole command.
pub(crate) fn source_column(row: &Row<'_>, index: usize) -> Result<SubscriptionSource, DbError> {
    let source: String = row.get(index)?;
    Ok(SubscriptionSource::parse(&source).unwrap_or(SubscriptionSource::UserLicense))
}

fn snapshot_info(row: &Row<'_>) -> Result<SnapshotInfo, DbError> {
    let company_names: String = row.get(8)?;
    Ok(SnapshotInfo {
        id: SnapshotId(row.get(0)?),
        org_id: row.get(1)?,
        org_name: row.get(2)?,
        is_sandbox: row.get(3)?,
        collected_at: row.get(4)?,
        users: row.get(5)?,
        subscriptions: row.get(6)?,
        filter_all: row.get(7)?,
        company_names: serde_json::from_str(&company_names).unwrap_or_default(),
        collected_at_ms: row.get(9)?,
    })
}

/// How long opening or writing the store waits for another sfconn's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PRAGMA journal_mode = WAL`. While another connection opens or switches the same new store,
/// SQLite answers it with SQLITE_BUSY at once, without calling the busy handler, so the busy
/// timeout does not cover it: try again until [`BUSY_TIMEOUT`] has passed.
fn switch_to_wal(conn: &Connection) -> Result<(), StoreError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(error)
                if matches!(
                    error.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => return Err(StoreError::sqlite("switching to WAL mode")(error)),
        }
    }
}

/// Creates `path` as an empty file only its owner can read and write (0600) when it does not
/// exist yet: the store holds personal data (names, emails, last logins), like the snapshot
/// files. SQLite takes an empty file as a new database and gives its `-wal` and `-shm` files
/// the same permissions. Errors are left to SQLite's open, which reports them with the path
/// (an existing file is simply opened), except a full or read-only disk, which is reported
/// here with its real cause (SQLite would only say that it cannot open the file).
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let Err(error) = options.open(path) else {
        return Ok(());
    };
    match sfconn_errors::storage_refusal(error.kind()) {
        Some(reason) => {
            Err(StoreError::Storage { path: path.to_path_buf(), reason, source: Box::new(error) })
        }
        None => Ok(()),
    }
}

impl Store {
    /// Opens the store at `path`, creating the database when the file does not exist (as
    /// `sfconn collect --store` and `sfconn history import` do), and migrates it to the latest
    /// schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        create_private(path)?;
        Store::open_with(path, flags).map_err(|error| error.on_storage(path))
    }

    /// Opens an existing store (for `report`, `history list`, `history diff`): a path with no
    /// file is [`StoreError::Missing`] rather than a new, empty database.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.to_path_buf() });
        }
        Store::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
    }

    /// Connects to a PostgreSQL store and migrates it to the latest schema (the database must
    /// exist; its tables are created by the first migration). Many sfconn starting at once
    /// migrate it once: migrations run under an advisory lock.
    pub fn connect(target: &PgTarget) -> Result<Store, StoreError> {
        let conn = PgConn::connect(target)?;
        let store = Store { db: Db::Postgres(conn), location: Location::Postgres(target.shown().to_owned()) };
        schema::migrate_postgres(&store.db, &store.location)?;
        Ok(store)
    }

    /// [`Store::open`] or [`Store::connect`], for writing (`collect --store`, `history import`).
    pub fn open_target(target: &Target) -> Result<Store, StoreError> {
        match target {
            Target::Sqlite(path) => Store::open(path),
            Target::Postgres(pg) => Store::connect(pg),
        }
    }

    /// [`Store::open_existing`] or [`Store::connect`], for reading (`report`, `history list`,
    /// `history diff`). A PostgreSQL database without sfconn's tables gets them, empty.
    pub fn open_existing_target(target: &Target) -> Result<Store, StoreError> {
        match target {
            Target::Sqlite(path) => Store::open_existing(path),
            Target::Postgres(pg) => Store::connect(pg),
        }
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Store, StoreError> {
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
        // Wait for another writer rather than failing at once.
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
        let not_a_database = |source| StoreError::NotADatabase { path: path.to_path_buf(), source };
        conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0)).map_err(not_a_database)?;
        // WAL: readers never block the writer and a crash mid-write leaves the last commit
        // intact. A file system that cannot do WAL keeps its journal mode, which is still safe.
        switch_to_wal(&conn)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(StoreError::sqlite("enabling foreign keys"))?;
        schema::migrate(&mut conn, path)?;
        Ok(Store { db: Db::Sqlite(conn), location: Location::File(path.to_path_buf()) })
    }

    /// Where the store is, as it may be shown.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The database file (SQLite); `None` for a PostgreSQL store.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }

    /// The schema version of the open database (`PRAGMA user_version`, or PostgreSQL's
    /// `sfconn_schema` table).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let sql = if self.db.is_postgres() { dialect::PG_SCHEMA_VERSION } else { "PRAGMA user_version" };
        self.db
            .row("reading the schema version", sql, &[], |row| row.get(0))?
            .ok_or_else(|| StoreError::Internal { what: "the schema version has no row" })
    }

    /// A storage failure (disk full, read-only) named for the SQLite file; PostgreSQL's own
    /// disk is the server's to report.
    fn on_storage(&self, error: StoreError) -> StoreError {
        match &self.location {
            Location::File(path) => error.on_storage(path),
            Location::Postgres(_) => error,
        }
    }

    /// Stores a snapshot document given as JSON bytes (what `sfconn collect -f json` writes), in
    /// one transaction: either all of it is stored, or (on any error) none of it. A snapshot of
    /// the same org with the same `collected_at` is refused ([`StoreError::AlreadyStored`]).
    pub fn insert_snapshot_json(&mut self, json: &[u8]) -> Result<SnapshotId, StoreError> {
        self.insert_streamed(&mut serde_json::Deserializer::from_slice(json))
            .map_err(|error| self.on_storage(error))
    }

    /// Reads a snapshot file (`-` for standard input) and stores it (`sfconn history import`,
    /// `sfconn collect --store`). The file is streamed: the users are stored as they are read,
    /// so memory stays flat however many users the snapshot holds.
    pub fn import_file(&mut self, path: &Path) -> Result<SnapshotId, StoreError> {
        let read_error = |source| StoreError::ReadSnapshotFile { path: path.to_path_buf(), source };
        let result = if path == Path::new("-") {
            let stdin = std::io::stdin().lock();
            self.insert_streamed(&mut serde_json::Deserializer::from_reader(BufReader::new(stdin)))
        } else {
            let file = std::fs::File::open(path).map_err(read_error)?;
            self.insert_streamed(&mut serde_json::Deserializer::from_reader(BufReader::new(file)))
        };
        // A read that fails half-way is the file's problem, not the document's.
        result.map_err(|error| match error {
            StoreError::InvalidSnapshot { source, .. } if source.is_io() => read_error(source.into()),
            other => self.on_storage(other),
        })
    }

    /// Stores a parsed snapshot document, like [`Store::insert_snapshot_json`].
    pub fn insert_snapshot(&mut self, doc: &SnapshotDoc) -> Result<SnapshotId, StoreError> {
        self.insert_parsed(doc).map_err(|error| self.on_storage(error))
    }

    fn insert_parsed(&mut self, doc: &SnapshotDoc) -> Result<SnapshotId, StoreError> {
        let collected = Collected::parse(&doc.collected_at)?;
        let tx = self.db.begin_write()?;
        let mut writer = SnapshotWriter::new(&tx)?;
        writer.check_not_stored(&doc.organization.id, &collected)?;
        for sub in &doc.subscriptions {
            writer.subscription(sub)?;
        }
        for profile in &doc.profiles {
            writer.profile(profile)?;
        }
        for user in &doc.users {
            writer.user(user)?;
        }
        let id = writer.finish(&Header {
            generator: &doc.generator,
            collected: &collected,
            source: &doc.source,
            organization: &doc.organization,
            filter: &doc.filter,
            summary: &doc.summary,
            warnings: &doc.warnings,
            login_activity: doc.login_activity_state(),
        })?;
        tx.commit()?;
        Ok(id)
    }

    /// The one transaction of [`Store::insert_snapshot_json`] and [`Store::import_file`].
    fn insert_streamed<'de, R: serde_json::de::Read<'de>>(
        &mut self,
        deserializer: &mut serde_json::Deserializer<R>,
    ) -> Result<SnapshotId, StoreError> {
        let tx = self.db.begin_write()?;
        let id = import::stream_document(deserializer, SnapshotWriter::new(&tx)?)?;
        tx.commit()?;
        Ok(id)
    }

    /// Every stored snapshot, oldest first.
    pub fn list(&self) -> Result<Vec<SnapshotInfo>, StoreError> {
        self.db.rows(
            "listing snapshots",
            &format!("SELECT {SNAPSHOT_COLUMNS} FROM snapshots ORDER BY collected_at_ms, id"),
            &[],
            snapshot_info,
        )
    }

    /// The latest snapshot of every org in the store (orgs told apart by organization id), by
    /// org name then id: what `sfconn report --all-orgs` reads.
    pub fn latest_per_org(&self) -> Result<Vec<SnapshotInfo>, StoreError> {
        self.db.rows(
            "finding the latest snapshot of each org",
            &format!(
                "SELECT {SNAPSHOT_COLUMNS} FROM snapshots s
                 WHERE s.id = (SELECT t.id FROM snapshots t WHERE t.org_id = s.org_id
                               ORDER BY t.collected_at_ms DESC, t.id DESC LIMIT 1)
                 ORDER BY s.org_name, s.org_id"
            ),
            &[],
            snapshot_info,
        )
    }

    /// The snapshot a selector means, optionally only among one org's snapshots.
    pub fn resolve(&self, selector: &Selector, org_id: Option<&str>) -> Result<SnapshotInfo, StoreError> {
        let found = match selector {
            Selector::Latest => self.query_snapshot(
                &format!(
                    "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE (CAST($1 AS TEXT) IS NULL OR org_id = $1)
                     ORDER BY collected_at_ms DESC, id DESC LIMIT 1"
                ),
                &values![org_id],
            )?,
            Selector::Id(id) => self.query_snapshot(
                &format!(
                    "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE id = $2 AND (CAST($1 AS TEXT) IS NULL OR org_id = $1)"
                ),
                &values![org_id, *id],
            )?,
            Selector::AtOrBefore { until_ms, .. } => self.query_snapshot(
                &format!(
                    "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE (CAST($1 AS TEXT) IS NULL OR org_id = $1) AND collected_at_ms <= $2
                     ORDER BY collected_at_ms DESC, id DESC LIMIT 1"
                ),
                &values![org_id, *until_ms],
            )?,
        };
        match found {
            Some(info) => Ok(info),
            None if selector == &Selector::Latest => Err(StoreError::NoSnapshots {
                store: self.location.clone(),
                org_id: org_id.map(str::to_owned),
            }),
            None => Err(StoreError::SnapshotNotFound { selector: selector.describe(org_id) }),
        }
    }

    /// The two snapshots `sfconn history diff` compares. `to` defaults to the latest snapshot
    /// (of `org_id` when given), `from` to the one of the same org collected just before `to`.
    /// Both must belong to the same org.
    pub fn resolve_pair(
        &self,
        from: Option<&Selector>,
        to: Option<&Selector>,
        org_id: Option<&str>,
    ) -> Result<(SnapshotInfo, SnapshotInfo), StoreError> {
        let to = self.resolve(to.unwrap_or(&Selector::Latest), org_id)?;
        let from = match from {
            Some(selector) => self.resolve(selector, org_id)?,
            None => self
                .query_snapshot(
                    &format!(
                        "SELECT {SNAPSHOT_COLUMNS} FROM snapshots
                         WHERE org_id = $1 AND (collected_at_ms < $2 OR (collected_at_ms = $2 AND id < $3))
                         ORDER BY collected_at_ms DESC, id DESC LIMIT 1"
                    ),
                    &values![&to.org_id, to.collected_at_ms, to.id.0],
                )?
                .ok_or_else(|| StoreError::NothingToCompare { only: to.id.0, org_id: to.org_id.clone() })?,
        };
        if from.org_id != to.org_id {
            return Err(StoreError::DifferentOrgs {
                from: from.id.0,
                from_org: from.org_id,
                to: to.id.0,
                to_org: to.org_id,
            });
        }
        Ok((from, to))
    }

    fn query_snapshot(&self, sql: &str, params: &[Value]) -> Result<Option<SnapshotInfo>, StoreError> {
        self.db.row("finding a snapshot", sql, params, snapshot_info)
    }
}
