//! Migration 2 (`users.federation_id`): a store created at schema version 1 migrates to 2 and
//! still reads, its users have no federation id, and new imports keep theirs.

use crate::common;

use common::*;
use sfconn_store::{ReportOptions, Selector, SnapshotId, Store, latest_version};

const EU: &str = include_str!("../fixtures/acme-eu-2024-06-14.json");

/// A database as schema version 1 left it, with one snapshot of one user.
fn v1_store(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(include_str!("../fixtures/schema-v1.sql")).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute_batch(V1_DATA).unwrap();
}

fn federation_ids(db: &std::path::Path, snapshot: i64) -> Vec<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement =
        conn.prepare("SELECT username, federation_id FROM users WHERE snapshot_id = ?1 ORDER BY id").unwrap();
    statement
        .query_map([snapshot], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn schema_2_adds_the_federation_id() {
    assert!(latest_version() >= 2);
    assert_eq!(sfconn_store::MIGRATIONS[1].trim(), "ALTER TABLE users ADD COLUMN federation_id TEXT;");
}

#[test]
fn a_schema_1_store_migrates_to_the_latest_and_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    v1_store(&db);

    let mut store = Store::open_existing(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    // The old user is there, with no federation id; the single-org report reads as before.
    assert_eq!(federation_ids(&db, 1), [("dave@old.example".to_owned(), None)]);
    let old = store.resolve(&Selector::Id(1), None).unwrap();
    let report = store.report(&old, &ReportOptions::default()).unwrap();
    assert_eq!(report.reclaim_candidates.len(), 1, "last login 2024-01-01, 152 days before");

    // A new import keeps its federation ids.
    assert_eq!(store.insert_snapshot_json(EU.as_bytes()).unwrap(), SnapshotId(2));
    let eu = federation_ids(&db, 2);
    assert!(eu.contains(&("phuong.nguyen@acme.eu".to_owned(), Some("E1001".to_owned()))), "{eu:?}");
    assert!(eu.contains(&("alice@acme.eu".to_owned(), None)), "{eu:?}");

    // The cross-org view reads both: the old snapshot's user (no federation id) is matched by
    // email, ignoring case, and is the seat to reclaim.
    let view = store.cross_org_report(&ReportOptions::default()).unwrap();
    let orgs: Vec<&str> = view.orgs.iter().map(|o| o.snapshot.org_name.as_str()).collect();
    assert_eq!(orgs, ["Acme EU", "Old Org"]);
    assert_eq!(view.duplicates.len(), 1);
    let dave = &view.duplicates[0];
    assert_eq!(dave.key, "dave@acme.com");
    let accounts: Vec<(&str, bool)> =
        dave.accounts.iter().map(|a| (a.username.as_str(), a.reclaim_candidate)).collect();
    assert_eq!(accounts, [("dave@acme.eu", false), ("dave@old.example", true)]);
}

#[test]
fn snapshots_without_federation_ids_import_as_before() {
    // The week fixtures have no `federation_id` key at all (it is optional in the document).
    let dir = tempfile::tempdir().unwrap();
    let _store = store_with_weeks(dir.path());
    let db = dir.path().join("history.db");
    assert!(federation_ids(&db, 1).iter().all(|(_, id)| id.is_none()));
    assert_eq!(count(&db, "users", Some(1)), 14);
}
