//! `cargo xtask bench --report-html [--users N] [--weeks W]`: how long `sfconn report -f html`
//! takes against `sfconn report -f json` on a store of W weekly snapshots of an N-user org, and
//! how big the page is (the aim: within 2 x the JSON time, under 2 MiB). Default: 100,000
//! users, 52 weeks. The snapshots are made from the store's test snapshot
//! (`crates/store/tests/fixtures/acme-2024-06-01.json`), its users repeated to N with their own
//! ids, names and domains, and imported with `sfconn history import`; seat counts change week by
//! week so the history has something to draw. Results go to target/bench/report-html.md.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::{cargo, project_root, run_step};

const USAGE: &str = "usage: cargo xtask bench --report-html [--users 100000] [--weeks 52] [--debug]
  --debug  measure the debug build of sfconn (no release build; absolute times are slower)";

/// The 2 MiB the issue allows the page.
const MAX_PAGE_BYTES: u64 = 2 * 1024 * 1024;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let (mut users, mut weeks, mut release) = (100_000_usize, 52_usize, true);
    let mut iter = args.iter().filter(|a| *a != "--report-html");
    while let Some(arg) = iter.next() {
        let mut number = |name: &str| -> Result<usize> {
            let value = iter.next().with_context(|| format!("{name} needs a number\n{USAGE}"))?;
            value.replace('_', "").parse().with_context(|| format!("{name} takes a whole number\n{USAGE}"))
        };
        match arg.as_str() {
            "--users" => users = number("--users")?,
            "--weeks" => weeks = number("--weeks")?,
            "--debug" => release = false,
            _ => bail!("unknown flag {arg}\n{USAGE}"),
        }
    }
    ensure!(users > 0 && weeks > 0, "--users and --weeks must be above 0\n{USAGE}");

    let mut build = cargo();
    build.args(["build", "--package", "sfconn-cli", "--bin", "sfconn"]);
    if release {
        build.arg("--release");
    }
    run_step("build sfconn", build)?;
    let sfconn = project_root().join(if release { "target/release/sfconn" } else { "target/debug/sfconn" });
    let dir = project_root().join("target/bench/report-html");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store = dir.join("history.db");

    let template: Value = serde_json::from_str(&fs::read_to_string(
        project_root().join("crates/store/tests/fixtures/acme-2024-06-01.json"),
    )?)?;
    let started = Instant::now();
    for week in 0..weeks {
        let snapshot = dir.join("snapshot.json");
        fs::write(&snapshot, serde_json::to_vec(&weekly_snapshot(&template, users, week))?)?;
        let status = std::process::Command::new(&sfconn)
            .args(["history", "import"])
            .arg(&snapshot)
            .arg("--store")
            .arg(&store)
            .stdout(std::process::Stdio::null())
            .status()?;
        ensure!(status.success(), "history import of week {week} failed");
    }
    fs::remove_file(dir.join("snapshot.json")).ok();
    let store_bytes = fs::metadata(&store)?.len();
    eprintln!("xtask bench: {weeks} snapshots of {users} users stored in {:.1?}", started.elapsed());

    let json = best_of_three(&sfconn, &store, "json", &dir.join("report.json"))?;
    let html = best_of_three(&sfconn, &store, "html", &dir.join("report.html"))?;
    let page = fs::metadata(dir.join("report.html"))?.len();
    let ratio = html.as_secs_f64() / json.as_secs_f64().max(1e-9);
    let markdown = format!(
        "| users | weeks | build | store | `report -f json` | `report -f html` | html / json | page | targets (<= 2x, < 2 MiB) |\n\
         |---:|---:|:-:|---:|---:|---:|---:|---:|:-:|\n\
         | {users} | {weeks} | {} | {:.0} MiB | {:.2} s | {:.2} s | {ratio:.2} | {:.0} KiB | {} |\n",
        if release { "release" } else { "debug" },
        mib(store_bytes),
        json.as_secs_f64(),
        html.as_secs_f64(),
        kib(page),
        if ratio <= 2.0 && page < MAX_PAGE_BYTES { "met" } else { "MISSED" }
    );
    fs::write(project_root().join("target/bench/report-html.md"), &markdown)?;
    println!("{markdown}");
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[allow(clippy::cast_precision_loss)]
fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

/// The shortest of three runs of `sfconn report -f FORMAT -o OUT` on the latest snapshot.
fn best_of_three(sfconn: &Path, store: &Path, format: &str, out: &Path) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let status = std::process::Command::new(sfconn)
            .args(["report", "-f", format, "-o"])
            .arg(out)
            .arg("--store")
            .arg(store)
            .status()?;
        ensure!(status.success(), "report -f {format} failed");
        best = best.min(started.elapsed());
    }
    eprintln!("xtask bench: report -f {format}: {:.2} s", best.as_secs_f64());
    Ok(best)
}

/// Week `week` of an org of `users` users made from `template`'s users and subscriptions.
fn weekly_snapshot(template: &Value, users: usize, week: usize) -> Value {
    let mut doc = template.clone();
    let day = time_of(week);
    doc["collected_at"] = Value::from(day.clone());
    let people = template["users"].as_array().cloned().unwrap_or_default();
    let scale = i64::try_from(users / people.len().max(1)).unwrap_or(1).max(1);
    let week_i = i64::try_from(week).unwrap_or(0);
    if let Some(subscriptions) = doc["subscriptions"].as_array_mut() {
        for sub in subscriptions {
            if let (Some(total @ 1..), Some(used)) = (sub["total"].as_i64(), sub["used"].as_i64()) {
                sub["total"] = Value::from(total * scale);
                sub["used"] = Value::from((used * scale * (90 + (week_i * 7) % 25) / 100).max(0));
            }
        }
    }
    let generated: Vec<Value> = (0..users)
        .map(|n| {
            let mut user = people[n % people.len()].clone();
            let domain = if user["account_kind"] == "internal" {
                "acme.com".to_owned()
            } else {
                format!("partner{}.example", n % 3000)
            };
            user["id"] = Value::from(format!("005{n:012}AAA"));
            user["username"] = Value::from(format!("user{n}@{domain}"));
            user["email"] = Value::from(format!("user{n}@{domain}"));
            user["email_domain"] = Value::from(domain);
            user["name"] = Value::from(format!("User {n}"));
            user
        })
        .collect();
    doc["users"] = Value::from(generated);
    if let Some(summary) = doc["summary"].as_object_mut() {
        summary.insert("users_total".into(), Value::from(users));
    }
    doc
}

/// `2024-06-01T08:00:00Z` plus `week` weeks.
fn time_of(week: usize) -> String {
    let start = 19_875_usize; // 2024-06-01 in days since 1970-01-01
    let days = start + week * 7;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}T08:00:00Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_count_from_the_first_of_june_2024_across_months_and_years() {
        assert_eq!(time_of(0), "2024-06-01T08:00:00Z");
        assert_eq!(time_of(1), "2024-06-08T08:00:00Z");
        assert_eq!(time_of(31), "2025-01-04T08:00:00Z");
    }

    #[test]
    fn the_snapshot_has_the_users_asked_for_in_id_order() {
        let template = serde_json::json!({
            "users": [{"id": "a", "account_kind": "internal"}, {"id": "b", "account_kind": "partner"}],
            "subscriptions": [{"total": 10, "used": 5}],
            "summary": {}
        });
        let doc = weekly_snapshot(&template, 5, 2);
        let ids: Vec<&str> =
            doc["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
        assert_eq!(ids.len(), 5);
        assert_eq!(doc["users"][1]["email_domain"], "partner1.example");
        assert_eq!(doc["subscriptions"][0]["total"], 20);
    }
}
