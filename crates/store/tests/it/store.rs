//! Storing snapshots: one transaction each, refusing duplicates and bad documents, migrations,
//! WAL mode, and choosing snapshots.

#![allow(clippy::type_complexity)]

use crate::common;

use common::*;
use serde_json::json;
use sfconn_errors::{Classify, ErrorClass};
use sfconn_store::{MIGRATIONS, Selector, SnapshotId, Store, StoreError, latest_version};

#[test]
fn test_snapshots_are_valid_against_the_schema() {
    for week in WEEKS {
        assert_valid(&value(week));
    }
}

#[test]
fn stored_snapshots_are_listed_oldest_first_with_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let listed: Vec<_> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|s| (s.id.0, s.collected_at, s.users, s.subscriptions))
        .collect();
    assert_eq!(
        listed,
        vec![
            (1, "2024-06-01T08:00:00Z".to_owned(), 14, 14),
            (2, "2024-06-08T08:00:00Z".to_owned(), 14, 14),
            (3, "2024-06-15T08:00:00Z".to_owned(), 15, 14),
        ]
    );
    let first = &store.list().unwrap()[0];
    assert_eq!((first.org_id.as_str(), first.org_name.as_str()), ("00D000000000001AAA", "Acme Corp"));
    assert!(first.filter_all);
    assert_eq!(first.company_names, vec!["*"]);

    let db = dir.path().join("history.db");
    assert_eq!(count(&db, "users", Some(1)), 14);
    assert_eq!(count(&db, "subscriptions", Some(1)), 14);
    assert_eq!(count(&db, "profiles", Some(1)), 8);
    // week 1: 13 users hold a user licence (not the Automated Process user), 8 permission set
    // licence and 7 package licence assignments.
    assert_eq!(count(&db, "user_licences", Some(1)), 13 + 5 + 6);
}

#[test]
fn the_list_table_has_no_indent_and_says_so_when_nothing_is_stored() {
    let mut out = Vec::new();
    sfconn_store::SnapshotInfo::write_list_table(&[], &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "no snapshots stored\n");

    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let mut out = Vec::new();
    sfconn_store::SnapshotInfo::write_list_table(&store.list().unwrap(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("ID  ORG ID "), "{text}");
    assert_eq!(lines[3], " 3  00D000000000001AAA  Acme Corp  2024-06-15T08:00:00Z     15             14  *");
}

#[test]
fn the_store_survives_reopening_and_uses_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    drop(store_with_weeks(dir.path()));
    let db = dir.path().join("history.db");
    let store = Store::open_existing(&db).unwrap();
    assert_eq!(store.list().unwrap().len(), 3);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

/// The store holds names, emails and last logins: a new one is its owner's only, like the
/// snapshot files `sfconn collect` writes, and so are SQLite's `-wal` and `-shm` beside it.
#[cfg(unix)]
#[test]
fn a_new_store_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let mut store = Store::open(&db).unwrap();
    store.insert_snapshot_json(WEEK_1.as_bytes()).unwrap();
    let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("history.db"), 0o600);
    assert_eq!(mode("history.db-wal"), 0o600);
    assert_eq!(mode("history.db-shm"), 0o600);
    drop(store);
    assert_eq!(Store::open_existing(&db).unwrap().list().unwrap().len(), 1);
}

#[test]
fn the_same_snapshot_twice_is_refused_and_nothing_is_added() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_weeks(dir.path());
    let err = store.insert_snapshot_json(WEEK_2.as_bytes()).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyStored { id: 2, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "this snapshot (org 00D000000000001AAA, collected at 2024-06-08T08:00:00Z) is already stored as snapshot 2; nothing was imported"
    );
    assert_eq!(err.class(), ErrorClass::BadData);
    assert_eq!(store.list().unwrap().len(), 3);
    assert_eq!(count(&dir.path().join("history.db"), "users", None), 14 + 14 + 15);
}

/// Asserts that the store holds exactly the three weeks, consistently.
fn assert_only_the_three_weeks(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM snapshots ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, vec![1, 2, 3]);
    for table in ["users", "subscriptions", "profiles", "user_licences"] {
        let orphans: i64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE snapshot_id NOT IN (SELECT id FROM snapshots)"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0, "rows of a snapshot that was not stored in {table}");
    }
    assert_eq!(count(db, "users", None), 14 + 14 + 15);
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn snapshots_a_few_milliseconds_apart_are_two_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("history.db")).unwrap();
    let at = |time: &str| {
        let mut doc = value(WEEK_1);
        doc["collected_at"] = json!(time);
        bytes(&doc)
    };
    store.insert_snapshot_json(&at("2024-06-01T08:00:00.250Z")).unwrap();
    store.insert_snapshot_json(&at("2024-06-01T08:00:00Z")).unwrap();
    let err = store.insert_snapshot_json(&at("2024-06-01T10:00:00.25+02:00")).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyStored { id: 1, .. }), "{err:?}");
    let listed: Vec<(i64, String)> =
        store.list().unwrap().into_iter().map(|s| (s.id.0, s.collected_at)).collect();
    assert_eq!(listed, [(2, "2024-06-01T08:00:00Z".to_owned()), (1, "2024-06-01T08:00:00.250Z".to_owned())]);
    assert_eq!(store.resolve(&Selector::Latest, None).unwrap().id.0, 1);
}

#[test]
fn a_failure_after_rows_were_written_leaves_no_partial_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let mut store = store_with_weeks(dir.path());

    // A fourth week whose last user repeats the first one's id: the snapshot row, the
    // subscriptions, the profiles and 15 users are written before the insert fails.
    let mut broken = value(WEEK_3);
    broken["collected_at"] = json!("2024-06-22T08:00:00Z");
    let first_user = broken["users"][0].clone();
    broken["users"].as_array_mut().unwrap().push(first_user);
    let err = store.insert_snapshot_json(&bytes(&broken)).unwrap_err();
    assert_eq!(err.to_string(), "the snapshot lists the user 005000000000001AAA twice; nothing was imported");
    assert_only_the_three_weeks(&db);

    // Same, failing on a bad date-time in the last user.
    let mut broken = value(WEEK_3);
    broken["collected_at"] = json!("2024-06-22T08:00:00Z");
    let last = broken["users"].as_array().unwrap().len() - 1;
    broken["users"][last]["last_login_at"] = json!("2024-06-31T25:00:00Z");
    let err = store.insert_snapshot_json(&bytes(&broken)).unwrap_err();
    assert!(matches!(err, StoreError::InvalidTimestamp { field: "last_login_at", .. }), "{err:?}");
    assert_only_the_three_weeks(&db);

    // The store is still usable, and the next good snapshot gets the next id.
    let mut good = value(WEEK_3);
    good["collected_at"] = json!("2024-06-22T08:00:00Z");
    assert_eq!(store.insert_snapshot_json(&bytes(&good)).unwrap(), SnapshotId(4));
    drop(store);
    let store = Store::open_existing(&db).unwrap();
    assert_eq!(store.list().unwrap().len(), 4);
}

#[test]
fn a_fresh_store_reaches_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("new.db")).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    assert_eq!(latest_version(), i64::try_from(MIGRATIONS.len()).unwrap());
}

#[test]
fn migration_1_is_never_edited() {
    // A shipped migration must stay as it was: databases in the field ran it. Change the
    // schema with a new migration at the end of MIGRATIONS instead.
    assert_eq!(MIGRATIONS[0], include_str!("../fixtures/schema-v1.sql"));
}

#[test]
fn a_store_created_at_schema_version_1_migrates_forward_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    {
        // A database as the first released schema left it, with one snapshot in it.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(include_str!("../fixtures/schema-v1.sql")).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO snapshots (id, org_id, org_name, edition, is_sandbox, instance_name, collected_at,
                 collected_at_ms, imported_at, generator, login_url, instance_url, api_version, filter_all,
                 company_names, users, subscriptions, summary_json, warnings_json)
             VALUES (1, '00D000000000009AAA', 'Old Org', NULL, 0, NULL, '2023-01-01T00:00:00Z', 1672531200000,
                 '2023-01-01T00:00:00Z',
                 'sfconn 0.1.0', 'https://login.salesforce.com', 'https://old.my.salesforce.com', '58.0', 1, '[\"*\"]',
                 1, 1, '{}', '[]');
             INSERT INTO subscriptions VALUES (1, '100000000000001AAA', 'UserLicense', 'Salesforce', 'Salesforce', 'SFDC',
                 'Active', 2, 1, 0, NULL);
             INSERT INTO users VALUES (1, '005000000000001AAA', 'old@old.example', 'old@old.example', 'old.example',
                 'Old User', 1, 'Standard', 'internal', NULL, NULL, '2022-01-01T00:00:00Z');
             INSERT INTO user_licences VALUES (1, '005000000000001AAA', '100000000000001AAA', 'UserLicense');",
        )
        .unwrap();
    }
    let mut store = Store::open(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    let old = store.resolve(&Selector::Id(1), None).unwrap();
    assert_eq!((old.org_name.as_str(), old.users), ("Old Org", 1));
    let report = store.report(&old, &sfconn_store::ReportOptions::default()).unwrap();
    assert_eq!(report.reclaim_candidates.len(), 1, "the never-logged-in user holds a Salesforce licence");
    // New snapshots go in beside the old one.
    assert_eq!(store.insert_snapshot_json(WEEK_1.as_bytes()).unwrap(), SnapshotId(2));
}

#[test]
fn a_store_from_a_newer_sfconn_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("future.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE future (x INTEGER);").unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1).unwrap();
    }
    let err = Store::open(&db).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == latest_version() + 1), "{err:?}");
    assert!(err.to_string().ends_with("upgrade sfconn"), "{err}");
    assert_eq!(err.class(), ErrorClass::Configuration);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, latest_version() + 1);
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "this is not a database, just some notes that are long enough to fill a header")
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::BadData);
}

#[test]
fn reading_a_missing_store_does_not_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.db");
    let err = Store::open_existing(&path).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Configuration);
    assert!(!path.exists());
}

#[test]
fn documents_that_are_not_snapshots_are_refused_with_the_place_of_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("history.db")).unwrap();

    let mut wrong_version = value(WEEK_1);
    wrong_version["schema_version"] = json!("2");
    let err = store.insert_snapshot_json(&bytes(&wrong_version)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the snapshot has schema_version \"2\"; this sfconn reads schema_version \"1\""
    );

    let mut missing_field = value(WEEK_1);
    missing_field["users"][3].as_object_mut().unwrap().remove("active");
    let err = store.insert_snapshot_json(&bytes(&missing_field)).unwrap_err();
    insta::assert_snapshot!(err.to_string(), @"not a valid sfconn snapshot document (at users[3]): missing field `active` at line 1 column 6629; give a file written by `sfconn collect -f json`");

    let mut wrong_type = value(WEEK_1);
    wrong_type["subscriptions"][0]["total"] = json!("ten");
    let err = store.insert_snapshot_json(&bytes(&wrong_type)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("not a valid sfconn snapshot document (at subscriptions[0].total): invalid type"),
        "{err}"
    );

    let err = store.insert_snapshot_json(b"{\"schema_version\": \"1\"} trailing").unwrap_err();
    assert!(matches!(err, StoreError::InvalidSnapshot { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::BadData);

    let err = store.import_file(&dir.path().join("missing.json")).unwrap_err();
    assert!(err.to_string().starts_with("cannot read the snapshot file "), "{err}");
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn selectors_are_ids_or_dates() {
    assert_eq!(Selector::parse("3").unwrap(), Selector::Id(3));
    assert_eq!(
        Selector::parse("2024-06-08").unwrap(),
        Selector::AtOrBefore { until_ms: 1_717_891_199_999, given: "2024-06-08".into() }
    );
    let err = Selector::parse("last week").unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"last week\" is neither a snapshot id nor a date (YYYY-MM-DD or RFC 3339 date-time)"
    );
    assert_eq!(err.class(), ErrorClass::Usage);
}

#[test]
fn selectors_resolve_to_stored_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let id = |text: &str| store.resolve(&Selector::parse(text).unwrap(), None).map(|s| s.id.0);
    assert_eq!(store.resolve(&Selector::Latest, None).unwrap().id.0, 3);
    assert_eq!(id("2").unwrap(), 2);
    assert_eq!(id("2024-06-08").unwrap(), 2, "a date means up to the end of that day");
    assert_eq!(id("2024-06-07").unwrap(), 1);
    assert_eq!(id("2024-06-08T07:59:59Z").unwrap(), 1);
    assert_eq!(id("2030-01-01").unwrap(), 3);
    let err = id("2024-05-31").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no stored snapshot matches a snapshot collected at or before 2024-05-31: see `sfconn history list`"
    );
    assert_eq!(err.class(), ErrorClass::Usage);
    assert!(matches!(id("9").unwrap_err(), StoreError::SnapshotNotFound { .. }));
    assert!(matches!(
        store.resolve(&Selector::Latest, Some("00D000000000002AAA")).unwrap_err(),
        StoreError::NoSnapshots { .. }
    ));
}

#[test]
fn a_diff_compares_the_two_latest_snapshots_of_one_org_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_weeks(dir.path());
    let pair = |store: &Store, from: Option<&str>, to: Option<&str>, org: Option<&str>| {
        let from = from.map(|s| Selector::parse(s).unwrap());
        let to = to.map(|s| Selector::parse(s).unwrap());
        store.resolve_pair(from.as_ref(), to.as_ref(), org).map(|(a, b)| (a.id.0, b.id.0))
    };
    assert_eq!(pair(&store, None, None, None).unwrap(), (2, 3));
    assert_eq!(pair(&store, Some("1"), None, None).unwrap(), (1, 3));
    assert_eq!(pair(&store, None, Some("2024-06-08"), None).unwrap(), (1, 2));

    // A sandbox of another org, stored later: the defaults of each org stay apart.
    let mut sandbox = value(WEEK_1);
    sandbox["organization"]["id"] = json!("00D000000000002AAA");
    sandbox["organization"]["name"] = json!("Acme Corp (UAT)");
    sandbox["organization"]["is_sandbox"] = json!(true);
    sandbox["collected_at"] = json!("2024-06-20T08:00:00Z");
    assert_eq!(
        store.insert_snapshot(&sfconn_store::SnapshotDoc::from_json(&bytes(&sandbox)).unwrap()).unwrap().0,
        4
    );
    let err = pair(&store, None, None, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a diff needs two snapshots of the same org; the store holds only snapshot 4 for org 00D000000000002AAA"
    );
    assert_eq!(pair(&store, None, None, Some("00D000000000001AAA")).unwrap(), (2, 3));
    let err = pair(&store, Some("3"), Some("4"), None).unwrap_err();
    assert!(matches!(err, StoreError::DifferentOrgs { from: 3, to: 4, .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Usage);
}

#[test]
fn writers_at_once_on_a_new_store_all_get_their_snapshot_in() {
    // Three processes (here threads, each with its own connection) create, migrate and write
    // to the same new store at once: each waits for the others' locks.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let writers: Vec<_> = WEEKS
        .iter()
        .map(|week| {
            let db = db.clone();
            std::thread::spawn(move || {
                Store::open(&db).unwrap().insert_snapshot_json(week.as_bytes()).unwrap()
            })
        })
        .collect();
    let mut ids: Vec<i64> = writers.into_iter().map(|w| w.join().unwrap().0).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);
    assert_only_the_three_weeks(&db);
}

#[test]
fn a_large_snapshot_file_is_imported_with_every_user() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.json");
    let assignments = write_large_snapshot(&file, 50_000);
    let db = dir.path().join("history.db");
    let mut store = Store::open(&db).unwrap();
    assert_eq!(store.import_file(&file).unwrap(), SnapshotId(1));
    let info = snapshot(&store, 1);
    assert_eq!((info.users, info.subscriptions), (50_000, 14));
    assert_eq!(count(&db, "users", Some(1)), 50_000);
    assert_eq!(count(&db, "profiles", Some(1)), 8);
    assert_eq!(count(&db, "user_licences", Some(1)), assignments);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let last: String =
        conn.query_row("SELECT username FROM users ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(last, "user49999@acme.com");

    // The same file again: refused, nothing added.
    let err = store.import_file(&file).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyStored { id: 1, .. }), "{err:?}");
    assert_eq!(count(&db, "users", None), 50_000);
}

/// WEEK_1 with its keys in the given order (serde_json's map would sort them).
fn reordered(doc: &serde_json::Value, keys: &[&str]) -> Vec<u8> {
    let fields: Vec<String> = keys
        .iter()
        .map(|key| format!("{}:{}", json!(key), serde_json::to_string(&doc[*key]).unwrap()))
        .collect();
    format!("{{{}}}", fields.join(",")).into_bytes()
}

const USERS_FIRST: [&str; 11] = [
    "users",
    "subscriptions",
    "profiles",
    "summary",
    "warnings",
    "filter",
    "source",
    "generator",
    "collected_at",
    "organization",
    "schema_version",
];

#[test]
fn users_before_the_organization_are_stored_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let mut store = Store::open(&db).unwrap();
    let doc = value(WEEK_1);
    let file = dir.path().join("users-first.json");
    std::fs::write(&file, reordered(&doc, &USERS_FIRST)).unwrap();
    assert_eq!(store.import_file(&file).unwrap(), SnapshotId(1));
    let info = snapshot(&store, 1);
    assert_eq!((info.org_name.as_str(), info.users, info.subscriptions), ("Acme Corp", 14, 14));
    assert_eq!(info.collected_at, "2024-06-01T08:00:00Z");
    assert_eq!(count(&db, "user_licences", Some(1)), 13 + 5 + 6);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let orphans: i64 =
        conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(orphans, 0);

    // Known only at the end of the document, the same snapshot is still refused as a whole.
    let err = store.import_file(&file).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyStored { id: 1, .. }), "{err:?}");
    assert_eq!(count(&db, "users", None), 14);

    // A missing part after the users: nothing is stored, and the message names the part.
    let mut keys = USERS_FIRST.to_vec();
    keys.retain(|key| *key != "organization");
    let mut other = doc.clone();
    other["collected_at"] = json!("2024-06-02T08:00:00Z");
    let err = store.insert_snapshot_json(&reordered(&other, &keys)).unwrap_err();
    assert!(matches!(err, StoreError::InvalidSnapshot { .. }), "{err:?}");
    assert!(err.to_string().contains("missing field `organization`"), "{err}");
    assert_eq!(err.class(), ErrorClass::BadData);
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(count(&db, "users", None), 14);
}

#[test]
fn a_part_given_twice_or_a_file_that_cannot_be_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("history.db")).unwrap();
    let mut keys = USERS_FIRST.to_vec();
    keys.push("users");
    let err = store.insert_snapshot_json(&reordered(&value(WEEK_1), &keys)).unwrap_err();
    assert!(err.to_string().contains("duplicate field `users`"), "{err}");
    assert!(store.list().unwrap().is_empty());

    // A directory opens but cannot be read: that is the file's problem, not the document's.
    let err = store.import_file(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::ReadSnapshotFile { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::BadData);
}
