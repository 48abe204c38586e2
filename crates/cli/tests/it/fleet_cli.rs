//! Named orgs end to end: `collect --org`, `collect --all-orgs` with one org failing,
//! `config check --all-orgs`, Ctrl-C across a fleet, and the default store — the real binary
//! against simulated orgs on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use sfconn_testkit::{FaultKind, Occurrence, OrgSpec, SimulatedOrg, Target};
use std::process::Command;

use crate::common;
use common::{Sandbox, assert_no_secrets};
use sfconn_testkit::{BlockingOrg, assert_valid_snapshot as assert_valid};

/// Simulated orgs, and a sandbox (with `data` as XDG_DATA_HOME and `secrets`) whose config
/// file names them.
struct Fleet {
    orgs: Vec<(String, BlockingOrg)>,
    sandbox: Sandbox,
}

impl Fleet {
    /// One simulated org per `(name, spec)`.
    fn start(specs: Vec<(&str, OrgSpec)>) -> Fleet {
        let orgs =
            specs.into_iter().map(|(name, spec)| (name.to_string(), BlockingOrg::start(spec))).collect();
        let sandbox = Sandbox::new();
        for sub in ["data", "secrets"] {
            sandbox.mkdir(sub);
        }
        Fleet { orgs, sandbox }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.sandbox.path(sub)
    }

    /// `sfconn` in the sandbox, XDG_DATA_HOME included.
    fn command(&self) -> Command {
        let mut cmd = self.sandbox.sfconn();
        cmd.env("XDG_DATA_HOME", self.path("data"));
        cmd
    }

    /// Writes `work/sfconn.toml` with one `[orgs.NAME]` table per org plus `extra` at the top,
    /// and the secret files (a wrong refresh token for the names in `bad_token`, no secret
    /// file at all for the names in `no_secret`).
    fn config(&self, extra: &str, bad_token: &[&str], no_secret: &[&str]) -> PathBuf {
        let secrets = self.path("secrets");
        let mut toml = format!("client_id = \"{}\"\n{extra}\n", SimulatedOrg::CLIENT_ID);
        for (name, org) in &self.orgs {
            let secret = secrets.join(format!("{name}.secret"));
            let token = secrets.join(format!("{name}.token"));
            if !no_secret.contains(&name.as_str()) {
                std::fs::write(&secret, SimulatedOrg::CLIENT_SECRET).unwrap();
            }
            let value = if bad_token.contains(&name.as_str()) {
                "5Aep861-revoked"
            } else {
                SimulatedOrg::REFRESH_TOKEN
            };
            std::fs::write(&token, value).unwrap();
            toml.push_str(&format!(
                "\n[orgs.{name}]\nlogin_url = \"{}\"\nclient_secret_file = \"{}\"\nrefresh_token_file = \"{}\"\n",
                org.login_url(),
                secret.display(),
                token.display()
            ));
        }
        let path = self.path("work/sfconn.toml");
        std::fs::write(&path, toml).unwrap();
        path
    }

    fn sfconn(&self, args: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.sfconn(args).output().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn org_entry<'a>(fleet_json: &'a Value, name: &str) -> &'a Value {
    fleet_json["orgs"].as_array().unwrap().iter().find(|o| o["org"] == name).unwrap()
}

#[test]
fn one_named_org_is_collected_with_its_own_settings() {
    let fleet = Fleet::start(vec![("prod", OrgSpec::small()), ("sandbox", OrgSpec::with_users(60))]);
    fleet.config("", &[], &[]);
    let output = fleet.run(&["collect", "--org", "sandbox"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_valid(&snapshot);
    assert_eq!(snapshot["summary"]["users_total"], 60);
    assert_eq!(fleet.orgs[0].1.requests_received(), 0, "the other org is not contacted");

    // An Indexed Job's pod: index 1 in name order is `sandbox`.
    let output = fleet.run(&["collect", "--org-index", "1", "-f", "ndjson"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).lines().filter(|l| l.contains(r#""type":"user""#)).count(), 60);
    let output = fleet.run(&["collect", "--org-index", "2"]);
    assert_eq!(output.status.code(), Some(78));
    assert!(
        text(&output.stderr)
            .contains("--org-index 2 names no org: the config file declares 2 (0 = prod, 1 = sandbox)")
    );

    let output = fleet.run(&["collect"]);
    assert_eq!(output.status.code(), Some(2), "no --org with named orgs is a usage error");
    assert!(text(&output.stderr).contains("declares named orgs (prod, sandbox): choose one with --org NAME"));

    let output = fleet.run(&["collect", "--org", "sandbx"]);
    assert_eq!(output.status.code(), Some(78));
    assert!(
        text(&output.stderr).contains("no org named `sandbx` in the config file (did you mean `sandbox`?)")
    );

    let output = fleet.run(&["collect", "--org", "prod", "--all-orgs", "-o", "out"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--all-orgs"), "{}", text(&output.stderr));
}

#[test]
fn a_fleet_collects_every_org_and_one_failure_costs_the_others_nothing() {
    let fleet = Fleet::start(vec![
        ("acme-prod", OrgSpec::small()),
        ("acme-eu", OrgSpec::with_users(75)),
        ("revoked", OrgSpec::small()),
        ("no-secret", OrgSpec::small()),
    ]);
    fleet.config("[fleet]\nconcurrency = 2\n", &["revoked"], &["no-secret"]);
    let output = fleet.run(&["collect", "--all-orgs", "-o", "out", "--store"]);
    let stderr = text(&output.stderr);
    assert_no_secrets(&[&stderr, &text(&output.stdout)]);
    assert_eq!(output.status.code(), Some(78), "config (78) outranks authentication (77): {stderr}");
    assert!(output.stdout.is_empty(), "files only");

    let out = fleet.path("work/out");
    for (name, users) in [("acme-prod", 40), ("acme-eu", 75)] {
        let snapshot = json_file(&out.join(format!("{name}.json")));
        assert_valid(&snapshot);
        assert_eq!(snapshot["summary"]["users_total"], users, "{name}");
    }
    assert!(!out.join("revoked.json").exists() && !out.join("no-secret.json").exists());
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files: {leftovers:?}");

    let summary = json_file(&out.join("fleet.json"));
    assert_eq!(summary["exit_code"], 78);
    assert_eq!(summary["concurrency"], 2);
    let names: Vec<&str> =
        summary["orgs"].as_array().unwrap().iter().map(|o| o["org"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme-eu", "acme-prod", "no-secret", "revoked"], "in name order");
    let prod = org_entry(&summary, "acme-prod");
    assert_eq!(prod["status"], "ok");
    assert_eq!(prod["exit_code"], 0);
    assert_eq!(prod["users"], 40);
    assert!(prod["subscriptions"].as_u64().unwrap() > 0);
    assert_eq!(prod["api_requests"].as_u64().unwrap(), fleet.orgs[0].1.requests_received());
    assert!(prod["output"].as_str().unwrap().ends_with("out/acme-prod.json"));
    let revoked = org_entry(&summary, "revoked");
    assert_eq!(revoked["status"], "failed");
    assert_eq!(revoked["exit_code"], 77);
    assert_eq!(revoked["error_code"], "invalid_grant");
    assert!(revoked["message"].as_str().unwrap().contains("invalid_grant"));
    assert_eq!(revoked["api_requests"].as_u64().unwrap(), fleet.orgs[2].1.requests_received());
    assert_eq!(revoked["output"], Value::Null);
    let no_secret = org_entry(&summary, "no-secret");
    assert_eq!(no_secret["exit_code"], 78);
    assert_eq!(no_secret["error_code"], Value::Null);
    assert_eq!(no_secret["api_requests"], 0);
    assert!(
        no_secret["message"]
            .as_str()
            .unwrap()
            .starts_with("org `no-secret`: invalid setting `client_secret_file`")
    );
    assert_eq!(fleet.orgs[3].1.requests_received(), 0, "an org with bad settings sends nothing");

    assert!(stderr.contains("fleet: 2 of 4 orgs collected"), "{stderr}");
    assert!(stderr.contains("[revoked] "), "each org's messages carry its name: {stderr}");
    assert!(stderr.contains("2 of 4 orgs failed: no-secret, revoked"), "{stderr}");

    // --store kept both successful snapshots in the default store.
    let store = fleet.path("data/sfconn/history.db");
    let output = fleet.run(&["history", "list", "--format", "json", "--store", store.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
}

#[test]
fn a_fleet_with_every_org_temporarily_down_exits_75_and_csv_and_table_work() {
    let fleet = Fleet::start(vec![("a", OrgSpec::small()), ("b", OrgSpec::small())]);
    fleet.config("", &[], &[]);
    let output = fleet.run(&["collect", "--all-orgs", "-f", "csv", "-o", "dirs"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for name in ["a", "b"] {
        assert!(fleet.path(&format!("work/dirs/{name}/users.csv")).is_file());
    }
    let output = fleet.run(&["collect", "--all-orgs", "-f", "table"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let a = stdout.find("== org a ==").unwrap();
    let b = stdout.find("== org b ==").unwrap();
    assert!(a < b && stdout.matches("Subscriptions (").count() == 2, "{stdout}");

    let output = fleet.run(&["collect", "--all-orgs"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("give the directory with -o DIR"));

    // Both orgs' proxies answer 502 to every token request: a temporary failure, so 75.
    for (_, org) in &fleet.orgs {
        org.faults().on(Target::Token, Occurrence::always(), FaultKind::BadGatewayHtml);
    }
    let output = fleet
        .sfconn(&["collect", "--all-orgs", "-o", "down"])
        .env("SFCONN_HTTP__MAX_RETRIES", "0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(75), "{}", text(&output.stderr));
    let summary = json_file(&fleet.path("work/down/fleet.json"));
    assert!(summary["orgs"].as_array().unwrap().iter().all(|o| o["exit_code"] == 75), "{summary}");
}

#[test]
fn config_check_shows_every_org_and_names_the_broken_one() {
    let fleet = Fleet::start(vec![("prod", OrgSpec::small()), ("broken", OrgSpec::small())]);
    let config = fleet.config("", &[], &["broken"]);
    let output = fleet.run(&["config", "check", "--all-orgs", "-f", "json"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let prod = &document["orgs"]["prod"]["settings"];
    assert_eq!(prod["login_url"]["value"], fleet.orgs[0].1.login_url());
    assert_eq!(prod["login_url"]["origin"]["kind"], "org_table");
    assert_eq!(prod["login_url"]["origin"]["org"], "prod");
    assert_eq!(prod["client_secret"]["value"], "***");
    assert_eq!(prod["store.path"]["value"], fleet.path("data/sfconn/history.db").to_str().unwrap());
    assert_eq!(document["orgs"]["broken"]["problems"][0]["key"], "client_secret_file");
    assert!(stderr.contains("org `broken`: invalid setting `client_secret_file`"), "{stderr}");
    assert!(stderr.contains("the settings of 1 of 2 orgs are invalid: broken"), "{stderr}");
    assert_no_secrets(&[&stderr, &text(&output.stdout)]);

    let output = fleet.run(&["config", "check", "--org", "prod"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(stdout.contains("# org: prod"), "{stdout}");
    assert!(stdout.contains(&format!("# file {} [orgs.prod]", config.display())), "{stdout}");
}

#[test]
fn collect_store_then_report_work_with_no_configuration() {
    let fleet = Fleet::start(vec![("only", OrgSpec::small())]);
    let org = &fleet.orgs[0].1;
    let output =
        fleet.sfconn(&["collect", "--store", "-o", "snapshot.json"]).envs(org.sfconn_env()).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let store = fleet.path("data/sfconn/history.db");
    assert!(text(&output.stderr).contains(&format!("in {}", store.display())), "{}", text(&output.stderr));
    #[cfg(unix)]
    {
        assert_eq!(common::mode(&store), 0o600);
        assert_eq!(common::mode(store.parent().unwrap()), 0o700);
    }
    let output = fleet.run(&["report", "-f", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report.is_object());
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_every_org_and_leaves_no_partial_snapshot() {
    let slow = OrgSpec { latency: Duration::from_millis(400), ..OrgSpec::with_users(6000) };
    let fleet = Fleet::start(vec![("one", slow.clone()), ("two", slow)]);
    fleet.config("", &[], &[]);
    let child = fleet
        .command()
        .args(["collect", "--all-orgs", "-o", "out"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until both orgs are collecting, then interrupt.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while fleet.orgs.iter().any(|(_, org)| org.requests_received() < 4)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = i32::try_from(child.id()).unwrap();
    let status = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stderr));
    let out = fleet.path("work/out");
    let files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["fleet.json"], "no snapshot, no temporary file");
    let summary = json_file(&out.join("fleet.json"));
    assert_eq!(summary["exit_code"], 130);
    assert!(summary["orgs"].as_array().unwrap().iter().all(|o| o["status"] == "interrupted"), "{summary}");
}

/// A finished org's store import does not hold its collection slot: with `fleet.concurrency`
/// 1 and the store locked by another writer, the next org is collected while the first one's
/// import waits for the lock, and both are stored once the lock is gone.
#[test]
fn the_next_org_is_collected_while_the_one_before_waits_to_be_stored() {
    let fleet = Fleet::start(vec![("a", OrgSpec::small()), ("b", OrgSpec::small())]);
    fleet.config("[fleet]\nconcurrency = 1\n", &[], &[]);
    let store = fleet.path("work/history.db");
    let store_arg = store.to_str().unwrap();
    // The store exists (schema, WAL, one snapshot of `a`) before another writer locks it.
    let output = fleet.run(&["collect", "--org", "a", "-o", "first.json", "--store", store_arg]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let locker = rusqlite::Connection::open(&store).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let child = fleet
        .command()
        .args(["collect", "--all-orgs", "-o", "out", "--store", store_arg])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The store waits up to 10 s for a lock; `b` is collected well within that.
    let b = &fleet.orgs[1].1;
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while b.requests_received() < 10 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let b_requests_while_locked = b.requests_received();
    locker.execute_batch("COMMIT").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        b_requests_while_locked >= 10,
        "org b was not collected while org a waited for the store ({b_requests_while_locked} requests)"
    );

    let summary = json_file(&fleet.path("work/out/fleet.json"));
    assert!(summary["orgs"].as_array().unwrap().iter().all(|o| o["status"] == "ok"), "{summary}");
    let output = fleet.run(&["history", "list", "--format", "json", "--store", store_arg]);
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
}
