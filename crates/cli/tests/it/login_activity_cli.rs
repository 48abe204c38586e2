//! `sfconn collect --login-activity DAYS` end to end: the real binary against the simulated
//! org, through REST paging and through a Bulk API 2.0 query job (the threshold forced by the
//! setting), with known answers computed from the simulated org's own generator, and each
//! Bulk fault with its exit code and message.

use std::collections::BTreeMap;
use std::process::Output;

use serde_json::Value;
use sfconn_testkit::{HiddenAs, OrgData, OrgSpec};

use crate::common::{Org, collected_document as document};

const DAYS: u32 = 30;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(org: &Org, threshold: &str) -> Output {
    let mut cmd = org.sfconn();
    cmd.args(["collect", "--login-activity", &DAYS.to_string()])
        .env("SFCONN_LOGIN_ACTIVITY_BULK_THRESHOLD", threshold)
        .env("SFCONN_HTTP__MAX_RETRIES", "1");
    cmd.output().unwrap()
}

/// Per user id: (successful logins in the window, latest one's application and type), from
/// the generator; users without any are (0, None, None).
fn known_answers(data: &OrgData) -> BTreeMap<String, (u64, Option<String>, Option<String>)> {
    let start = OrgData::last_n_days_start(DAYS);
    data.users()
        .map(|user| {
            let window: Vec<_> = data
                .login_history_of(user.index)
                .filter(|row| row.status == "Success" && row.login_time >= start)
                .collect();
            let latest = window.iter().max_by_key(|row| row.login_time);
            (
                user.id.clone(),
                (
                    window.len() as u64,
                    latest.map(|row| row.application.to_owned()),
                    latest.map(|row| row.login_type.to_owned()),
                ),
            )
        })
        .collect()
}

fn collected(document: &Value) -> BTreeMap<String, (u64, Option<String>, Option<String>)> {
    document["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| {
            let text = |key: &str| user[key].as_str().map(str::to_owned);
            (
                user["id"].as_str().unwrap().to_owned(),
                (
                    user["logins_in_window"].as_u64().unwrap(),
                    text("last_login_application"),
                    text("last_login_type"),
                ),
            )
        })
        .collect()
}

#[test]
fn rest_and_bulk_paths_give_the_known_answers() {
    let org = Org::start(OrgSpec::with_users(600));
    let expected = known_answers(org.org.data());
    let successful: u64 = expected.values().map(|(n, _, _)| n).sum();
    assert!(expected.values().any(|(n, _, _)| *n == 0) && successful > 1_000, "{successful} logins");
    // Every attempt in the window is read (Status cannot be filtered on), the failed ones too.
    let start = OrgData::last_n_days_start(DAYS);
    let data = org.org.data();
    let rows = data
        .users()
        .flat_map(|user| data.login_history_of(user.index))
        .filter(|row| row.login_time >= start)
        .count() as u64;
    assert!(rows > successful, "{rows} rows, {successful} successful");

    let rest = document(&run(&org, "1000000"));
    assert_eq!(collected(&rest), expected);
    assert_eq!(
        rest["organization"]["login_activity"],
        serde_json::json!({"days": DAYS, "path": "rest", "rows": rows, "successful": successful})
    );
    assert!(org.org.bulk_jobs().is_empty(), "no Bulk job below the threshold");

    let bulk = document(&run(&org, "0"));
    assert_eq!(collected(&bulk), expected);
    assert_eq!(
        bulk["organization"]["login_activity"],
        serde_json::json!({"days": DAYS, "path": "bulk", "rows": rows, "successful": successful})
    );
    let jobs = org.org.bulk_jobs();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].deleted, "the job is deleted at the end");
    assert!(jobs[0].query.contains("LAST_N_DAYS:30"), "{}", jobs[0].query);
}

#[test]
fn off_by_default_and_unreadable_login_history_is_skipped() {
    let org = Org::small();
    let output = org.sfconn().arg("collect").output().unwrap();
    let off = document(&output);
    assert!(off["organization"].get("login_activity").is_none());
    assert!(off["users"].as_array().unwrap().iter().all(|u| u["logins_in_window"].is_null()));

    org.org.faults().hide_object("LoginHistory", HiddenAs::InsufficientAccess);
    let skipped = document(&run(&org, "0"));
    assert!(skipped["organization"]["login_activity"].is_null());
    assert!(skipped["users"].as_array().unwrap().iter().all(|u| u["logins_in_window"].is_null()));
    let warning = skipped["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "source_skipped" && w["source"] == "LoginHistory")
        .unwrap_or_else(|| panic!("{}", skipped["warnings"]));
    assert!(warning["message"].as_str().unwrap().contains("Manage Users"), "{warning}");
}

/// Puts a fault in place.
type Stage = fn(&Org);

/// Each Bulk failure: its exit code, one message keeping Salesforce's words, nothing on
/// stdout, and no job left running.
#[test]
fn bulk_faults_exit_with_their_class_and_leave_no_job_behind() {
    let cases: [(&str, i32, Stage); 5] = [
        ("bulk_job_failed", 75, |org| {
            org.org.faults().bulk_job_fails(Some("InternalServerError : retried more than 15 times"));
        }),
        ("bulk_job_aborted", 69, |org| org.org.faults().bulk_job_aborted_elsewhere(true)),
        ("bulk_limit", 75, |org| org.org.faults().bulk_limit_reached(true)),
        ("bulk_page_lost", 75, |org| {
            org.org.faults().bulk_results_page_lost(1);
        }),
        // Cut on every attempt: asked for again http.max_retries (1) times, then given up.
        ("bulk_page_cut", 75, |org| {
            org.org.faults().bulk_results_page_cut(1);
        }),
    ];
    let mut messages = String::new();
    for (name, code, fault) in cases {
        let org = Org::small();
        fault(&org);
        let output = run(&org, "0");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}: nothing on stdout");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(org.org.bulk_jobs().iter().all(|job| job.deleted), "{name}: {:?}", org.org.bulk_jobs());
        messages.push_str(&format!(
            "{name} (exit {code}): {}",
            stderr.replace(&org.org.instance_url(), "[INSTANCE]")
        ));
    }
    let job_id = regex_free_job_ids(&messages);
    insta::assert_snapshot!("bulk_fault_messages", job_id);
}

/// Job ids as `[JOB]` (they depend on nothing but the order, yet say nothing to a reader).
fn regex_free_job_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("7504W") {
        out.push_str(&rest[..at]);
        out.push_str("[JOB]");
        rest = &rest[(at + 18).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// Ctrl-C while the Bulk job runs: exit 130, nothing on stdout, and the job is aborted (then
/// deleted) before sfconn exits, not left running in the org.
#[test]
fn ctrl_c_aborts_the_running_bulk_job() {
    let org = Org::small();
    org.org.faults().bulk_polls_in_progress(10_000);
    let child = org
        .sfconn()
        .args(["collect", "--no-progress", "--login-activity", "30"])
        .env("SFCONN_LOGIN_ACTIVITY_BULK_THRESHOLD", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while org.org.bulk_jobs().is_empty() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "no job was created");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    let jobs = org.org.bulk_jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, "Aborted", "{jobs:?}");
    assert!(jobs[0].deleted, "{jobs:?}");
}

/// Collected with login activity and stored, the report reads the stored counts: the window
/// collected, the low-activity class computed, and the distribution of active people by their
/// logins exactly as the snapshot's users give it. (Stored as collected now, the simulated org's
/// users are all `inactive` first: its `LastLoginDate`s are relative to its own present,
/// `REFERENCE_TIME`; which users land in the class is checked by the next test.)
#[test]
fn the_stored_login_activity_reaches_the_report() {
    let org = Org::start(OrgSpec::with_users(600));
    let mut cmd = org.sfconn();
    cmd.args([
        "collect",
        "--login-activity",
        &DAYS.to_string(),
        "-o",
        "snapshot.json",
        "--store",
        "history.db",
    ]);
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = org.bare().args(["report", "-f", "json", "--store", "history.db"]).output().unwrap();
    assert_eq!(report.status.code(), Some(0), "{}", text(&report.stderr));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let snapshot: Value =
        serde_json::from_slice(&std::fs::read(org.work().join("snapshot.json")).unwrap()).unwrap();

    let activity = &report["login_activity"];
    assert_eq!(activity["state"], "collected", "{activity}");
    assert_eq!(activity["days"], DAYS);
    assert_eq!(activity["path"], snapshot["organization"]["login_activity"]["path"]);
    assert_eq!(activity["rows"], snapshot["organization"]["login_activity"]["rows"]);
    let class = report["classes"].as_array().unwrap().iter().find(|c| c["class"] == "low_activity").unwrap();
    assert_eq!(class["computed"], true, "{class}");

    // Active people (not guest or system accounts) by logins: 0, 1–4, 5–19, 20+.
    let mut expected = [0_i64; 4];
    for user in snapshot["users"].as_array().unwrap() {
        let person = !matches!(user["account_kind"].as_str(), Some("guest" | "system"));
        if user["active"] == true && person {
            let logins = user["logins_in_window"].as_i64().unwrap();
            expected[match logins {
                0 => 0,
                1..=4 => 1,
                5..=19 => 2,
                _ => 3,
            }] += 1;
        }
    }
    let reported: Vec<i64> = activity["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket["users"].as_i64().unwrap())
        .collect();
    assert_eq!(reported, expected, "{activity}");
    assert!(expected.iter().filter(|n| **n > 0).count() >= 3, "the org spreads its logins: {expected:?}");
}

/// The low-activity class with known answers: the snapshot is stored as if collected at the
/// simulated org's own present (`REFERENCE_TIME`, which its `LastLoginDate`s and LoginHistory
/// are relative to), and the class must hold exactly the active people with a paid licence who
/// are neither frozen, nor inactive, nor never logged in, were created before the window, and
/// logged in fewer than `min_logins` times in it, by the generator's own rows.
#[test]
fn the_low_activity_class_is_the_simulated_orgs_paid_users_with_few_logins() {
    use sfconn_testkit::REFERENCE_TIME;
    const DAY: i64 = 86_400;
    let org = Org::start(OrgSpec::with_users(600));
    let output = run(&org, "1000000");
    let mut snapshot = document(&output);
    let min_logins = 5;
    let report = crate::common::report_at_the_orgs_present(
        &org,
        &mut snapshot,
        &["--min-logins", &min_logins.to_string()],
    );

    let data = org.org.data();
    let logins = known_answers(data);
    let paid = crate::collect::paid_holders(data);
    let kinds = crate::common::account_kinds(&snapshot);
    let inactive_before = REFERENCE_TIME - i64::from(sfconn_store::DEFAULT_INACTIVE_DAYS) * DAY;
    let window_start = REFERENCE_TIME - i64::from(DAYS) * DAY;
    let expected: std::collections::BTreeSet<String> = data
        .users()
        .filter(|user| {
            let person = !matches!(kinds[user.id.as_str()], "guest" | "system");
            let no_recent_login = match user.last_login_date {
                Some(last) => last.0 < inactive_before,
                None => user.created_date.0 < inactive_before,
            };
            user.is_active
                && person
                && paid.contains(&user.id)
                && !user.is_frozen
                && !no_recent_login
                && user.created_date.0 < window_start
                && logins[&user.id].0 < min_logins
        })
        .map(|user| user.id)
        .collect();
    let low: std::collections::BTreeSet<String> = report["reclaim_candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["reason"] == "low_activity")
        .map(|c| c["user_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(expected.len() >= 5, "the generator gives some paid users few logins: {expected:?}");
    assert_eq!(low, expected);
    let class = report["classes"].as_array().unwrap().iter().find(|c| c["class"] == "low_activity").unwrap();
    assert_eq!(class["candidates"], expected.len());
}
