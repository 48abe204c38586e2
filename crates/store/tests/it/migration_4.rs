//! Migration 4 (issue 19: unused permission set licence assignments): a store created at
//! schema version 3 migrates to 4 and still reads; its users read back as "not computed"
//! (NULL), never as "nothing unused"; new imports keep the list.

use crate::common;
use crate::report_classes::LABS;
use crate::unused_assignments::PSL;

use common::*;
use sfconn_store::{ReclaimClass, ReportOptions, SnapshotId, Store, latest_version};

/// A database as schema version 3 left it, with the Acme Labs snapshot (frozen users, login
/// activity) stored by that version.
fn v3_store(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(include_str!("../fixtures/schema-v1.sql")).unwrap();
    for migration in &sfconn_store::MIGRATIONS[1..3] {
        conn.execute_batch(migration).unwrap();
    }
    conn.pragma_update(None, "user_version", 3).unwrap();
}

/// (username, unused_permission_set_license_ids) of a snapshot's users.
fn unused(db: &std::path::Path, snapshot: i64) -> Vec<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare("SELECT username, unused_permission_set_license_ids FROM users WHERE snapshot_id = ?1 ORDER BY id")
        .unwrap();
    statement
        .query_map([snapshot], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn schema_4_is_the_latest_and_only_adds_a_column() {
    assert_eq!(latest_version(), 4);
    let sql = sfconn_store::MIGRATIONS[3];
    for word in ["DROP ", "RENAME ", "UPDATE ", "DELETE FROM", "INSERT ", "CREATE "] {
        assert!(!sql.contains(word), "{word} in migration 4");
    }
    assert!(sql.contains("ALTER TABLE users ADD COLUMN unused_permission_set_license_ids TEXT;"));
    // PostgreSQL runs the same words.
    let pg = sfconn_store::postgres_migration(4).unwrap();
    assert!(pg.contains("ALTER TABLE users ADD COLUMN unused_permission_set_license_ids TEXT"), "{pg}");
}

#[test]
fn a_schema_3_store_migrates_to_4_and_its_old_snapshots_read_as_not_computed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v3.db");
    v3_store(&db);
    // Acme Labs as sfconn with schema 3 stored it: through a store of that version is not
    // possible any more, so the rows are copied from a schema-4 import without the new column.
    {
        let scratch = dir.path().join("scratch.db");
        let mut store = Store::open(&scratch).unwrap();
        store.insert_snapshot_json(LABS.as_bytes()).unwrap();
        drop(store);
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("ATTACH DATABASE ?1 AS s", [scratch.to_str().unwrap()]).unwrap();
        conn.execute_batch(
            "INSERT INTO snapshots SELECT * FROM s.snapshots;
             INSERT INTO subscriptions SELECT * FROM s.subscriptions;
             INSERT INTO profiles SELECT * FROM s.profiles;
             INSERT INTO users SELECT snapshot_id, id, username, email, email_domain, name, active, user_type,
                 account_kind, profile_id, last_login_at, created_at, federation_id, frozen, feature_licences,
                 logins_in_window, last_login_application, last_login_type FROM s.users;
             INSERT INTO user_licences SELECT * FROM s.user_licences;
             INSERT INTO feature_licences SELECT * FROM s.feature_licences;",
        )
        .unwrap();
    }

    let mut store = Store::open_existing(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), 4);
    let old = unused(&db, 1);
    assert_eq!(old.len(), 12);
    assert!(old.iter().all(|(_, list)| list.is_none()), "{old:?}");
    let report = store.report(&snapshot(&store, 1), &ReportOptions::default()).unwrap();
    let computed: Vec<(&str, bool)> = report.classes.iter().map(|c| (c.class.as_str(), c.computed)).collect();
    assert_eq!(
        computed,
        [
            ("frozen", true),
            ("never_logged_in", true),
            ("inactive", true),
            ("low_activity", true),
            ("unused_assignment", false)
        ]
    );
    assert_eq!(report.reclaim_candidates.len(), 6, "the user-level classes as before");
    assert!(report.subscriptions.iter().all(|s| s.unused_assignment_seats.is_none()));

    // A snapshot file imported now keeps the list.
    let file = dir.path().join("psl.json");
    std::fs::write(&file, PSL).unwrap();
    assert_eq!(store.import_file(&file).unwrap(), SnapshotId(2));
    let psl = unused(&db, 2);
    assert_eq!(psl[0], ("ann@acmepsl.example".to_owned(), Some("[\"0PL000000000062AAA\"]".to_owned())));
    let report = store.report(&snapshot(&store, 2), &ReportOptions::default()).unwrap();
    let class = report.classes.iter().find(|c| c.class == ReclaimClass::UnusedAssignment).unwrap();
    assert_eq!((class.computed, class.candidates), (true, Some(4)));
}
