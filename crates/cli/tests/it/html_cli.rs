//! `sfconn report -f html -o FILE` and `sfconn collect -f html` as the real binary: the page is
//! written atomically where asked, and its figures are those of `sfconn report -f json` for the
//! same snapshot. The page's own checks (escaping, browser) are in the store crate's tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sfconn_testkit::BlockingOrg;

use crate::common;
use common::Sandbox;

const WEEKS: [&str; 3] = ["acme-2024-06-01.json", "acme-2024-06-08.json", "acme-2024-06-15.json"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/tests/fixtures").join(name)
}

fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `sfconn ARGS --store DB` in `sandbox`.
fn sfconn(sandbox: &Sandbox, db: &Path, args: &[&str]) -> Output {
    sandbox.sfconn().args(args).arg("--store").arg(db).output().unwrap()
}

/// The text of `<td data-field="FIELD">` in the first row `<tr data-id="ID">` after `after`.
fn field(html: &str, after: &str, id: &str, field: &str) -> Option<String> {
    let rest = &html[html.find(after)?..];
    let row = &rest[rest.find(&format!("<tr data-id=\"{id}\">"))?..];
    let row = &row[..row.find("</tr>")?];
    let marker = format!("data-field=\"{field}\">");
    let cell = &row[row.find(&marker)? + marker.len()..];
    Some(cell[..cell.find("</td>")?].to_owned())
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::Number(n) if n.is_f64() => format!("{:.1}", n.as_f64().unwrap()),
        other => other.to_string(),
    }
}

/// Every subscription figure and reclaim candidate of `json` is on the page, the same.
fn assert_same_figures(html: &str, json: &Value) {
    let subscriptions = json["subscriptions"].as_array().unwrap();
    assert!(!subscriptions.is_empty());
    for sub in subscriptions {
        let id = sub["id"].as_str().unwrap();
        for name in ["used", "free", "utilisation_percent", "reclaimable"] {
            assert_eq!(
                field(html, "<section id=\"seats\">", id, name),
                Some(shown(&sub[name])),
                "{id} {name}"
            );
        }
    }
    for candidate in json["reclaim_candidates"].as_array().unwrap() {
        let user = candidate["user_id"].as_str().unwrap();
        let days = field(html, "<section id=\"reclaim\">", user, "days_since_login");
        assert_eq!(days, Some(shown(&candidate["days_since_login"])), "{user}");
    }
    let candidates = json["reclaim_candidates"].as_array().unwrap().len();
    assert!(html.contains(&format!("<h2>Reclaim candidates ({candidates})</h2>")));
}

#[test]
fn report_html_writes_the_page_to_the_file_with_the_figures_of_report_json() {
    let sandbox = Sandbox::new();
    let db = sandbox.work().join("history.db");
    for week in WEEKS {
        succeeded(&sfconn(&sandbox, &db, &["history", "import", fixture(week).to_str().unwrap()]), "import");
    }
    let page = sandbox.work().join("report.html");
    let stdout =
        succeeded(&sfconn(&sandbox, &db, &["report", "-f", "html", "-o", "report.html"]), "report -f html");
    assert_eq!(stdout, "", "the page goes to the file, nothing to stdout");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none';"));
    assert!(html.contains(&format!("sfconn {}", env!("CARGO_PKG_VERSION"))));
    let json: Value =
        serde_json::from_str(&succeeded(&sfconn(&sandbox, &db, &["report", "-f", "json"]), "report -f json"))
            .unwrap();
    assert_same_figures(&html, &json);
    // Only the page: no temporary file left beside it.
    let mut names: Vec<String> = std::fs::read_dir(sandbox.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    names.retain(|n| !n.starts_with("history.db"));
    assert_eq!(names, ["report.html"]);
}

#[test]
fn report_output_in_a_missing_directory_is_a_usage_error_before_any_work() {
    let sandbox = Sandbox::new();
    let db = sandbox.work().join("missing.db");
    let output = sfconn(&sandbox, &db, &["report", "-f", "html", "-o", "no/such/dir/report.html"]);
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no/such/dir/report.html") && stderr.contains("existing directory"), "{stderr}");
}

#[test]
fn collect_html_shows_the_figures_report_json_gives_for_the_same_snapshot() {
    let org = BlockingOrg::small();
    let sandbox = Sandbox::new();
    let db = sandbox.work().join("history.db");
    let output = sandbox
        .sfconn()
        .envs(org.sfconn_env())
        .args(["collect", "-f", "html", "-o", "page.html", "--no-progress", "--store"])
        .arg(&db)
        .output()
        .unwrap();
    let stdout = succeeded(&output, "collect -f html");
    assert_eq!(stdout, "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("html written to page.html"), "{stderr}");
    let html = std::fs::read_to_string(sandbox.work().join("page.html")).unwrap();
    // One snapshot: a sentence, no empty chart.
    assert!(html.contains("holds one snapshot of this org"), "{html}");
    let json: Value =
        serde_json::from_str(&succeeded(&sfconn(&sandbox, &db, &["report", "-f", "json"]), "report -f json"))
            .unwrap();
    assert_same_figures(&html, &json);
}

/// `collect -f html` takes the report's settings from the config file like `report` does: the
/// prices (the money headline) and `report.min_logins` (the reclaim sentence).
#[test]
fn collect_html_uses_the_reports_settings_from_the_config_file() {
    let org = BlockingOrg::small();
    let sandbox = Sandbox::new();
    let db = sandbox.work().join("history.db");
    let config = sandbox.work().join("sfconn.toml");
    std::fs::write(&config, "[report]\nmin_logins = 3\n\n[prices]\ncurrency = \"EUR\"\nSFDC = 150\n")
        .unwrap();
    let output = sandbox
        .sfconn()
        .envs(org.sfconn_env())
        .args(["collect", "-f", "html", "-o", "page.html", "--no-progress", "--config"])
        .arg(&config)
        .arg("--store")
        .arg(&db)
        .output()
        .unwrap();
    succeeded(&output, "collect -f html");
    let html = std::fs::read_to_string(sandbox.work().join("page.html")).unwrap();
    let report = sandbox
        .sfconn()
        .args(["report", "-f", "json", "--config"])
        .arg(&config)
        .arg("--store")
        .arg(&db)
        .output()
        .unwrap();
    let json: Value = serde_json::from_str(&succeeded(&report, "report -f json")).unwrap();
    assert_eq!(json["min_logins"], 3);
    assert_eq!(json["money"]["currency"], "EUR");
    assert!(json["money"]["reclaimable_monthly"].is_string(), "the Salesforce licence is priced: {json}");
    let seats = json["money"]["reclaimable_seats"].as_u64().unwrap();
    assert!(html.contains("EUR/month reclaimable"), "{html}");
    assert!(html.contains(&format!("{seats} paid seat")), "{html}");
    assert!(html.contains("or logged in fewer than 3 times"), "{html}");
}
