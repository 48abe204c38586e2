//! `cargo xtask bench --login-activity DAYS [--logins-per-month N] [--users N] [--latency-ms L]
//! [--debug]`: one org, collected twice with login activity on: once through REST paging
//! (`login_activity_bulk_threshold` above the window's rows) and once through a Bulk API 2.0
//! query job (threshold 0), after a run without login activity (`off`, the baseline). Wall time, requests the org received, peak RSS of each, side by
//! side, into target/bench/login-activity.md. Default: 100,000 users, 20 logins a month, 30 days,
//! 100 ms latency.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use sfconn_testkit::{OrgSpec, SimulatedOrg};

use super::measure::{Usage, run_measured};
use crate::project_root;

const USAGE: &str = "usage: cargo xtask bench --login-activity DAYS [--logins-per-month 20] [--users 100000] [--latency-ms 100] [--debug]";

/// The memory target for this run.
const MAX_RSS_MIB: f64 = 64.0;

struct Measured {
    path: &'static str,
    usage: Usage,
    requests: u64,
    rows: u64,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let (mut days, mut per_month, mut users, mut latency_ms, mut release) =
        (30_u32, 20_u32, 100_000_usize, 100_u64, true);
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut number = |name: &str| -> Result<u64> {
            let value = iter.next().with_context(|| format!("{name} needs a number\n{USAGE}"))?;
            value.replace('_', "").parse().with_context(|| format!("{name} takes a whole number\n{USAGE}"))
        };
        match arg.as_str() {
            "--login-activity" => days = u32::try_from(number("--login-activity")?)?,
            "--logins-per-month" => per_month = u32::try_from(number("--logins-per-month")?)?,
            "--users" => users = usize::try_from(number("--users")?)?,
            "--latency-ms" => latency_ms = number("--latency-ms")?,
            "--debug" => release = false,
            _ => bail!("unknown flag {arg}\n{USAGE}"),
        }
    }
    ensure!(
        (1..=180).contains(&days) && users > 0,
        "--login-activity takes 1 to 180 days, --users above 0\n{USAGE}"
    );
    let bench_dir = project_root().join("target/bench");
    let home = bench_dir.join("home");
    fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;
    let sfconn = super::build_sfconn(release)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut spec = OrgSpec::with_users(users);
    spec.logins_per_month = per_month;
    spec.latency = Duration::from_millis(latency_ms);
    spec.request_log_limit = 0;
    eprintln!(
        "xtask bench: login activity: {users} users, {per_month} logins a month, {days} days: generating the org"
    );
    let org = runtime.block_on(SimulatedOrg::start(spec));
    // The simulated job completes at its second status poll (sfconn waits 0.5 s, then 1 s).
    org.faults().bulk_polls_in_progress(1);
    let mut measured = Vec::new();
    // The same org without login activity first: what the two paths add to a run.
    for (path, days, threshold) in [("off", 0, 0), ("rest", days, 1_000_000_000), ("bulk", days, 0)] {
        measured.push(collect(&sfconn, &org, &bench_dir, &home, days, path, threshold)?);
    }
    drop(org);
    let markdown = report(users, per_month, days, latency_ms, &measured);
    fs::write(bench_dir.join("login-activity.md"), &markdown).context("cannot write login-activity.md")?;
    println!("{markdown}");
    Ok(())
}

fn collect(
    sfconn: &Path,
    org: &SimulatedOrg,
    bench_dir: &Path,
    home: &Path,
    days: u32,
    path: &'static str,
    threshold: u64,
) -> Result<Measured> {
    let output = bench_dir.join(format!("login-activity-{path}.json"));
    let stderr = bench_dir.join(format!("login-activity-{path}.stderr"));
    let mut command = super::isolated(sfconn, home);
    command.args(["collect", "-f", "json", "--no-progress", "-o"]).arg(&output);
    command.envs(org.sfconn_env());
    command.env("SFCONN_LOGIN_ACTIVITY_DAYS", days.to_string());
    command.env("SFCONN_LOGIN_ACTIVITY_BULK_THRESHOLD", threshold.to_string());
    eprintln!("xtask bench: login activity through {path}: sfconn collect");
    let before = org.requests_received();
    let finished = run_measured(command, &bench_dir.join(format!("login-activity-{path}.stdout")), &stderr)?;
    let requests = org.requests_received() - before;
    if !finished.status.success() {
        bail!(
            "sfconn collect failed ({}); its stderr is in {}:\n{}",
            finished.status,
            stderr.display(),
            fs::read_to_string(&stderr).unwrap_or_default()
        );
    }
    let document: Value = serde_json::from_slice(&fs::read(&output)?).context("reading the snapshot")?;
    let activity = &document["organization"]["login_activity"];
    if days > 0 {
        ensure!(activity["path"] == path, "the run took the {} path, not {path}", activity["path"]);
    }
    Ok(Measured { path, usage: finished.usage, requests, rows: activity["rows"].as_u64().unwrap_or(0) })
}

fn report(users: usize, per_month: u32, days: u32, latency_ms: u64, runs: &[Measured]) -> String {
    let mut out = format!(
        "### Login activity, {users} users, {per_month} logins a month, --login-activity {days}, {latency_ms} ms latency\n\n\
         | path | LoginHistory rows | wall | CPU | requests | peak RSS |\n|---|---:|---:|---:|---:|---:|\n"
    );
    for run in runs {
        let rss = run.usage.peak_rss as f64 / super::MIB;
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} s | {:.1} s | {} | {:.1} MiB{} |",
            run.path,
            run.rows,
            run.usage.wall.as_secs_f64(),
            run.usage.cpu.as_secs_f64(),
            run.requests,
            rss,
            if rss <= MAX_RSS_MIB { String::new() } else { format!(" (over {MAX_RSS_MIB})") }
        );
    }
    out
}
