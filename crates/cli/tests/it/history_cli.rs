//! `sfconn history import|list|diff` and `sfconn report`, run as the real binary on the
//! store's test snapshots (crates/store/tests/fixtures: one org, three weeks), in an empty
//! environment with a temporary home.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common;
use common::Sandbox;

const WEEKS: [&str; 3] = ["acme-2024-06-01.json", "acme-2024-06-08.json", "acme-2024-06-15.json"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/tests/fixtures").join(name)
}

impl Sandbox {
    fn db(&self) -> PathBuf {
        self.work().join("history.db")
    }

    /// `sfconn ARGS --store history.db`, expected to succeed; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.sfconn().args(args).arg("--store").arg(self.db()).output().unwrap();
        assert!(
            output.status.success(),
            "sfconn {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// `sfconn ARGS --store history.db`, expected to fail with `code`; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.sfconn().args(args).arg("--store").arg(self.db()).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "sfconn {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.stdout.is_empty(), "nothing on stdout on failure");
        String::from_utf8(output.stderr).unwrap()
    }

    /// `sfconn report -f json --config CONFIG EXTRA --store history.db`.
    fn report_json_with(&self, config: &Path, extra: &[&str]) -> std::process::Output {
        self.sfconn()
            .args(["report", "-f", "json", "--config"])
            .arg(config)
            .args(extra)
            .arg("--store")
            .arg(self.db())
            .output()
            .unwrap()
    }

    /// A store with the three weeks imported (ids 1, 2, 3).
    fn with_weeks() -> Self {
        let sandbox = Sandbox::new();
        for (index, week) in WEEKS.iter().enumerate() {
            let out = sandbox.ok(&["history", "import", fixture(week).to_str().unwrap()]);
            assert!(out.starts_with(&format!("{}\timported: org Acme Corp", index + 1)), "{out}");
        }
        sandbox
    }
}

#[test]
fn import_prints_the_new_id_and_list_shows_every_snapshot() {
    let sandbox = Sandbox::new();
    let out = sandbox.ok(&["history", "import", fixture(WEEKS[0]).to_str().unwrap()]);
    assert_eq!(
        out,
        "1\timported: org Acme Corp (00D000000000001AAA), collected 2024-06-01T08:00:00Z, 14 users, 14 subscriptions\n"
    );
    // Standard input works too.
    let out = assert_cmd::Command::from_std(sandbox.sfconn())
        .args(["history", "import", "-", "--store"])
        .arg(sandbox.db())
        .write_stdin(fs::read(fixture(WEEKS[1])).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("2\timported:"));
    sandbox.ok(&["history", "import", fixture(WEEKS[2]).to_str().unwrap()]);

    insta::assert_snapshot!("history_list_table", sandbox.ok(&["history", "list"]));
    let listed: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["history", "list", "-f", "json"])).unwrap();
    let ids: Vec<i64> = listed.as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(listed[2]["users"], 15);
}

#[test]
fn importing_the_same_snapshot_twice_fails_and_adds_nothing() {
    let sandbox = Sandbox::with_weeks();
    let err = sandbox.fails(&["history", "import", fixture(WEEKS[1]).to_str().unwrap()], 65);
    assert_eq!(
        err,
        "error: this snapshot (org 00D000000000001AAA, collected at 2024-06-08T08:00:00Z) is already stored as snapshot 2; nothing was imported\n"
    );
    assert_eq!(sandbox.ok(&["history", "list"]).lines().count(), 1 + 3);
}

#[test]
fn importing_a_file_that_is_not_a_snapshot_fails_with_65() {
    let sandbox = Sandbox::new();
    let bad = sandbox.work().join("bad.json");
    fs::write(&bad, r#"{"schema_version": "1", "generator": {"name": "sfconn"}}"#).unwrap();
    let err = sandbox.fails(&["history", "import", bad.to_str().unwrap()], 65);
    assert!(
        err.starts_with(
            "error: not a valid sfconn snapshot document (at generator): missing field `version`"
        ),
        "{err}"
    );
    let err = sandbox.fails(&["history", "import", "missing.json"], 65);
    assert!(err.starts_with("error: cannot read the snapshot file missing.json: "), "{err}");
}

#[test]
fn report_table_on_the_latest_snapshot() {
    let sandbox = Sandbox::with_weeks();
    let out = sandbox.ok(&["report"]);
    assert!(out.starts_with("Licence report: Acme Corp (00D000000000001AAA), snapshot 3 collected"), "{out}");
    insta::assert_snapshot!("report_latest_table", out);
}

#[test]
fn report_chooses_the_snapshot_and_the_inactivity_window() {
    let sandbox = Sandbox::with_weeks();
    let out = sandbox.ok(&["report", "--snapshot", "1", "--inactive-days", "30", "-f", "json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["snapshot"]["id"], 1);
    assert_eq!(report["inactive_before"], "2024-05-02T08:00:00Z");
    let candidates: Vec<&str> = report["reclaim_candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        candidates,
        [
            "bob@acme.com",
            "carol@acme.com",
            "frank@consultco.io",
            "ivan@gmail.com.acmecommunity",
            "judy@acme.com",
            "mallory@eu.acme.com"
        ]
    );
    // By date: the latest snapshot up to the end of 2024-06-10 is week 2.
    let out = sandbox.ok(&["report", "--snapshot", "2024-06-10", "-f", "json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["snapshot"]["id"], 2);
}

/// `--min-logins`, else `report.min_logins` (file or environment), else 5; checked like every
/// setting, naming the key.
#[test]
fn min_logins_comes_from_the_flag_the_setting_or_the_default() {
    let sandbox = Sandbox::new();
    let labs = fixture("acme-labs-2024-06-20.json");
    sandbox.ok(&["history", "import", labs.to_str().unwrap()]);
    let low_activity = |out: &str| -> (u64, Vec<String>) {
        let report: serde_json::Value = serde_json::from_str(out).unwrap();
        let users = report["reclaim_candidates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["reason"] == "low_activity")
            .map(|c| c["username"].as_str().unwrap().split('@').next().unwrap().to_owned())
            .collect();
        (report["min_logins"].as_u64().unwrap(), users)
    };
    assert_eq!(low_activity(&sandbox.ok(&["report", "-f", "json"])), (5, vec!["eve".into(), "fay".into()]));
    assert_eq!(
        low_activity(&sandbox.ok(&["report", "-f", "json", "--min-logins", "3"])),
        (3, vec!["eve".into()])
    );
    // The cross-org view's subscriptions count the low-activity seats with the same threshold.
    let seats = |args: &[&str]| {
        let view: serde_json::Value = serde_json::from_str(&sandbox.ok(args)).unwrap();
        view["orgs"][0]["subscriptions"][0]["low_activity_seats"].clone()
    };
    assert_eq!(seats(&["report", "--all-orgs", "-f", "json"]), 2);
    assert_eq!(seats(&["report", "--all-orgs", "-f", "json", "--min-logins", "6"]), 3);
    let output = sandbox
        .sfconn()
        .args(["report", "--all-orgs", "-f", "json", "--store"])
        .arg(sandbox.db())
        .env("SFCONN_REPORT__MIN_LOGINS", "6")
        .output()
        .unwrap();
    let view: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(view["orgs"][0]["subscriptions"][0]["low_activity_seats"], 3, "the setting applies too");

    let config = sandbox.work().join("sfconn.toml");
    fs::write(&config, "[report]\nmin_logins = 6\n").unwrap();
    let with_file = |extra: &[&str]| {
        let output = sandbox.report_json_with(&config, extra);
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (code, out, err) = with_file(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(low_activity(&out), (6, vec!["eve".into(), "fay".into(), "gus".into()]));
    let (_, out, _) = with_file(&["--min-logins", "5"]);
    assert_eq!(low_activity(&out).0, 5, "the flag wins over the file");
    let output = sandbox
        .sfconn()
        .args(["report", "-f", "json"])
        .env("SFCONN_REPORT__MIN_LOGINS", "1")
        .arg("--store")
        .arg(sandbox.db())
        .output()
        .unwrap();
    assert_eq!(low_activity(&String::from_utf8(output.stdout).unwrap()), (1, vec![]));

    fs::write(&config, "[report]\nmin_logins = 0\n").unwrap();
    let (code, out, err) = with_file(&[]);
    assert_eq!(code, Some(78), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("`report.min_logins`"), "{err}");
    assert!(err.contains("must be from 1 to 100000, found 0"), "{err}");
    let err = sandbox.fails(&["report", "--min-logins", "0"], 2);
    assert!(err.contains("--min-logins"), "{err}");
}

#[test]
fn report_csv_has_one_block_per_section() {
    let sandbox = Sandbox::with_weeks();
    let out = sandbox.ok(&["report", "-f", "csv", "--snapshot", "2"]);
    let headers: Vec<&str> = out.split("\n\n").map(|block| block.lines().next().unwrap()).collect();
    assert_eq!(
        headers,
        [
            "section,currency,reclaimable_seats,unpriced_reclaimable_seats,reclaimable_monthly,reclaimable_yearly,bought_monthly,hint",
            "section,source,id,name,label,status,total,used,free,utilisation_percent,unlimited,paid,reclaimable,frozen_seats,low_activity_seats,key,included_seats,price_per_seat,bought_monthly,reclaimable_monthly,reclaimable_yearly,unused_assignment_seats",
            "section,user_id,username,email,name,account_kind,profile,last_login_at,days_since_login,reason,frozen,logins_in_window,paid_licence_ids,paid_licences",
            "section,user_id,username,email,name,account_kind,profile,last_login_at,logins_in_window,licence_id,licence,key,paid,monthly,action",
            "section,class,computed,candidates,not_computed_because",
            "section,state,days,path,rows,min_logins",
            "section,logins,min,max,users,paid_users",
            "section,name,label,used,total",
            "section,domain,users,active",
            "section,account_kind,users,active",
            "section,source,id,name,total,used,over_by",
        ]
    );
    assert!(
        out.contains("\nover_assigned,UserLicense,100000000000002AAA,Salesforce Platform,5,6,1\n"),
        "{out}"
    );
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(out.as_bytes());
    let rows = reader.records().map(Result::unwrap).filter(|r| &r[0] == "reclaim_candidate").count();
    assert_eq!(rows, 3);
}

#[test]
fn report_csv_neutralises_formulas_unless_csv_raw_is_set() {
    let sandbox = Sandbox::new();
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(fixture(WEEKS[0])).unwrap()).unwrap();
    doc["users"][1]["name"] = "=HYPERLINK(\"http://evil.example\",\"Bob\")".into();
    let hostile = sandbox.work().join("hostile.json");
    fs::write(&hostile, serde_json::to_vec(&doc).unwrap()).unwrap();
    sandbox.ok(&["history", "import", hostile.to_str().unwrap()]);
    let bob_name = |out: &str| {
        let mut reader =
            csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(out.as_bytes());
        let bob = reader.records().map(Result::unwrap).find(|r| &r[2] == "bob@acme.com").unwrap();
        bob[4].to_owned()
    };
    let neutralised = "'=HYPERLINK(\"http://evil.example\",\"Bob\")";
    let raw = "=HYPERLINK(\"http://evil.example\",\"Bob\")";
    assert_eq!(bob_name(&sandbox.ok(&["report", "-f", "csv"])), neutralised);
    assert_eq!(bob_name(&sandbox.ok(&["report", "-f", "csv", "--csv-raw"])), raw);

    // The setting, from the environment or the config file, also with --store.
    let run = |env: Option<&str>, config: Option<&Path>| {
        let mut command = sandbox.sfconn();
        command.args(["report", "-f", "csv", "--store"]).arg(sandbox.db());
        if let Some(value) = env {
            command.env("SFCONN_CSV_RAW", value);
        }
        if let Some(path) = config {
            command.arg("-c").arg(path);
        }
        command.output().unwrap()
    };
    let out = run(Some("1"), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(bob_name(&String::from_utf8(out.stdout).unwrap()), raw);
    let config = sandbox.work().join("raw.toml");
    fs::write(&config, "csv_raw = true\n").unwrap();
    let out = run(None, Some(&config));
    assert_eq!(bob_name(&String::from_utf8(out.stdout).unwrap()), raw);
    let out = run(Some("maybe"), None);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`csv_raw` (env SFCONN_CSV_RAW)"));
}

#[test]
fn diff_defaults_to_the_two_latest_snapshots() {
    let sandbox = Sandbox::with_weeks();
    let out = sandbox.ok(&["history", "diff"]);
    assert!(out.starts_with("Changes in Acme Corp (00D000000000001AAA) from snapshot 2"), "{out}");
    insta::assert_snapshot!("diff_latest_table", out);
}

#[test]
fn diff_by_id_and_date() {
    let sandbox = Sandbox::with_weeks();
    let by_id = sandbox.ok(&["history", "diff", "--from", "1", "--to", "2"]);
    let by_date = sandbox.ok(&["history", "diff", "--from", "2024-06-01", "--to", "2024-06-08"]);
    assert_eq!(by_id, by_date);
    assert!(
        by_id.contains("Users added (1)\n  USERNAME       EMAIL          KIND      ACTIVE\n  kate@acme.com"),
        "{by_id}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["history", "diff", "--from", "1", "-f", "json"])).unwrap();
    assert_eq!((json["from"]["id"].as_i64(), json["to"]["id"].as_i64()), (Some(1), Some(3)));
    let removed: Vec<&str> =
        json["users_removed"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(removed, ["frank@consultco.io"]);
}

#[test]
fn bad_selections_are_command_line_errors() {
    let sandbox = Sandbox::with_weeks();
    let err = sandbox.fails(&["history", "diff", "--from", "last week"], 2);
    assert_eq!(
        err,
        "error: \"last week\" is neither a snapshot id nor a date (YYYY-MM-DD or RFC 3339 date-time)\n"
    );
    let err = sandbox.fails(&["report", "--snapshot", "7"], 2);
    assert_eq!(err, "error: no stored snapshot matches snapshot id 7: see `sfconn history list`\n");
}

#[test]
fn a_store_with_one_snapshot_has_nothing_to_diff() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["history", "import", fixture(WEEKS[0]).to_str().unwrap()]);
    let err = sandbox.fails(&["history", "diff"], 65);
    assert_eq!(
        err,
        "error: a diff needs two snapshots of the same org; the store holds only snapshot 1 for org 00D000000000001AAA\n"
    );
}

#[test]
fn reading_a_store_that_does_not_exist_is_a_config_error_and_creates_nothing() {
    let sandbox = Sandbox::new();
    for args in [&["report"][..], &["history", "list"][..], &["history", "diff"][..]] {
        let err = sandbox.fails(args, 78);
        assert!(err.starts_with("error: no snapshot store at "), "{err}");
        assert!(err.contains("check `store.path` / `--store`"), "{err}");
    }
    assert!(!sandbox.db().exists());
}

#[test]
fn the_store_path_comes_from_the_environment_or_the_config_file() {
    let sandbox = Sandbox::with_weeks();
    // No --store, no setting: the default store, which does not exist yet and is not created.
    let out = sandbox.sfconn().args(["history", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let default_store = sandbox.home().join(".local/share/sfconn/history.db");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&default_store.display().to_string()), "{stderr}");
    assert!(!default_store.exists());
    // SFCONN_STORE__PATH, relative to the working directory; no credentials needed.
    let out =
        sandbox.sfconn().args(["history", "list"]).env("SFCONN_STORE__PATH", "history.db").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1 + 3);
    // store.path in the config file, relative to the file.
    let config = sandbox.work().join("conf/sfconn.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(&config, "[store]\npath = \"../history.db\"\n").unwrap();
    let out = sandbox.sfconn().args(["report", "-f", "json", "-c"]).arg(&config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // --store wins over the setting.
    let out = sandbox
        .sfconn()
        .args(["history", "list", "--store", "elsewhere.db"])
        .env("SFCONN_STORE__PATH", "history.db")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A snapshot document of week 3 with `users` users (copies of its users with new ids).
fn big_snapshot(users: usize) -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(fixture(WEEKS[2])).unwrap()).unwrap();
    let templates = doc["users"].as_array().unwrap().clone();
    let many: Vec<serde_json::Value> = (0..users)
        .map(|i| {
            let mut user = templates[i % templates.len()].clone();
            user["id"] = serde_json::json!(format!("005{i:012}ZZZ"));
            user["username"] = serde_json::json!(format!("user{i}@acme.com"));
            user
        })
        .collect();
    doc["users"] = serde_json::Value::Array(many);
    doc["collected_at"] = serde_json::json!("2024-06-22T08:00:00Z");
    serde_json::to_vec(&doc).unwrap()
}

#[test]
fn an_import_killed_while_writing_leaves_no_partial_snapshot() {
    let sandbox = Sandbox::with_weeks();
    let big = sandbox.work().join("big.json");
    fs::write(&big, big_snapshot(60_000)).unwrap();
    let wal = sandbox.work().join("history.db-wal");
    let mut child = sandbox
        .sfconn()
        .args(["history", "import"])
        .arg(&big)
        .arg("--store")
        .arg(sandbox.db())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the transaction has written a few MB to the write-ahead log (or when it has
    // ended by itself: then the snapshot must be there whole). Bounded: 60 s at most.
    for _ in 0..6000 {
        if fs::metadata(&wal).is_ok_and(|m| m.len() > 4 << 20) || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    eprintln!("import ended with {status}");

    let conn = rusqlite::Connection::open(sandbox.db()).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    // Every stored snapshot is whole: as many user rows as the snapshot says it has.
    let mut statement = conn
        .prepare("SELECT s.id, s.users, (SELECT COUNT(*) FROM users u WHERE u.snapshot_id = s.id) FROM snapshots s")
        .unwrap();
    let rows: Vec<(i64, i64, i64)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (id, said, stored) in &rows {
        assert_eq!(said, stored, "snapshot {id} is partial");
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    if status.success() {
        assert_eq!(ids, [1, 2, 3, 4], "the import ended before the kill: stored whole");
    } else {
        assert_eq!(ids, [1, 2, 3], "killed mid-write: nothing of it is stored");
    }
    // The store still works.
    assert!(sandbox.ok(&["report"]).starts_with("Licence report: Acme Corp"));
}

#[test]
fn collect_store_twice_then_diff_and_report() {
    use sfconn_testkit::{BlockingOrg, OrgSpec, SPECIAL_USER_COUNT, UserChanges};
    let sandbox = Sandbox::new();
    let collect = |org: &BlockingOrg| {
        let output = sandbox
            .sfconn()
            .envs(org.sfconn_env())
            .env("SFCONN_STORE__PATH", "history.db")
            .args(["collect", "-o", "snapshot.json", "--store"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "collect failed: {stderr}");
        stderr
    };

    let before = BlockingOrg::start(OrgSpec::with_users(60));
    assert!(collect(&before).contains("stored as snapshot 1 in "));
    drop(before);
    // The same org later: 5 more users, one removed, one deactivated.
    let removed = SPECIAL_USER_COUNT + 2;
    let mut spec = OrgSpec::with_users(65);
    let deactivated = (SPECIAL_USER_COUNT + 3..60).find(|&i| spec_user_is_active(&spec, i)).unwrap();
    spec.user_changes = UserChanges {
        removed: std::collections::BTreeSet::from([removed]),
        deactivated: [deactivated].into(),
    };
    let after = BlockingOrg::start(spec);
    assert!(collect(&after).contains("stored as snapshot 2 in "));

    let list = sandbox.ok(&["history", "list", "-f", "json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let users: Vec<i64> = list.as_array().unwrap().iter().map(|s| s["users"].as_i64().unwrap()).collect();
    assert_eq!(users, [60, 64]);

    let diff: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["history", "diff", "-f", "json"])).unwrap();
    let ids = |key: &str| -> Vec<String> {
        diff[key].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
    };
    let data = after.data();
    let added: Vec<String> = (60..65).map(|i| data.user(i).unwrap().id).collect();
    assert_eq!(ids("users_added"), added);
    assert_eq!(ids("users_removed").len(), 1);
    assert_eq!(ids("users_deactivated"), [data.user(deactivated).unwrap().id]);

    let report = sandbox.ok(&["report"]);
    assert!(report.starts_with("Licence report: Acme Corporation"), "{report}");
    assert!(report.contains("snapshot 2 collected"), "{report}");
}

/// Whether generated user `index` of an org with this spec is active (before any change).
fn spec_user_is_active(spec: &sfconn_testkit::OrgSpec, index: usize) -> bool {
    sfconn_testkit::OrgData::generate(spec).user(index).is_some_and(|user| user.is_active)
}

#[test]
fn a_reader_that_stops_early_is_no_error() {
    let sandbox = Sandbox::with_weeks();
    let big = sandbox.work().join("big.json");
    fs::write(&big, big_snapshot(5_000)).unwrap();
    sandbox.ok(&["history", "import", big.to_str().unwrap()]);
    // The JSON report (thousands of candidates) is far larger than a pipe's buffer.
    let mut child = sandbox
        .sfconn()
        .args(["report", "-f", "json", "--store"])
        .arg(sandbox.db())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// The prices of docs/report.md's worked example, as a `--prices` file.
const PRICES_FILE: &str = "[prices]\ncurrency = \"EUR\"\nSFDC = 150\n\"Sales Cloud Einstein\" = 50\nsbqq = 12.35\nCLOUD_INTEGRATION_USER = 10\n";

#[test]
fn report_prices_file_shows_the_money_with_known_totals() {
    let sandbox = Sandbox::new();
    let money = fixture("acme-money-2024-06-20.json");
    sandbox.ok(&["history", "import", money.to_str().unwrap()]);
    let prices = sandbox.work().join("prices.toml");
    fs::write(&prices, PRICES_FILE).unwrap();
    let prices = prices.to_str().unwrap();

    let table = sandbox.ok(&["report", "--prices", prices]);
    assert!(
        table.contains(
            "About 735 EUR/month reclaimable (about 8,816 EUR/year): 9 paid seats held by reclaim candidates"
        ),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["report", "-f", "json", "--prices", prices])).unwrap();
    assert_eq!(json["money"]["reclaimable_monthly"], "734.70");
    assert_eq!(json["money"]["reclaimable_yearly"], "8816.40");
    assert_eq!(json["money"]["bought_monthly"], "1841.75");
    let csv = sandbox.ok(&["report", "-f", "csv", "--prices", prices]);
    assert!(
        csv.starts_with("section,currency,") && csv.contains("\nmoney,EUR,9,0,734.70,8816.40,1841.75,\n"),
        "{csv}"
    );
    let view: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["report", "--all-orgs", "-f", "json", "--prices", prices]))
            .unwrap();
    assert_eq!(view["money"]["reclaimable_monthly"], "734.70");

    // Without prices: seats, and how to add prices.
    let table = sandbox.ok(&["report"]);
    assert!(table.contains("Reclaimable: 9 paid seats held by reclaim candidates; add prices"), "{table}");

    // The config file's [prices] and [report] keys apply; --prices replaces the table.
    let config = sandbox.work().join("sfconn.toml");
    fs::write(
        &config,
        "[report]\nfree_keys = [\"CLOUD_INTEGRATION_USER\"]\n\n[prices]\ncurrency = \"USD\"\nSFDC = 100\n",
    )
    .unwrap();
    let with_config = |extra: &[&str]| -> serde_json::Value {
        let output = sandbox.report_json_with(&config, extra);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let report = with_config(&[]);
    // Integration free: ben and dan are no candidates; 4 Salesforce seats at 100 USD.
    assert_eq!(report["money"]["currency"], "USD");
    assert_eq!(report["money"]["reclaimable_monthly"], "400.00");
    assert_eq!(report["reclaim_candidates"].as_array().unwrap().len(), 4);
    let report = with_config(&["--prices", prices]);
    assert_eq!(report["money"]["currency"], "EUR");
    assert_eq!(report["money"]["reclaimable_monthly"], "724.70", "the file's prices, the config's free keys");
}

/// The unused permission set licence assignments of issue 19 through the real binary, from a
/// stored snapshot with known answers (`acme-psl-2024-06-21.json`, docs/report.md's worked
/// example): each assignment to remove, in every format, and in the money.
#[test]
fn report_lists_each_unused_assignment_to_remove_and_counts_it_in_the_money() {
    let sandbox = Sandbox::new();
    let psl = fixture("acme-psl-2024-06-21.json");
    sandbox.ok(&["history", "import", psl.to_str().unwrap()]);
    let prices = sandbox.work().join("prices.toml");
    fs::write(&prices, format!("{PRICES_FILE}SalesConsoleUser = 25\n")).unwrap();
    let prices = prices.to_str().unwrap();

    let table = sandbox.ok(&["report", "--prices", prices]);
    for line in [
        "About 860 EUR/month reclaimable (about 10,316 EUR/year): 13 paid seats held by reclaim candidates",
        "  unused permission set licence assignment: 4\n",
        "Unused permission set licence assignments (4): remove the PermissionSetLicenseAssign of the user for the licence",
    ] {
        assert!(table.contains(line), "{line}\n{table}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["report", "-f", "json", "--prices", prices])).unwrap();
    let actions: Vec<(&str, &serde_json::Value)> = json["unused_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["action"].as_str().unwrap(), &u["monthly"]))
        .collect();
    assert_eq!(
        actions,
        [
            (
                "remove the PermissionSetLicenseAssign of gus@acmepsl.example for Sales Console User (SalesConsoleUser)",
                &serde_json::json!("25.00")
            ),
            (
                "remove the PermissionSetLicenseAssign of gus@acmepsl.example for Sales Cloud Einstein",
                &serde_json::json!("50.00")
            ),
            (
                "remove the PermissionSetLicenseAssign of jon@acmepsl.example for Sales Console User (SalesConsoleUser)",
                &serde_json::json!("25.00")
            ),
            (
                "remove the PermissionSetLicenseAssign of lou@acmepsl.example for Workplace Command Center (WorkplaceCommandCenterPsl)",
                &serde_json::Value::Null
            ),
        ]
    );
    assert_eq!(json["money"]["reclaimable_monthly"], "859.70");
    let csv = sandbox.ok(&["report", "-f", "csv", "--prices", prices]);
    assert_eq!(csv.matches("\nunused_assignment,").count(), 4, "{csv}");
    assert!(csv.contains("\nreclaim_class,unused_assignment,true,4,\n"), "{csv}");
    let view: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["report", "--all-orgs", "-f", "json", "--prices", prices]))
            .unwrap();
    assert_eq!(view["money"]["reclaimable_monthly"], "859.70");
    let html = sandbox.ok(&["report", "-f", "html", "--prices", prices]);
    assert!(html.contains("<h3 id=\"unused-assignments\">"), "{html}");
    assert_eq!(html.matches("data-field=\"monthly\"").count(), 4, "{html}");

    // A licence made free by the settings: its assignments are still listed, not costed.
    let config = sandbox.work().join("sfconn.toml");
    fs::write(&config, "[report]\nfree_keys = [\"SalesConsoleUser\"]\n").unwrap();
    let output = sandbox.report_json_with(&config, &["--prices", prices]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let paid: Vec<&serde_json::Value> =
        report["unused_assignments"].as_array().unwrap().iter().map(|u| &u["paid"]).collect();
    assert_eq!(paid, [false, true, false, false]);
    // 600 + 10 + 150 + 24.70: Sales Console User costs nothing now.
    assert_eq!(report["money"]["reclaimable_monthly"], "784.70");
}

#[test]
fn a_bad_prices_file_exits_78_naming_the_key() {
    let sandbox = Sandbox::with_weeks();
    let prices = sandbox.work().join("prices.toml");
    fs::write(&prices, "currency = \"EUR\"\nSFDC = 150\n\"Salesforce Platform\" = { price = 25, currency = \"USD\" }\nAUL = -3\n").unwrap();
    let err = sandbox.fails(&["report", "--prices", prices.to_str().unwrap()], 78);
    let err = err.replace(sandbox.work().to_str().unwrap(), "[WORK]");
    insta::assert_snapshot!(err);
    let missing = sandbox.work().join("none.toml");
    let err = sandbox.fails(&["report", "--prices", missing.to_str().unwrap()], 78);
    assert!(err.contains("none.toml") && err.contains("--prices"), "{err}");
}
