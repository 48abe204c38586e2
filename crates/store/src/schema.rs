//! The database schema as a list of forward migrations, the same for both engines (written in
//! SQLite's words; `db::dialect::postgres_ddl` reads them for PostgreSQL). SQLite's
//! `PRAGMA user_version`, or PostgreSQL's `sfconn_schema` table, holds the number of migrations
//! applied; opening a store applies the missing ones, each in its own transaction (on
//! PostgreSQL under `pg_advisory_xact_lock`, so that many sfconn starting at once migrate once).
//!
//! Rule: a migration that has shipped is never edited. A change is a new entry at the end of
//! [`MIGRATIONS`] (the tests keep a frozen copy of migration 1 to catch an edit).

use rusqlite::Connection;

use crate::StoreError;
use crate::db::{Db, dialect, values};
use crate::store::Location;

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`.
pub const MIGRATIONS: &[&str] = &[MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4];

/// The schema version a store has once every migration ran.
pub fn latest_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Migration 1, the first schema. Date-times are stored as RFC 3339 UTC text with whole seconds
/// (`2024-01-15T10:30:00Z`), so text order is time order; a snapshot's `collected_at` is also
/// kept in Unix milliseconds, which orders the snapshots.
const MIGRATION_1: &str = r#"
CREATE TABLE snapshots (
    id               INTEGER PRIMARY KEY,
    org_id           TEXT    NOT NULL,
    org_name         TEXT    NOT NULL,
    edition          TEXT,
    is_sandbox       INTEGER NOT NULL,
    instance_name    TEXT,
    collected_at     TEXT    NOT NULL, -- as shown: whole seconds, milliseconds when there are some
    collected_at_ms  INTEGER NOT NULL, -- Unix milliseconds: orders snapshots, tells them apart
    imported_at      TEXT    NOT NULL,
    generator        TEXT    NOT NULL,
    login_url        TEXT    NOT NULL,
    instance_url     TEXT    NOT NULL,
    api_version      TEXT    NOT NULL,
    filter_all       INTEGER NOT NULL,
    company_names    TEXT    NOT NULL, -- JSON array
    users            INTEGER NOT NULL, -- users written to the snapshot
    subscriptions    INTEGER NOT NULL,
    summary_json     TEXT    NOT NULL, -- the snapshot's summary object, verbatim
    warnings_json    TEXT    NOT NULL, -- the snapshot's warnings array
    UNIQUE (org_id, collected_at_ms)
);

CREATE TABLE subscriptions (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('UserLicense', 'PermissionSetLicense', 'PackageLicense')),
    name        TEXT    NOT NULL,
    label       TEXT,
    key         TEXT,
    status      TEXT,
    total       INTEGER,
    used        INTEGER,
    unlimited   INTEGER NOT NULL,
    expires_at  TEXT,
    PRIMARY KEY (snapshot_id, id)
) WITHOUT ROWID;

CREATE TABLE profiles (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    user_type       TEXT,
    user_license_id TEXT,
    PRIMARY KEY (snapshot_id, id)
) WITHOUT ROWID;

CREATE TABLE users (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    username        TEXT    NOT NULL,
    email           TEXT,
    email_domain    TEXT,
    name            TEXT,
    active          INTEGER NOT NULL,
    user_type       TEXT,
    account_kind    TEXT    NOT NULL,
    profile_id      TEXT,
    last_login_at   TEXT,
    created_at      TEXT,
    PRIMARY KEY (snapshot_id, id)
) WITHOUT ROWID;

-- One row per licence a user holds: the user licence of the user's profile, each permission
-- set licence and each package licence.
CREATE TABLE user_licences (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL,
    source          TEXT    NOT NULL CHECK (source IN ('UserLicense', 'PermissionSetLicense', 'PackageLicense')),
    PRIMARY KEY (snapshot_id, user_id, subscription_id)
) WITHOUT ROWID;

CREATE INDEX user_licences_by_subscription ON user_licences (snapshot_id, subscription_id);
"#;

/// Migration 2: each user's `federation_id` (the snapshot's `users[].federation_id`, Salesforce's
/// `FederationIdentifier`), which the cross-org view (`sfconn report --all-orgs`) matches people
/// by. Users stored before this migration, and users without one, have NULL.
const MIGRATION_2: &str = r#"
ALTER TABLE users ADD COLUMN federation_id TEXT;
"#;

/// Migration 3 (issue 18): who holds a seat without using it. Per user: `frozen` (0/1),
/// `feature_licences` (a JSON array of names), `logins_in_window`, `last_login_application`
/// and `last_login_type`. Per snapshot: how login activity was collected
/// (`login_activity_state`: `collected`, `not_collected` or `unreadable`, with the window's
/// days, the path and the rows read when collected) and whether the organization's feature
/// licences were listed (`feature_licences_listed`), which go in their own table.
/// Everything stored before this migration is NULL: unknown, never false or 0.
const MIGRATION_3: &str = r#"
ALTER TABLE users ADD COLUMN frozen INTEGER;
ALTER TABLE users ADD COLUMN feature_licences TEXT; -- JSON array of names
ALTER TABLE users ADD COLUMN logins_in_window INTEGER;
ALTER TABLE users ADD COLUMN last_login_application TEXT;
ALTER TABLE users ADD COLUMN last_login_type TEXT;

ALTER TABLE snapshots ADD COLUMN login_activity_state TEXT
    CHECK (login_activity_state IN ('collected', 'not_collected', 'unreadable'));
ALTER TABLE snapshots ADD COLUMN login_activity_days INTEGER;
ALTER TABLE snapshots ADD COLUMN login_activity_path TEXT CHECK (login_activity_path IN ('rest', 'bulk'));
ALTER TABLE snapshots ADD COLUMN login_activity_rows INTEGER;
ALTER TABLE snapshots ADD COLUMN feature_licences_listed INTEGER;

-- The organization's feature licences (organization.feature_licences of the snapshot).
CREATE TABLE feature_licences (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    field       TEXT,
    label       TEXT,
    used        INTEGER NOT NULL,
    total       INTEGER,
    PRIMARY KEY (snapshot_id, name)
) WITHOUT ROWID;
"#;

/// Migration 4 (issue 19): per user, the permission set licences assigned to the user that none
/// of the user's permission sets uses (the snapshot's `users[].unused_permission_set_license_ids`,
/// a JSON array of `PermissionSetLicense` ids, `[]` when none). NULL when the snapshot did not
/// compute it (a source unreadable, or collected before sfconn read permission sets) and for
/// every user stored before this migration: unknown, never "none unused".
const MIGRATION_4: &str = r#"
ALTER TABLE users ADD COLUMN unused_permission_set_license_ids TEXT; -- JSON array of ids
"#;

/// Brings the database to the latest schema version, one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<i64, StoreError> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|source| StoreError::NotADatabase { path: path.to_path_buf(), source })?;
    let latest = latest_version();
    if current > latest {
        return Err(StoreError::NewerSchema {
            store: Location::File(path.to_path_buf()),
            found: current,
            supported: latest,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let apply = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Another sfconn may have migrated the store while this one waited for the lock.
            let now: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if now >= version {
                return tx.commit();
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        apply(conn).map_err(|source| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                StoreError::NotADatabase { path: path.to_path_buf(), source }
            }
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy { source }
            }
            _ => StoreError::Migration { version, source },
        })?;
    }
    Ok(latest)
}

/// Migration `version` as PostgreSQL runs it (the SQLite text of [`MIGRATIONS`] read by the
/// dialect), for a database administrator who applies the schema by hand, and for tests.
pub fn postgres_migration(version: i64) -> Option<String> {
    let index = usize::try_from(version.checked_sub(1)?).ok()?;
    MIGRATIONS.get(index).map(|sql| dialect::postgres_ddl(sql))
}

/// Brings a PostgreSQL store to the latest schema version, one transaction per migration, each
/// holding the migrations' advisory lock: a second sfconn waits, then finds the work done.
pub(crate) fn migrate_postgres(db: &Db, store: &Location) -> Result<i64, StoreError> {
    let latest = latest_version();
    let lock = format!("SELECT pg_advisory_xact_lock({})", dialect::PG_MIGRATION_LOCK);
    // Version 0 is the check alone (a store newer than this sfconn is refused untouched).
    for version in 0..=latest {
        let apply = || -> Result<(), StoreError> {
            let context = "reading the schema version";
            db.batch(context, "BEGIN")?;
            db.batch("waiting for the migration lock", &lock)?;
            // Created once; checked first, so that a role without CREATE can open a store.
            let exists =
                db.row(context, dialect::PG_SCHEMA_EXISTS, &[], |row| row.get::<bool>(0))?.unwrap_or(false);
            if !exists {
                db.batch(context, dialect::PG_SCHEMA_TABLE)?;
            }
            let current: i64 =
                db.row(context, dialect::PG_SCHEMA_VERSION, &[], |row| row.get(0))?.unwrap_or(0);
            if current > latest {
                return Err(StoreError::NewerSchema {
                    store: store.clone(),
                    found: current,
                    supported: latest,
                });
            }
            if current < version {
                let sql = postgres_migration(version).unwrap_or_default();
                let failed = |error: StoreError| match error {
                    StoreError::Postgres { source, .. } => StoreError::PgMigration { version, source },
                    other => other,
                };
                db.batch("migrating the schema", &sql).map_err(failed)?;
                db.execute(
                    "migrating the schema",
                    dialect::PG_SCHEMA_APPLIED,
                    &values![version, crate::timefmt::now()],
                )
                .map_err(failed)?;
            }
            db.batch("committing a migration", "COMMIT")
        };
        if let Err(error) = apply() {
            drop(db.batch("rolling back a migration", "ROLLBACK"));
            return Err(error);
        }
    }
    Ok(latest)
}
