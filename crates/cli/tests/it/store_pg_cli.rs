//! The PostgreSQL store through the real binary (`--store-url`, `store.url`): the same stdout
//! as the SQLite store for the same snapshots, a writer killed mid-import, a newer schema, the
//! password's rules and `config check`'s redaction. The server is the test kit's
//! (`sfconn_testkit::postgres::Cluster`, a real PostgreSQL).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use sfconn_testkit::postgres::{Cluster, PASSWORD, ROLE};

use crate::common::Sandbox;

/// The store's fixtures: Acme Corp's three weeks, Acme EU, Acme APAC.
const SNAPSHOTS: [&str; 5] = crate::cross_org_cli::FIXTURES;

fn fixture(name: &str) -> PathBuf {
    crate::cross_org_cli::fixture(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A store as the command line names it.
enum Store {
    Sqlite(PathBuf),
    /// A fresh database's URL without the password (given by PGPASSWORD).
    Postgres(String),
}

impl Store {
    fn sqlite(sandbox: &Sandbox) -> Store {
        Store::Sqlite(sandbox.work().join("history.db"))
    }

    fn postgres() -> Store {
        let cluster = Cluster::shared();
        Store::Postgres(cluster.url_without_password(&cluster.database()))
    }

    fn run(&self, sandbox: &Sandbox, args: &[&str]) -> Output {
        let mut command = sandbox.sfconn();
        command.args(args);
        match self {
            Store::Sqlite(path) => command.arg("--store").arg(path),
            Store::Postgres(url) => command.args(["--store-url", url]).env("PGPASSWORD", PASSWORD),
        };
        command.output().unwrap()
    }

    fn ok(&self, sandbox: &Sandbox, args: &[&str]) -> String {
        let output = self.run(sandbox, args);
        assert!(
            output.status.success(),
            "sfconn {args:?} failed ({}): {}",
            output.status,
            text(&output.stderr)
        );
        text(&output.stdout)
    }
}

/// The commands whose stdout must be the same on both stores.
const COMMANDS: &[&[&str]] = &[
    &["history", "list"],
    &["history", "list", "-f", "json"],
    &["history", "diff"],
    &["history", "diff", "-f", "json", "--from", "1", "--to", "2"],
    &["history", "diff", "--org", "00D000000000001AAA"],
    &["report"],
    &["report", "-f", "json"],
    &["report", "-f", "csv"],
    &["report", "-f", "table", "--snapshot", "2"],
    &["report", "-f", "json", "--snapshot", "2024-06-09"],
    &["report", "--all-orgs"],
    &["report", "--all-orgs", "-f", "json"],
    &["report", "--all-orgs", "-f", "csv"],
];

#[test]
fn the_same_commands_print_the_same_on_sqlite_and_postgresql() {
    let sandbox = Sandbox::new();
    let stores = [Store::sqlite(&sandbox), Store::postgres()];
    for store in &stores {
        for (index, name) in SNAPSHOTS.iter().enumerate() {
            let out = store.ok(&sandbox, &["history", "import", fixture(name).to_str().unwrap()]);
            assert!(out.starts_with(&format!("{}\timported: org ", index + 1)), "{out}");
        }
    }
    for command in COMMANDS {
        let sqlite = stores[0].ok(&sandbox, command);
        let postgres = stores[1].ok(&sandbox, command);
        assert!(!sqlite.is_empty(), "{command:?}");
        assert_eq!(postgres, sqlite, "sfconn {command:?}");
    }
    // The same duplicate rule: exit 65 and the same message.
    let again =
        |store: &Store| store.run(&sandbox, &["history", "import", fixture(SNAPSHOTS[0]).to_str().unwrap()]);
    let (sqlite, postgres) = (again(&stores[0]), again(&stores[1]));
    assert_eq!(sqlite.status.code(), Some(65));
    assert_eq!(postgres.status.code(), Some(65));
    assert_eq!(text(&postgres.stderr), text(&sqlite.stderr));
}

#[test]
fn store_url_from_the_environment_or_a_file_with_the_password_in_it() {
    let sandbox = Sandbox::new();
    let cluster = Cluster::shared();
    let url = cluster.url(&cluster.database());
    let import = fixture(SNAPSHOTS[0]);
    let out = sandbox
        .sfconn()
        .args(["history", "import", import.to_str().unwrap()])
        .env("SFCONN_STORE__URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url_file = sandbox.work().join("store-url");
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let out = sandbox
        .sfconn()
        .args(["history", "list", "-f", "json"])
        .env("SFCONN_STORE__URL_FILE", &url_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"org_name\": \"Acme Corp\""), "{}", text(&out.stdout));
    for output in [&out.stdout, &out.stderr] {
        assert!(!text(output).contains(PASSWORD));
    }
}

#[test]
fn a_password_in_store_url_on_the_command_line_is_refused() {
    let sandbox = Sandbox::new();
    let url = format!("postgres://{ROLE}:{PASSWORD}@127.0.0.1:1/db");
    for args in [
        vec!["history", "list", "--store-url", &url],
        vec!["report", "--store-url", &url],
        vec!["history", "import", "x.json", "--store-url", &url],
    ] {
        let out = sandbox.sfconn().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(!stderr.contains(PASSWORD), "{stderr}");
        for needed in ["--store-url", "PGPASSWORD", "PGPASSFILE", "store.password_file", "store.url_file"] {
            assert!(stderr.contains(needed), "{needed}: {stderr}");
        }
    }
}

#[test]
fn an_unreachable_server_and_a_refused_login_exit_69_and_78() {
    let sandbox = Sandbox::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed = format!("postgres://{ROLE}@127.0.0.1:{port}/db?sslmode=disable");
    let out = sandbox.sfconn().args(["history", "list", "--store-url", &closed]).output().unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    let cluster = Cluster::shared();
    let url = cluster.url_without_password(&cluster.database());
    let out = sandbox
        .sfconn()
        .args(["history", "list", "--store-url", &url])
        .env("PGPASSWORD", "not-the-password-77")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("PostgreSQL refused the login") && stderr.contains(&url), "{stderr}");
    assert!(!stderr.contains("not-the-password-77"), "{stderr}");
}

#[test]
fn a_store_of_a_newer_sfconn_exits_78_on_both_stores() {
    let sandbox = Sandbox::new();
    let sqlite = Store::sqlite(&sandbox);
    let postgres = Store::postgres();
    for store in [&sqlite, &postgres] {
        store.ok(&sandbox, &["history", "import", fixture(SNAPSHOTS[0]).to_str().unwrap()]);
    }
    let Store::Sqlite(path) = &sqlite else { unreachable!() };
    rusqlite::Connection::open(path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let Store::Postgres(url) = &postgres else { unreachable!() };
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    Cluster::shared().psql(database, "INSERT INTO sfconn_schema VALUES (99, 'later')").unwrap();
    let codes: Vec<_> = [&sqlite, &postgres]
        .iter()
        .map(|store| {
            let out = store.run(&sandbox, &["history", "list"]);
            assert!(text(&out.stderr).contains("upgrade sfconn"), "{}", text(&out.stderr));
            out.status.code()
        })
        .collect();
    assert_eq!(codes, [Some(78), Some(78)], "configuration invalid, on both stores");
}

/// A snapshot of `users` users (week 1 of Acme, its users repeated with new ids), written as a
/// stream.
fn large_snapshot(path: &Path, users: usize) {
    let mut week: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(SNAPSHOTS[0])).unwrap()).unwrap();
    let base = week.as_object_mut().unwrap().remove("users").unwrap();
    let base = base.as_array().unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let header = serde_json::to_string(&week).unwrap();
    write!(out, "{},\"users\":[", header.strip_suffix('}').unwrap()).unwrap();
    for n in 0..users {
        let mut user = base[n % base.len()].clone();
        user["id"] = serde_json::json!(format!("005{n:015}"));
        user["username"] = serde_json::json!(format!("user{n}@acme.com"));
        if n > 0 {
            out.write_all(b",").unwrap();
        }
        serde_json::to_writer(&mut out, &user).unwrap();
    }
    out.write_all(b"]}").unwrap();
    out.flush().unwrap();
}

#[test]
fn a_writer_killed_mid_import_leaves_nothing_partial() {
    let sandbox = Sandbox::new();
    let big = sandbox.work().join("big.json");
    large_snapshot(&big, 300_000);
    let cluster = Cluster::shared();
    for store in [Store::sqlite(&sandbox), Store::postgres()] {
        let mut command = sandbox.sfconn();
        command.args(["history", "import", big.to_str().unwrap()]);
        match &store {
            Store::Sqlite(path) => command.arg("--store").arg(path),
            Store::Postgres(url) => command.args(["--store-url", url]).env("PGPASSWORD", PASSWORD),
        };
        let mut child = command.spawn().unwrap();
        // Wait until the import writes (PostgreSQL: it holds the store's write lock; SQLite:
        // its write-ahead log grows), then a little more, and kill it.
        let started = std::time::Instant::now();
        loop {
            let writing = match &store {
                Store::Sqlite(path) => {
                    std::fs::metadata(path.with_extension("db-wal")).is_ok_and(|m| m.len() > 1_000_000)
                }
                Store::Postgres(url) => {
                    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
                    cluster
                        .psql(
                            "postgres",
                            &format!(
                                "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                                 WHERE d.datname = '{database}' AND l.mode = 'ShareRowExclusiveLock' AND l.granted"
                            ),
                        )
                        .unwrap()
                        != "0"
                }
            };
            assert!(child.try_wait().unwrap().is_none(), "the import ended before it was killed");
            assert!(started.elapsed().as_secs() < 120, "the import never started writing");
            if writing {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(child.try_wait().unwrap().is_none(), "still importing when killed");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let listed = store.ok(&sandbox, &["history", "list", "-f", "json"]);
        assert_eq!(listed.trim(), "[]", "nothing of the killed import is visible");
        // The store takes the next import as if nothing happened.
        let out = store.ok(&sandbox, &["history", "import", fixture(SNAPSHOTS[0]).to_str().unwrap()]);
        assert!(out.starts_with("1\timported"), "{out}");
    }
}

#[test]
fn config_check_shows_the_store_url_without_its_password_and_where_the_password_comes_from() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "work/sfconn.toml",
        "[store]\nurl = \"postgres://sfconn:file-Secret-1@db.example:5432/history?sslmode=verify-full\"\n",
    );
    let check = |env: &[(&str, &str)]| {
        let mut command = sandbox.sfconn_with_credentials();
        command.args(["config", "check"]);
        for (name, value) in env {
            command.env(name, value);
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", sandbox.scrub(&text(&out.stderr)));
        let stdout = sandbox.scrub(&text(&out.stdout));
        for secret in ["file-Secret-1", "env-Secret-2"] {
            assert!(!stdout.contains(secret), "{stdout}");
        }
        stdout.lines().filter(|line| line.contains("store.")).collect::<Vec<_>>().join("\n")
    };
    let in_file = check(&[]);
    let from_env = check(&[
        ("SFCONN_STORE__URL", "postgresql://sfconn@db.example/history"),
        ("PGPASSWORD", "env-Secret-2"),
    ]);
    insta::assert_snapshot!(format!(
        "# password in the file's URL\n{in_file}\n# URL from the environment, password from PGPASSWORD\n{from_env}"
    ));
}

#[test]
fn store_url_wins_over_store_path_in_its_layer_and_loses_to_a_higher_one() {
    let sandbox = Sandbox::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    sandbox.write(
        "work/sfconn.toml",
        &format!("[store]\npath = \"h.db\"\nurl = \"postgres://u@127.0.0.1:{port}/h?sslmode=disable\"\n"),
    );
    // The URL wins in the file: a server that is not there (69).
    let out = sandbox.sfconn().args(["history", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("127.0.0.1:{port}")), "{}", text(&out.stderr));
    // store.path from the environment is a higher layer: the SQLite file, which is missing (78).
    let out =
        sandbox.sfconn().args(["history", "list"]).env("SFCONN_STORE__PATH", "other.db").output().unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("other.db"), "{}", text(&out.stderr));
}

#[test]
fn collect_keeps_its_snapshot_in_postgresql_from_inside_its_runtime() {
    let org = crate::common::Org::small().with_env("PGPASSWORD", PASSWORD);
    let Store::Postgres(url) = Store::postgres() else { unreachable!() };
    let collect = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = org.sfconn();
        command.arg("collect").args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        stderr
    };
    let stderr = collect(&["-f", "json", "-o", "one.json", "--store-url", &url], &[]);
    assert!(stderr.contains(&format!("stored as snapshot 1 in {url}")), "{stderr}");
    // With store.url set, `--store` without a path is the PostgreSQL store.
    let stderr = collect(&["-f", "json", "-o", "two.json", "--store"], &[("SFCONN_STORE__URL", &url)]);
    assert!(stderr.contains(&format!("stored as snapshot 2 in {url}")), "{stderr}");
    let listed = org.bare().args(["history", "list", "-f", "json", "--store-url", &url]).output().unwrap();
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let snapshots: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(snapshots.as_array().unwrap().len(), 2);
    assert_eq!(snapshots[0]["users"], org.org.data().user_count());
}
