//! Migration 3 (issue 18: frozen users, feature licences, login activity): a store created at
//! schema version 2 migrates to 3 and still reads; what it held before reads back as unknown
//! (NULL), never as false or 0; new imports keep every new field.

use crate::common;
use crate::report_classes::LABS;

use common::*;
use sfconn_store::{ReportOptions, SnapshotId, Store, latest_version};

/// A database as schema version 2 left it, with one snapshot of one user.
fn v2_store(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(include_str!("../fixtures/schema-v1.sql")).unwrap();
    conn.execute_batch(V1_DATA).unwrap();
    conn.execute_batch(sfconn_store::MIGRATIONS[1]).unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
}

/// (username, frozen, feature_licences, logins_in_window, last_login_application, last_login_type)
type UserRow = (String, Option<i64>, Option<String>, Option<i64>, Option<String>, Option<String>);

fn users(db: &std::path::Path, snapshot: i64) -> Vec<UserRow> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT username, frozen, feature_licences, logins_in_window, last_login_application, last_login_type
             FROM users WHERE snapshot_id = ?1 ORDER BY id",
        )
        .unwrap();
    statement
        .query_map([snapshot], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// (state, days, path, rows, feature_licences_listed) of a snapshot row.
type SnapshotRow = (Option<String>, Option<i64>, Option<String>, Option<i64>, Option<i64>);

fn snapshot_row(db: &std::path::Path, id: i64) -> SnapshotRow {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT login_activity_state, login_activity_days, login_activity_path, login_activity_rows,
                feature_licences_listed FROM snapshots WHERE id = ?1",
        [id],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
    )
    .unwrap()
}

#[test]
fn schema_3_only_adds() {
    assert!(latest_version() >= 3);
    let sql = sfconn_store::MIGRATIONS[2];
    // Forward only: columns and a table are added, nothing is dropped, renamed or rewritten.
    for word in ["DROP ", "RENAME ", "UPDATE ", "DELETE FROM", "INSERT "] {
        assert!(!sql.contains(word), "{word} in migration 3");
    }
    for column in
        ["frozen", "feature_licences", "logins_in_window", "last_login_application", "last_login_type"]
    {
        assert!(sql.contains(&format!("ALTER TABLE users ADD COLUMN {column} ")), "{column}");
    }
    assert!(sql.contains("CREATE TABLE feature_licences ("));
}

#[test]
fn a_schema_2_store_migrates_to_3_and_its_old_snapshots_read_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    v2_store(&db);

    let mut store = Store::open_existing(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    assert_eq!(users(&db, 1), [("dave@old.example".to_owned(), None, None, None, None, None)]);
    assert_eq!(snapshot_row(&db, 1), (None, None, None, None, None));
    let old = snapshot(&store, 1);
    let report = store.report(&old, &ReportOptions::default()).unwrap();
    assert_eq!(report.reclaim_candidates.len(), 1, "last login 2024-01-01, 152 days before");
    assert_eq!(report.login_activity.state, "unknown");
    let computed: Vec<(&str, bool)> = report.classes.iter().map(|c| (c.class.as_str(), c.computed)).collect();
    assert_eq!(
        computed,
        [
            ("frozen", false),
            ("never_logged_in", true),
            ("inactive", true),
            ("low_activity", false),
            ("unused_assignment", false)
        ]
    );
    assert_eq!(report.subscriptions[0].frozen_seats, None, "unknown, not 0");
    assert!(report.feature_licences.is_none());

    // A snapshot file imported now keeps every new field.
    let file = dir.path().join("labs.json");
    std::fs::write(&file, LABS).unwrap();
    assert_eq!(store.import_file(&file).unwrap(), SnapshotId(2));
    let labs = users(&db, 2);
    assert_eq!(labs.len(), 12);
    assert_eq!(
        labs[0],
        (
            "ann@acmelabs.example".to_owned(),
            Some(1),
            Some("[\"MarketingUser\"]".to_owned()),
            Some(12),
            Some("Browser".to_owned()),
            Some("Application".to_owned())
        )
    );
    assert_eq!(labs[2].1, Some(0), "cat is not frozen: 0, not NULL");
    assert_eq!(labs[2].2.as_deref(), Some("[]"));
    assert_eq!(
        snapshot_row(&db, 2),
        (Some("collected".into()), Some(30), Some("bulk".into()), Some(55), Some(1))
    );
    assert_eq!(count(&db, "feature_licences", Some(2)), 3);

    // The Acme weeks carry none of it: not collected, frozen and feature licences unknown.
    store.insert_snapshot_json(WEEK_1.as_bytes()).unwrap();
    assert_eq!(snapshot_row(&db, 3), (Some("not_collected".into()), None, None, None, Some(0)));
    assert!(users(&db, 3).iter().all(|u| u.1.is_none() && u.2.is_none() && u.3.is_none()));
}
