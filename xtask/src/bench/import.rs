//! The store's import, `sfconn history import` of one snapshot file into a new SQLite store
//! and into a new PostgreSQL database (the test kit's server, `testkit::postgres::Cluster`):
//! wall time and peak RSS of the sfconn process. The import streams its users, so the peak RSS
//! should not grow with them (docs/benchmarks.md, "Store import").

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sfconn_testkit::postgres::{Cluster, PASSWORD};

use super::measure::{Usage, run_measured};
use super::{MIB, isolated};

/// Users of the snapshot the full benchmark imports.
pub(super) const USERS: usize = 200_000;

/// One measured import.
#[derive(Debug, Clone)]
pub(super) struct ImportRun {
    pub engine: &'static str,
    pub users: usize,
    pub usage: Usage,
}

/// Imports `snapshot` (of `users` users) into each engine's new, empty store.
pub(super) fn run(
    sfconn: &Path,
    bench_dir: &Path,
    home: &Path,
    snapshot: &Path,
    users: usize,
) -> Result<Vec<ImportRun>> {
    let db = bench_dir.join(format!("import-{users}.db"));
    for path in [db.clone(), db.with_extension("db-wal"), db.with_extension("db-shm")] {
        drop(fs::remove_file(path));
    }
    let mut sqlite = isolated(sfconn, home);
    sqlite.args(["history", "import"]).arg(snapshot).arg("--store").arg(&db);
    let mut runs = vec![measure("sqlite", sqlite, bench_dir, users)?];

    let cluster =
        Cluster::start().map_err(anyhow::Error::msg).context("cannot start PostgreSQL for the import")?;
    let url = cluster.url_without_password(&cluster.database());
    let mut postgres = isolated(sfconn, home);
    postgres
        .args(["history", "import"])
        .arg(snapshot)
        .args(["--store-url", &url])
        .env("PGPASSWORD", PASSWORD);
    runs.push(measure("postgresql", postgres, bench_dir, users)?);
    Ok(runs)
}

fn measure(
    engine: &'static str,
    command: std::process::Command,
    bench_dir: &Path,
    users: usize,
) -> Result<ImportRun> {
    eprintln!("xtask bench: {users} users: sfconn history import into {engine}");
    let stdout = bench_dir.join(format!("import-{engine}-{users}.stdout"));
    let stderr = bench_dir.join(format!("import-{engine}-{users}.stderr"));
    let finished = run_measured(command, &stdout, &stderr)?;
    if !finished.status.success() {
        bail!(
            "sfconn history import into {engine} failed ({}):\n{}",
            finished.status,
            fs::read_to_string(&stderr).unwrap_or_default()
        );
    }
    let printed = fs::read_to_string(&stdout).unwrap_or_default();
    if !printed.contains(&format!(", {users} users,")) {
        bail!("sfconn history import into {engine} did not store {users} users: {printed}");
    }
    Ok(ImportRun { engine, users, usage: finished.usage })
}

pub(super) fn markdown(runs: &[ImportRun]) -> String {
    let mut md = String::from(
        "\nStore import (`sfconn history import` of the snapshot into a new store):\n\n\
         | store | users | wall s | users/s | peak RSS MiB |\n|---|---:|---:|---:|---:|\n",
    );
    for run in runs {
        let wall = run.usage.wall.as_secs_f64();
        md.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} | {:.1} |\n",
            run.engine,
            run.users,
            wall,
            run.users as f64 / wall.max(f64::EPSILON),
            run.usage.peak_rss as f64 / MIB
        ));
    }
    if let Some(ratio) = postgres_over_sqlite(runs) {
        let verdict = if ratio <= TARGET_POSTGRES_OVER_SQLITE { "met" } else { "missed" };
        md.push_str(&format!(
            "\nPostgreSQL ÷ SQLite wall time: {ratio:.2} (target ≤ {TARGET_POSTGRES_OVER_SQLITE}: {verdict})\n"
        ));
    }
    md
}

/// The PostgreSQL import may take at most this many times the SQLite one (issue 14).
const TARGET_POSTGRES_OVER_SQLITE: f64 = 2.0;

/// The PostgreSQL import's wall time over the SQLite one's, when both ran.
fn postgres_over_sqlite(runs: &[ImportRun]) -> Option<f64> {
    let wall =
        |engine: &str| runs.iter().find(|run| run.engine == engine).map(|run| run.usage.wall.as_secs_f64());
    let (sqlite, postgres) = (wall("sqlite")?, wall("postgresql")?);
    (sqlite > 0.0).then(|| postgres / sqlite)
}

pub(super) fn json(runs: &[ImportRun]) -> Value {
    Value::Array(
        runs.iter()
            .map(|run| {
                json!({
                    "store": run.engine,
                    "users": run.users,
                    "wall_seconds": run.usage.wall.as_secs_f64(),
                    "cpu_seconds": run.usage.cpu.as_secs_f64(),
                    "peak_rss_bytes": run.usage.peak_rss,
                })
            })
            .collect(),
    )
}
