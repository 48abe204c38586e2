//! One behaviour suite, two stores: every test here is written once, as a function of an
//! [`Engine`], and run for SQLite and for PostgreSQL (a real server: `testkit::postgres`).
//! The outputs of `history list`, `history diff` and `report` (every format, and the
//! cross-org view) must be the same bytes on both.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use sfconn_errors::{Classify, ErrorClass};
use sfconn_store::{
    CsvCells, PgTarget, ReportOptions, Selector, SnapshotId, SnapshotInfo, Store, StoreError, Target,
    latest_version, postgres_migration,
};
use sfconn_testkit::postgres::{Cluster, PASSWORD, ROLE};

use crate::common::*;

const EU: &str = include_str!("../fixtures/acme-eu-2024-06-14.json");
const APAC: &str = include_str!("../fixtures/acme-apac-2024-06-13.json");
/// Frozen users, feature licences and login activity (schema 3).
const LABS: &str = include_str!("../fixtures/acme-labs-2024-06-20.json");
/// Unused permission set licence assignments (schema 4).
use crate::unused_assignments::PSL;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A new, empty store of one engine: an SQLite file in a temporary directory, or a fresh
/// database on the shared test server.
pub struct Fixture {
    pub engine: Engine,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database's name.
    pub database: Option<String>,
}

impl Fixture {
    pub fn new(engine: Engine) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let database = (engine == Engine::Postgres).then(|| Cluster::shared().database());
        Fixture { engine, dir, database }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("history.db")
    }

    pub fn url(&self) -> String {
        Cluster::shared().url(self.database.as_deref().unwrap())
    }

    pub fn target(&self) -> Target {
        match self.engine {
            Engine::Sqlite => Target::Sqlite(self.db_path()),
            Engine::Postgres => Target::Postgres(PgTarget::new(&SecretString::from(self.url())).unwrap()),
        }
    }

    pub fn open(&self) -> Store {
        Store::open_target(&self.target()).unwrap()
    }

    /// Runs one SQL statement that returns one integer, outside the store.
    pub fn scalar(&self, sql: &str) -> i64 {
        match self.engine {
            Engine::Sqlite => {
                let conn = rusqlite::Connection::open(self.db_path()).unwrap();
                conn.query_row(sql, [], |row| row.get(0)).unwrap()
            }
            Engine::Postgres => {
                Cluster::shared().psql(self.database.as_deref().unwrap(), sql).unwrap().parse().unwrap()
            }
        }
    }

    /// Runs SQL statements outside the store, as its owner would.
    pub fn sql(&self, sql: &str) {
        match self.engine {
            Engine::Sqlite => rusqlite::Connection::open(self.db_path()).unwrap().execute_batch(sql).unwrap(),
            Engine::Postgres => {
                // As the store's role, which owns the database and so what it creates.
                let sql = format!("SET ROLE {ROLE}; {sql}");
                Cluster::shared().psql(self.database.as_deref().unwrap(), &sql).unwrap();
            }
        }
    }

    /// Sets the schema version as a store would have it.
    pub fn set_schema_version(&self, version: i64) {
        match self.engine {
            Engine::Sqlite => rusqlite::Connection::open(self.db_path())
                .unwrap()
                .pragma_update(None, "user_version", version)
                .unwrap(),
            Engine::Postgres => self.sql(&format!(
                "CREATE TABLE IF NOT EXISTS sfconn_schema (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL);
                 INSERT INTO sfconn_schema VALUES ({version}, 'now')"
            )),
        }
    }
}

/// Runs a behaviour once per engine: `mod name { fn sqlite(); fn postgres(); }`.
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Engine::Sqlite);
            }
            #[test]
            fn postgres() {
                super::$name(super::Engine::Postgres);
            }
        }
    )*};
}

both_engines!(
    known_snapshots_are_listed_resolved_diffed_and_reported,
    the_same_snapshot_twice_is_refused_and_nothing_is_added,
    a_record_listed_twice_is_refused_naming_it_and_nothing_is_stored,
    a_schema_1_store_migrates_forward_and_keeps_its_data,
    a_store_of_a_newer_sfconn_is_refused_untouched,
    sixteen_writers_at_once_all_get_their_snapshot_in_and_migrate_once,
    the_store_works_from_inside_a_tokio_runtime,
    a_large_snapshot_streams_in_with_every_user,
    unused_assignments_have_the_known_answers,
);

/// Every output of the store for the known snapshots (three weeks of Acme, then three other
/// orgs, one with frozen users, feature licences and login activity, the last with unused
/// permission set licence assignments), as bytes: what the CLI prints for list, diff and report.
fn outputs(store: &Store) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut put = |name: &str, write: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = Vec::new();
        write(&mut bytes);
        out.push((name.to_owned(), bytes));
    };
    let list = store.list().unwrap();
    put("list table", &|o| SnapshotInfo::write_list_table(&list, o).unwrap());
    put("list json", &|o| serde_json::to_writer_pretty(o, &list).unwrap());
    let (from, to) = store.resolve_pair(None, None, Some("00D000000000001AAA")).unwrap();
    let diff = store.diff(&from, &to).unwrap();
    put("diff table", &|o| diff.write_table(o).unwrap());
    put("diff json", &|o| diff.write_json(o).unwrap());
    let old = store.diff(&snapshot(store, 1), &snapshot(store, 2)).unwrap();
    put("diff 1-2 json", &|o| old.write_json(o).unwrap());
    for id in 1..=7 {
        let report = store.report(&snapshot(store, id), &ReportOptions::default()).unwrap();
        put(&format!("report {id} table"), &|o| report.write_table(o).unwrap());
        put(&format!("report {id} json"), &|o| report.write_json(o).unwrap());
        put(&format!("report {id} csv"), &|o| report.write_csv(o, CsvCells::Neutralised).unwrap());
        let context = store.report_context(&report).unwrap();
        let html_options = sfconn_store::HtmlOptions { sfconn_version: "test" };
        put(&format!("report {id} html"), &|o| report.write_html(&context, html_options, o).unwrap());
    }
    let cross = store.cross_org_report(&ReportOptions::default()).unwrap();
    put("all-orgs table", &|o| cross.write_table(o).unwrap());
    put("all-orgs json", &|o| cross.write_json(o).unwrap());
    put("all-orgs csv", &|o| cross.write_csv(o, CsvCells::Neutralised).unwrap());
    let dated = store.resolve(&Selector::parse("2024-06-09").unwrap(), None).unwrap();
    put("resolve by date", &|o| serde_json::to_writer(o, &dated).unwrap());
    out
}

fn fill(store: &mut Store) {
    for (n, doc) in WEEKS.iter().chain([&EU, &APAC, &LABS, &PSL]).enumerate() {
        let id = store.insert_snapshot_json(doc.as_bytes()).unwrap();
        assert_eq!(id, SnapshotId(i64::try_from(n).unwrap() + 1));
    }
}

fn known_snapshots_are_listed_resolved_diffed_and_reported(engine: Engine) {
    let fixture = Fixture::new(engine);
    let mut store = fixture.open();
    fill(&mut store);
    let got = outputs(&store);
    // The SQLite store is the reference: the PostgreSQL one must say exactly the same.
    let reference = Fixture::new(Engine::Sqlite);
    let mut reference_store = reference.open();
    fill(&mut reference_store);
    for ((name, got), (_, want)) in got.iter().zip(outputs(&reference_store)) {
        assert_eq!(String::from_utf8_lossy(got), String::from_utf8_lossy(&want), "{engine:?}: {name}");
    }
    let mut ids: Vec<i64> = store.list().unwrap().iter().map(|s| s.id.0).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(store.latest_per_org().unwrap().len(), 5);
    // The new classes are there to compare, on both engines.
    let labs = store.report(&snapshot(&store, 6), &ReportOptions::default()).unwrap();
    let classes: Vec<Option<i64>> = labs.classes.iter().map(|c| c.candidates).collect();
    assert_eq!(classes, [Some(2), Some(1), Some(1), Some(2), None], "{engine:?}");
    assert_eq!(labs.login_activity.distribution.iter().map(|b| b.users).sum::<i64>(), 10);
    assert_eq!(labs.feature_licences.as_ref().map(Vec::len), Some(3));
    let cross = store.cross_org_report(&ReportOptions::default()).unwrap();
    assert!(!cross.duplicates.is_empty(), "the fixtures share people across orgs");
    assert_eq!(store.schema_version().unwrap(), latest_version());
}

fn the_same_snapshot_twice_is_refused_and_nothing_is_added(engine: Engine) {
    let fixture = Fixture::new(engine);
    let mut store = fixture.open();
    store.insert_snapshot_json(WEEK_1.as_bytes()).unwrap();
    let users = fixture.scalar("SELECT COUNT(*) FROM users");
    let err = store.insert_snapshot_json(WEEK_1.as_bytes()).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyStored { id: 1, .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::BadData);
    assert_eq!(fixture.scalar("SELECT COUNT(*) FROM snapshots"), 1);
    assert_eq!(fixture.scalar("SELECT COUNT(*) FROM users"), users);
    // The next snapshot still gets the next id.
    assert_eq!(store.insert_snapshot_json(WEEK_2.as_bytes()).unwrap(), SnapshotId(2));
}

fn a_record_listed_twice_is_refused_naming_it_and_nothing_is_stored(engine: Engine) {
    let fixture = Fixture::new(engine);
    let mut store = fixture.open();
    let mut doc = value(WEEK_1);
    let users = doc["users"].as_array_mut().unwrap();
    let twice = users[3].clone();
    let id = twice["id"].as_str().unwrap().to_owned();
    users.push(twice);
    let err = store.insert_snapshot_json(&bytes(&doc)).unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateRecord { what: "user", id: got } if *got == id),
        "{engine:?}: {err:?}"
    );
    let mut doc = value(WEEK_1);
    let subscriptions = doc["subscriptions"].as_array_mut().unwrap();
    subscriptions.push(subscriptions[0].clone());
    let err = store.insert_snapshot_json(&bytes(&doc)).unwrap_err();
    assert!(matches!(&err, StoreError::DuplicateRecord { what: "subscription", .. }), "{err:?}");
    for table in ["snapshots", "users", "user_licences", "subscriptions", "profiles"] {
        assert_eq!(fixture.scalar(&format!("SELECT COUNT(*) FROM {table}")), 0, "{table}");
    }
    assert_eq!(store.insert_snapshot_json(WEEK_1.as_bytes()).unwrap(), SnapshotId(1));
}

fn a_schema_1_store_migrates_forward_and_keeps_its_data(engine: Engine) {
    let fixture = Fixture::new(engine);
    match engine {
        Engine::Sqlite => fixture.sql(include_str!("../fixtures/schema-v1.sql")),
        Engine::Postgres => fixture.sql(&postgres_migration(1).unwrap()),
    }
    fixture.set_schema_version(1);
    fixture.sql(V1_DATA);
    let mut store = fixture.open();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    let old = snapshot(&store, 1);
    assert_eq!((old.org_name.as_str(), old.users), ("Old Org", 1));
    assert_eq!(fixture.scalar("SELECT COUNT(*) FROM users WHERE federation_id IS NULL"), 1);
    // Migration 3: what was stored before is unknown (NULL), not false or 0.
    assert_eq!(
        fixture.scalar(
            "SELECT COUNT(*) FROM users WHERE frozen IS NULL AND feature_licences IS NULL
             AND logins_in_window IS NULL AND last_login_application IS NULL AND last_login_type IS NULL"
        ),
        1
    );
    assert_eq!(
        fixture.scalar(
            "SELECT COUNT(*) FROM snapshots WHERE login_activity_state IS NULL AND feature_licences_listed IS NULL"
        ),
        1
    );
    assert_eq!(store.insert_snapshot_json(EU.as_bytes()).unwrap(), SnapshotId(2));
    assert!(fixture.scalar("SELECT COUNT(*) FROM users WHERE federation_id IS NOT NULL") > 0);
    let report = store.report(&old, &ReportOptions::default()).unwrap();
    assert_eq!(report.login_activity.state, "unknown");
    assert!(
        report.classes.iter().filter(|c| !c.computed).count() == 3,
        "frozen, low activity and unused assignments are unknown"
    );
    // Migration 4: not computed (NULL), not "nothing unused".
    assert_eq!(
        fixture.scalar(
            "SELECT COUNT(*) FROM users WHERE snapshot_id = 1 AND unused_permission_set_license_ids IS NULL"
        ),
        1
    );
    assert_eq!(store.insert_snapshot_json(LABS.as_bytes()).unwrap(), SnapshotId(3));
    assert_eq!(fixture.scalar("SELECT COUNT(*) FROM users WHERE snapshot_id = 3 AND frozen = 1"), 3);
    assert_eq!(fixture.scalar("SELECT SUM(logins_in_window) FROM users WHERE snapshot_id = 3"), 55);
    assert_eq!(
        fixture.scalar("SELECT COUNT(*) FROM feature_licences WHERE snapshot_id = 3 AND total IS NULL"),
        1
    );
    assert_eq!(fixture.scalar("SELECT login_activity_rows FROM snapshots WHERE id = 3"), 55);
}

fn a_store_of_a_newer_sfconn_is_refused_untouched(engine: Engine) {
    let fixture = Fixture::new(engine);
    drop(fixture.open());
    let newer = latest_version() + 1;
    fixture.set_schema_version(newer);
    let err = Store::open_target(&fixture.target()).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == newer), "{err:?}");
    assert!(err.to_string().ends_with("upgrade sfconn"), "{err}");
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    assert_eq!(err.class(), ErrorClass::Configuration);
    let version = match engine {
        Engine::Sqlite => fixture.scalar("PRAGMA user_version"),
        Engine::Postgres => fixture.scalar("SELECT MAX(version) FROM sfconn_schema"),
    };
    assert_eq!(version, newer);
}

fn sixteen_writers_at_once_all_get_their_snapshot_in_and_migrate_once(engine: Engine) {
    // Sixteen sfconn (here threads, each with its own connection) create, migrate and write to
    // the same new store at once, each a snapshot of another org.
    let fixture = Fixture::new(engine);
    let writers: Vec<_> = (0..16)
        .map(|n| {
            let mut doc = value(WEEK_1);
            doc["organization"]["id"] = serde_json::json!(format!("00D0000000000{n:02}AAA"));
            doc["organization"]["name"] = serde_json::json!(format!("Org {n:02}"));
            let target = fixture.target();
            std::thread::spawn(move || Store::open_target(&target)?.insert_snapshot_json(&bytes(&doc)))
        })
        .collect();
    let mut ids: Vec<i64> = writers.into_iter().map(|w| w.join().unwrap().unwrap().0).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=16).collect::<Vec<_>>());
    let store = fixture.open();
    assert_eq!(store.list().unwrap().len(), 16);
    assert_eq!(store.latest_per_org().unwrap().len(), 16);
    let users = fixture.scalar("SELECT COUNT(*) FROM users");
    assert_eq!(users, 16 * value(WEEK_1)["users"].as_array().unwrap().len() as i64);
    if engine == Engine::Postgres {
        // One row per migration: each ran once.
        assert_eq!(fixture.scalar("SELECT COUNT(*) FROM sfconn_schema"), latest_version());
    }
}

fn the_store_works_from_inside_a_tokio_runtime(engine: Engine) {
    // `collect --store` and the fleet call the store from async code, on either kind of runtime.
    let fixture = Fixture::new(engine);
    let multi = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let target = fixture.target();
    let id = multi.block_on(async move {
        tokio::spawn(async move {
            let mut store = Store::open_target(&target).unwrap();
            store.insert_snapshot_json(WEEK_1.as_bytes()).unwrap()
        })
        .await
        .unwrap()
    });
    assert_eq!(id, SnapshotId(1));
    let current = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let target = fixture.target();
    let listed = current.block_on(async move {
        let mut store = Store::open_target(&target).unwrap();
        store.insert_snapshot_json(WEEK_2.as_bytes()).unwrap();
        let report = store.report(&snapshot(&store, 2), &ReportOptions::default()).unwrap();
        assert!(!report.subscriptions.is_empty());
        store.list().unwrap().len()
    });
    assert_eq!(listed, 2);
}

fn a_large_snapshot_streams_in_with_every_user(engine: Engine) {
    let fixture = Fixture::new(engine);
    let file = fixture.dir.path().join("large.json");
    let assignments = write_large_snapshot(&file, 20_000);
    let mut store = fixture.open();
    assert_eq!(store.import_file(&file).unwrap(), SnapshotId(1));
    assert_eq!(fixture.scalar("SELECT COUNT(*) FROM users"), 20_000);
    assert_eq!(fixture.scalar("SELECT COUNT(*) FROM user_licences"), assignments);
    let report = store.report(&snapshot(&store, 1), &ReportOptions::default()).unwrap();
    assert!(!report.reclaim_candidates.is_empty());
}

// PostgreSQL only: what SQLite has no counterpart for (a server, a login, a connection).

fn unused_assignments_have_the_known_answers(engine: Engine) {
    let fixture = Fixture::new(engine);
    let mut store = fixture.open();
    store.insert_snapshot_json(LABS.as_bytes()).unwrap();
    assert_eq!(store.insert_snapshot_json(PSL.as_bytes()).unwrap(), SnapshotId(2));
    crate::unused_assignments::assert_known_answers(&store, 2);
    // `[]` (computed, nothing unused) and NULL (not computed) stay apart.
    let stored =
        |sql: &str| fixture.scalar(&format!("SELECT COUNT(*) FROM users WHERE snapshot_id = 2 AND {sql}"));
    assert_eq!(stored("unused_permission_set_license_ids = '[]'"), 4);
    assert_eq!(stored("unused_permission_set_license_ids IS NULL"), 2);
    assert_eq!(
        fixture.scalar(
            "SELECT COUNT(*) FROM users WHERE snapshot_id = 1 AND unused_permission_set_license_ids IS NULL"
        ),
        12
    );
}

fn pg_target(url: &str) -> PgTarget {
    PgTarget::new(&SecretString::from(url.to_owned())).unwrap()
}

#[test]
fn postgres_a_connection_dropped_mid_import_is_temporary_and_stores_nothing() {
    let fixture = Fixture::new(Engine::Postgres);
    let database = fixture.database.clone().unwrap();
    let file = fixture.dir.path().join("large.json");
    write_large_snapshot(&file, 150_000);
    let mut store = fixture.open();
    let importer = std::thread::spawn(move || store.import_file(&file));
    // Wait until the import holds its write lock (its rows are being written), then end its
    // backend from a second connection.
    let cluster = Cluster::shared();
    let holder = format!(
        "FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE d.datname = '{database}' AND l.mode = 'ShareRowExclusiveLock' AND l.granted"
    );
    let started = std::time::Instant::now();
    while cluster.psql("postgres", &format!("SELECT COUNT(*) {holder}")).unwrap() == "0" {
        assert!(
            !importer.is_finished() && started.elapsed().as_secs() < 60,
            "the import never took its lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Well into its users (150,000 take seconds).
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!importer.is_finished(), "the import is still running");
    let terminated =
        cluster.psql("postgres", &format!("SELECT COUNT(pg_terminate_backend(l.pid)) {holder}")).unwrap();
    assert_eq!(terminated, "1", "the import was caught while it ran");
    let err = importer.join().unwrap().unwrap_err();
    assert!(matches!(err, StoreError::PgConnectionLost { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Temporary);
    assert!(err.to_string().contains("nothing of this snapshot was stored"), "{err}");
    assert!(err.to_string().contains("57P01"), "the SQLSTATE is kept: {err}");
    for table in ["snapshots", "users", "user_licences"] {
        assert_eq!(fixture.scalar(&format!("SELECT COUNT(*) FROM {table}")), 0, "{table}");
    }
    // The store is usable again at once.
    assert_eq!(fixture.open().insert_snapshot_json(WEEK_1.as_bytes()).unwrap(), SnapshotId(1));
}

#[test]
fn postgres_an_unreachable_server_is_unavailable() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://sfconn:{PASSWORD}@127.0.0.1:{port}/none?sslmode=disable");
    let err = Store::connect(&pg_target(&url)).unwrap_err();
    assert!(matches!(err, StoreError::PgUnreachable { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Unavailable);
    let message = err.to_string();
    assert!(!message.contains(PASSWORD), "{message}");
    assert!(message.contains(&format!("postgres://sfconn:***@127.0.0.1:{port}/none")), "{message}");
}

#[test]
fn postgres_a_refused_login_names_the_url_without_its_password() {
    let fixture = Fixture::new(Engine::Postgres);
    let database = fixture.database.as_deref().unwrap();
    let port = Cluster::shared().port();
    let url = format!("postgres://sfconn:not-the-Password-99@127.0.0.1:{port}/{database}?sslmode=disable");
    let err = Store::connect(&pg_target(&url)).unwrap_err();
    assert!(matches!(err, StoreError::PgAuth { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Configuration);
    let message = err.to_string();
    assert!(!message.contains("not-the-Password-99"), "{message}");
    assert!(message.contains("postgres://sfconn:***@127.0.0.1"), "{message}");
    assert!(message.contains("28P01"), "the SQLSTATE is kept: {message}");
    assert!(!format!("{err:?}").contains("not-the-Password-99"), "Debug shows no password");
}

#[test]
fn postgres_the_password_comes_from_the_url_a_password_or_a_passfile() {
    let fixture = Fixture::new(Engine::Postgres);
    let cluster = Cluster::shared();
    let database = fixture.database.as_deref().unwrap();
    let bare = cluster.url_without_password(database);
    // Without a password anywhere: refused.
    let err = Store::connect(&pg_target(&bare)).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Configuration, "{err}");
    // Given apart from the URL (store.password_file, PGPASSWORD).
    Store::connect(&pg_target(&bare).with_password(SecretString::from(PASSWORD))).unwrap();
    // From a pgpass file: the first matching line wins; a file others can read is ignored.
    let passfile = fixture.dir.path().join("pgpass");
    let port = cluster.port();
    std::fs::write(
        &passfile,
        format!(
            "# test\n127.0.0.1:{port}:other:sfconn:wrong\n127.0.0.1:{port}:{database}:sfconn:{PASSWORD}\n"
        ),
    )
    .unwrap();
    set_mode(&passfile, 0o600);
    Store::connect(&pg_target(&bare).with_passfile(passfile.clone())).unwrap();
    set_mode(&passfile, 0o644);
    assert!(Store::connect(&pg_target(&bare).with_passfile(passfile)).is_err());
    // A password in the URL wins over the others.
    Store::connect(&pg_target(&fixture.url()).with_password(SecretString::from("wrong"))).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn postgres_urls_are_checked_and_shown_without_their_password() {
    let target =
        pg_target("postgresql://u:s3cret@db.example:6432/history?sslmode=verify-full&application_name=x");
    assert_eq!(
        target.shown(),
        "postgresql://u:***@db.example:6432/history?sslmode=verify-full&application_name=x"
    );
    assert!(target.url_has_password());
    assert!(!format!("{target:?}").contains("s3cret"));
    for bad in ["postgres://u@h/db?sslmode=always", "mysql://u@h/db"] {
        let err = PgTarget::new(&SecretString::from(bad)).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Configuration, "{err}");
    }
    // verify-full needs a trusted root for the server's certificate; the test server has no
    // TLS, so sslmode=require cannot connect (and says so), disable and prefer can.
    let fixture = Fixture::new(Engine::Postgres);
    let url = fixture.url();
    for (mode, connects) in [("disable", true), ("prefer", true), ("require", false)] {
        let url = url.replace("sslmode=disable", &format!("sslmode={mode}"));
        let result = Store::connect(&pg_target(&url));
        assert_eq!(result.is_ok(), connects, "sslmode={mode}: {:?}", result.err());
        if let Err(err) = result {
            assert_eq!(err.class(), ErrorClass::Configuration, "{err}");
        }
    }
}

#[test]
fn postgres_sslmodes_check_the_certificate_as_libpq_does() {
    // A server of its own: TLS on, its certificate issued to `localhost` only, by a test CA.
    let cluster = Cluster::start_tls().unwrap();
    let database = cluster.database();
    let ca = cluster.ca_cert();
    let port = cluster.port();
    let connect = |host: &str, query: &str| {
        let url = format!("postgres://{ROLE}:{PASSWORD}@{host}:{port}/{database}?{query}");
        Store::connect(&pg_target(&url))
    };
    let ca = ca.display();
    // Encrypted, the certificate not checked.
    for query in ["sslmode=prefer", "sslmode=require"] {
        connect("127.0.0.1", query).unwrap_or_else(|err| panic!("{query}: {err}"));
    }
    // Checked against the CA: any name (verify-ca, or require with a root) ...
    for query in [format!("sslmode=verify-ca&sslrootcert={ca}"), format!("sslmode=require&sslrootcert={ca}")]
    {
        connect("127.0.0.1", &query).unwrap_or_else(|err| panic!("{query}: {err}"));
    }
    // ... and the name too (verify-full): localhost is in the certificate, 127.0.0.1 is not.
    connect("localhost", &format!("sslmode=verify-full&sslrootcert={ca}")).unwrap();
    let err = connect("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}")).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Configuration, "{err}");
    assert!(err.to_string().contains("TLS"), "{err}");
    // Another CA: refused by verify-ca.
    let other = Cluster::start_tls().unwrap();
    let err = connect("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={}", other.ca_cert().display()))
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Configuration, "{err}");
    // No TLS at all: the server still takes plain connections (pg_hba "host").
    connect("127.0.0.1", "sslmode=disable").unwrap();
}
