//! Test snapshots of one org ("Acme Corp") a week apart, as `sfconn collect -f json` writes them,
//! and helpers to store them. What changes between them is listed in `tests/fixtures/README.md`.

use std::path::Path;

use serde_json::Value;
use sfconn_store::{SnapshotInfo, Store};

pub const WEEK_1: &str = include_str!("../fixtures/acme-2024-06-01.json");
pub const WEEK_2: &str = include_str!("../fixtures/acme-2024-06-08.json");
pub const WEEK_3: &str = include_str!("../fixtures/acme-2024-06-15.json");
pub const WEEKS: [&str; 3] = [WEEK_1, WEEK_2, WEEK_3];

pub fn value(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap()
}

pub fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// A new store in `dir` holding the three weeks, in order (ids 1, 2, 3).
pub fn store_with_weeks(dir: &Path) -> Store {
    let mut store = Store::open(&dir.join("history.db")).unwrap();
    for week in WEEKS {
        store.insert_snapshot_json(week.as_bytes()).unwrap();
    }
    store
}

/// What `write` writes, as text.
pub fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    String::from_utf8(out).unwrap()
}

/// The report as `-f table`, `-f json` and `-f csv` (default cells) write it.
pub fn rendered(report: &sfconn_store::Report) -> (String, String, String) {
    (
        text(|o| report.write_table(o).unwrap()),
        text(|o| report.write_json(o).unwrap()),
        text(|o| report.write_csv(o, sfconn_store::CsvCells::default()).unwrap()),
    )
}

/// The report's HTML page (as `report -f html` writes it, version `0.0.0-test`) cut to the
/// `<section id="ID">` element.
pub fn html_section(store: &Store, report: &sfconn_store::Report, id: &str) -> String {
    let context = store.report_context(report).unwrap();
    let options = sfconn_store::HtmlOptions { sfconn_version: "0.0.0-test" };
    let html = text(|o| report.write_html(&context, options, o).unwrap());
    let start = html.find(&format!("<section id=\"{id}\">")).unwrap();
    let section = &html[start..];
    section[..section.find("</section>").unwrap() + "</section>".len()].to_owned()
}

/// A store in `dir/history.db` holding the snapshot `doc` as snapshot 1.
pub fn store_of(dir: &Path, doc: &str) -> Store {
    let mut store = Store::open(&dir.join("history.db")).unwrap();
    store.insert_snapshot_json(doc.as_bytes()).unwrap();
    store
}

pub fn snapshot(store: &Store, id: i64) -> SnapshotInfo {
    store.resolve(&sfconn_store::Selector::Id(id), None).unwrap()
}

pub use sfconn_testkit::assert_valid_snapshot as assert_valid;

/// Counts rows of a table for one snapshot id (or all rows with `None`).
pub fn count(db: &Path, table: &str, snapshot_id: Option<i64>) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    match snapshot_id {
        Some(id) => conn
            .query_row(&format!("SELECT COUNT(*) FROM {table} WHERE snapshot_id = ?1"), [id], |row| {
                row.get(0)
            })
            .unwrap(),
        None => conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get(0)).unwrap(),
    }
}

/// Writes WEEK_1 with `users` users to `path` as a stream (the test holds one user at a time,
/// like the import): ids and usernames are made unique, the rest cycles through week 1's users.
/// Returns the number of licence assignments the file holds.
pub fn write_large_snapshot(path: &std::path::Path, users: usize) -> i64 {
    use std::io::Write;
    let mut week = value(WEEK_1);
    let base = week.as_object_mut().unwrap().remove("users").unwrap();
    let base = base.as_array().unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let header = serde_json::to_string(&week).unwrap();
    // The header object without its closing brace, then the users array.
    write!(out, "{},\"users\":[", header.strip_suffix('}').unwrap()).unwrap();
    let mut assignments = 0;
    for n in 0..users {
        let mut user = base[n % base.len()].clone();
        user["id"] = serde_json::json!(format!("005{n:015}"));
        user["username"] = serde_json::json!(format!("user{n}@acme.com"));
        let mut held = std::collections::BTreeSet::new();
        held.extend(user["user_license_id"].as_str().map(str::to_owned));
        for list in ["permission_set_license_ids", "package_license_ids"] {
            held.extend(user[list].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_owned()));
        }
        assignments += i64::try_from(held.len()).unwrap();
        if n > 0 {
            out.write_all(b",").unwrap();
        }
        serde_json::to_writer(&mut out, &user).unwrap();
    }
    out.write_all(b"]}").unwrap();
    out.flush().unwrap();
    assignments
}

/// Schema 1 and one snapshot of one user, as sfconn 0.1 left it.
pub const V1_DATA: &str =
    "INSERT INTO snapshots (id, org_id, org_name, edition, is_sandbox, instance_name, collected_at,
     collected_at_ms, imported_at, generator, login_url, instance_url, api_version, filter_all,
     company_names, users, subscriptions, summary_json, warnings_json)
 VALUES (1, '00D000000000009AAA', 'Old Org', NULL, 0, NULL, '2024-06-01T00:00:00Z', 1717200000000,
     '2024-06-01T00:00:00Z', 'sfconn 0.1.0', 'https://login.salesforce.com', 'https://old.my.salesforce.com',
     '58.0', 1, '[\"*\"]', 1, 1, '{}', '[]');
 INSERT INTO subscriptions VALUES (1, '100000000000001AAA', 'UserLicense', 'Salesforce', 'Salesforce', 'SFDC',
     'Active', 2, 1, 0, NULL);
 INSERT INTO users VALUES (1, '005000000000001AAA', 'dave@old.example', 'Dave@Acme.com', 'acme.com',
     'Dave Former', 1, 'Standard', 'internal', NULL, '2024-01-01T00:00:00Z', '2022-01-01T00:00:00Z');
 INSERT INTO user_licences VALUES (1, '005000000000001AAA', '100000000000001AAA', 'UserLicense');";
