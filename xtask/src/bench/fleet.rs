//! `cargo xtask bench --fleet`: one `sfconn collect --all-orgs --store-url …` over a fleet of
//! simulated orgs (default 8 orgs of 50,000 users at 100 ms per request, `fleet.concurrency`
//! 2), each snapshot kept in the test kit's PostgreSQL server, as the Kubernetes deployment
//! keeps them (docs/deploy.md). Measured: the fleet's wall time against its floor (the longest
//! org's latency floor × ceil(orgs ÷ concurrency)), the requests against the sum of each org's
//! minimum, and the peak RSS of the one sfconn process against 64 MiB × concurrency
//! (docs/benchmarks.md, "Fleet"). `--smoke` runs a tiny fleet with no latency and fails only
//! when an org fails, loses users, is not stored, or sends more than its minimum.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use sfconn_testkit::postgres::{Cluster, PASSWORD};
use sfconn_testkit::{OrgSpec, SimulatedOrg};

use super::measure::{Usage, run_measured};
use super::plan::Workload;
use super::{MIB, build_sfconn, isolated};

/// Peak RSS allowed per org collected at once.
const TARGET_RSS_MIB_PER_CONCURRENT_ORG: f64 = 64.0;
/// Wall ÷ floor allowed.
const TARGET_WALL_OVER_FLOOR: f64 = 1.25;

const USAGE: &str = "usage: cargo xtask bench --fleet [--orgs 8] [--users 50000] [--latency-ms 100] [--concurrency 2] [--no-store] [--smoke]
  one `sfconn collect --all-orgs --store-url` over ORGS simulated orgs of USERS users each,
  FLEET.CONCURRENCY at a time, every snapshot stored in a PostgreSQL server started for it
  --no-store  collection only (no --store-url): what the store adds is the difference
  --smoke  what `cargo xtask ci` runs: 3 orgs of 1000 users, no latency, debug binary";

#[derive(Debug, Clone, PartialEq)]
pub(super) struct FleetOptions {
    pub orgs: usize,
    pub users: usize,
    pub latency: Duration,
    pub concurrency: usize,
    pub release: bool,
    pub smoke: bool,
    /// Keep the snapshots in a PostgreSQL store (`--no-store`: collection only).
    pub store: bool,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            orgs: 8,
            users: 50_000,
            latency: Duration::from_millis(100),
            concurrency: 2,
            release: true,
            smoke: false,
            store: true,
        }
    }
}

pub(super) fn parse_options(args: &[String]) -> Result<FleetOptions> {
    let mut options = FleetOptions::default();
    let mut args = args.iter().filter(|arg| *arg != "--fleet");
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64> {
            let value = args.next().with_context(|| format!("{name} needs a number\n{USAGE}"))?;
            value.replace('_', "").parse().with_context(|| format!("{name} takes a whole number\n{USAGE}"))
        };
        match arg.as_str() {
            "--orgs" => options.orgs = usize::try_from(number("--orgs")?)?,
            "--users" => options.users = usize::try_from(number("--users")?)?,
            "--latency-ms" => options.latency = Duration::from_millis(number("--latency-ms")?),
            "--concurrency" => options.concurrency = usize::try_from(number("--concurrency")?)?,
            "--no-store" => options.store = false,
            "--smoke" => {
                options = FleetOptions {
                    orgs: 3,
                    users: 1_000,
                    latency: Duration::ZERO,
                    concurrency: 2,
                    release: false,
                    smoke: true,
                    store: true,
                };
            }
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    ensure!(options.orgs > 0 && options.users > 0, "--orgs and --users must be above 0\n{USAGE}");
    // sfconn's own range for fleet.concurrency (docs/configuration.md).
    ensure!(
        (1..=16).contains(&options.concurrency),
        "--concurrency takes 1 to 16, as fleet.concurrency does"
    );
    Ok(options)
}

/// The measured fleet run.
#[derive(Debug, Clone)]
pub(super) struct FleetResult {
    pub options: FleetOptions,
    pub usage: Usage,
    /// The longest org's latency floor × ceil(orgs ÷ concurrency).
    pub floor: Duration,
    pub requests: u64,
    pub minimum_requests: u64,
    pub users_stored: u64,
    pub snapshots_stored: u64,
}

impl FleetResult {
    /// None without latency: there is no floor to compare with.
    fn wall_over_floor(&self) -> Option<f64> {
        (!self.floor.is_zero()).then(|| self.usage.wall.as_secs_f64() / self.floor.as_secs_f64())
    }

    fn rss_target_mib(&self) -> f64 {
        TARGET_RSS_MIB_PER_CONCURRENT_ORG * self.options.concurrency as f64
    }
}

/// The fleet's floor: orgs are collected `concurrency` at a time, so there are
/// ceil(orgs ÷ concurrency) waves, each as long as its longest org.
pub(super) fn fleet_floor(org_floors: &[Duration], concurrency: usize) -> Duration {
    let longest = org_floors.iter().max().copied().unwrap_or_default();
    let waves = org_floors.len().div_ceil(concurrency.max(1));
    longest * u32::try_from(waves).unwrap_or(u32::MAX)
}

pub(super) fn run(options: FleetOptions) -> Result<()> {
    let bench_dir = super::project_root().join(if options.smoke {
        "target/bench/smoke/fleet"
    } else {
        "target/bench/fleet"
    });
    if bench_dir.exists() {
        fs::remove_dir_all(&bench_dir).with_context(|| format!("cannot clear {}", bench_dir.display()))?;
    }
    let home = bench_dir.join("home");
    let secrets = bench_dir.join("secrets");
    for dir in [&home, &secrets] {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let sfconn = build_sfconn(options.release)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;

    eprintln!(
        "xtask bench: fleet of {} orgs × {} users, {} ms latency, concurrency {}: generating the orgs",
        options.orgs,
        options.users,
        options.latency.as_millis(),
        options.concurrency
    );
    let orgs: Vec<(String, SimulatedOrg)> = (1..=options.orgs)
        .map(|number| {
            let mut spec = OrgSpec::with_users(options.users);
            spec.latency = options.latency;
            spec.seed ^= number as u64;
            spec.org_number = number as u64;
            spec.org_name = format!("Acme {number:02}");
            spec.request_log_limit = 0;
            (format!("org-{number:02}"), runtime.block_on(SimulatedOrg::start(spec)))
        })
        .collect();
    let workloads: Vec<Workload> = orgs.iter().map(|(_, org)| Workload::of(org.data())).collect();
    let floor = fleet_floor(
        &workloads.iter().map(|w| w.sfconn_floor(options.latency, Duration::ZERO)).collect::<Vec<_>>(),
        options.concurrency,
    );
    let minimum_requests = workloads.iter().map(Workload::sfconn_minimum_requests).sum();
    let config = write_config(&bench_dir, &secrets, &orgs, options.concurrency)?;

    let store = if options.store {
        let cluster =
            Cluster::start().map_err(anyhow::Error::msg).context("cannot start PostgreSQL for the fleet")?;
        let url = cluster.url_without_password(&cluster.database());
        Some((cluster, url))
    } else {
        None
    };
    let out = bench_dir.join("out");
    let mut command = isolated(&sfconn, &home);
    command.args(["collect", "--all-orgs", "--no-progress", "-c"]).arg(&config).arg("-o").arg(&out);
    if let Some((_, url)) = &store {
        command.args(["--store-url", url]).env("PGPASSWORD", PASSWORD);
    }
    eprintln!(
        "xtask bench: fleet: sfconn collect --all-orgs{}",
        if store.is_some() { " --store-url" } else { "" }
    );
    let finished = run_measured(command, &bench_dir.join("sfconn.stdout"), &bench_dir.join("sfconn.stderr"))?;
    let stderr = fs::read_to_string(bench_dir.join("sfconn.stderr")).unwrap_or_default();
    ensure!(finished.status.success(), "the fleet collection failed ({}):\n{stderr}", finished.status);
    let requests = orgs.iter().map(|(_, org)| org.requests_received()).sum();

    check_fleet_file(&out.join("fleet.json"), &orgs, options.users)?;
    let (snapshots_stored, users_stored) = match &store {
        Some((_, url)) => stored(&sfconn, &home, url)?,
        None => (0, 0),
    };
    ensure!(
        store.is_none()
            || (snapshots_stored == options.orgs as u64
                && users_stored == (options.orgs * options.users) as u64),
        "the store holds {snapshots_stored} snapshots with {users_stored} users; expected {} with {}",
        options.orgs,
        options.orgs * options.users
    );
    let result = FleetResult {
        options,
        usage: finished.usage,
        floor,
        requests,
        minimum_requests,
        users_stored,
        snapshots_stored,
    };

    let markdown = markdown(&result);
    fs::write(bench_dir.join("results.md"), &markdown).context("cannot write results.md")?;
    let text = serde_json::to_string_pretty(&json(&result)).context("cannot encode the results")?;
    fs::write(bench_dir.join("results.json"), text + "\n").context("cannot write results.json")?;
    println!("{markdown}");
    eprintln!("xtask bench: wrote results.json and results.md in {}", bench_dir.display());
    if result.options.smoke {
        ensure!(
            result.requests <= result.minimum_requests,
            "smoke: the fleet sent {} requests, more than the sum of its orgs' minimums {}",
            result.requests,
            result.minimum_requests
        );
        eprintln!("xtask bench: fleet smoke passed");
    }
    Ok(())
}

/// `sfconn.toml` with one `[orgs.NAME]` per org, each with its own secret files.
fn write_config(
    bench_dir: &Path,
    secrets: &Path,
    orgs: &[(String, SimulatedOrg)],
    concurrency: usize,
) -> Result<std::path::PathBuf> {
    let mut toml =
        format!("client_id = \"{}\"\n\n[fleet]\nconcurrency = {concurrency}\n", SimulatedOrg::CLIENT_ID);
    for (name, org) in orgs {
        let secret = secrets.join(format!("{name}.secret"));
        let token = secrets.join(format!("{name}.token"));
        write_private(&secret, SimulatedOrg::CLIENT_SECRET)?;
        write_private(&token, SimulatedOrg::REFRESH_TOKEN)?;
        write!(
            toml,
            "\n[orgs.{name}]\nlogin_url = \"{}\"\nclient_secret_file = \"{}\"\nrefresh_token_file = \"{}\"\n",
            org.login_url(),
            secret.display(),
            token.display()
        )?;
    }
    let path = bench_dir.join("sfconn.toml");
    write_private(&path, &toml)?;
    Ok(path)
}

/// Secret files readable by their owner only, as sfconn expects (it warns otherwise).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))
}

/// Every org of `fleet.json` succeeded with all of its users.
fn check_fleet_file(path: &Path, orgs: &[(String, SimulatedOrg)], users: usize) -> Result<()> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let fleet: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    for (name, _) in orgs {
        let entry = fleet["orgs"]
            .as_array()
            .and_then(|all| all.iter().find(|org| org["org"] == name.as_str()))
            .with_context(|| format!("{} has no org {name}", path.display()))?;
        ensure!(entry["status"] == "ok", "org {name} did not succeed: {entry}");
        ensure!(entry["users"] == users as u64, "org {name} wrote {} users of {users}", entry["users"]);
    }
    Ok(())
}

/// Snapshots and users in the store, as `sfconn history list -f json` reads them.
fn stored(sfconn: &Path, home: &Path, url: &str) -> Result<(u64, u64)> {
    let output = isolated(sfconn, home)
        .args(["history", "list", "-f", "json", "--store-url", url])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .context("cannot run sfconn history list")?;
    ensure!(
        output.status.success(),
        "sfconn history list failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let list: Value = serde_json::from_slice(&output.stdout).context("history list -f json is not JSON")?;
    let snapshots = list.as_array().context("history list -f json is not an array")?;
    let users = snapshots.iter().filter_map(|snapshot| snapshot["users"].as_u64()).sum();
    Ok((snapshots.len() as u64, users))
}

pub(super) fn markdown(result: &FleetResult) -> String {
    let o = &result.options;
    let wall = result.usage.wall.as_secs_f64();
    let rss = result.usage.peak_rss as f64 / MIB;
    let verdict = |met: bool| if met { "met" } else { "missed" };
    let (ratio, wall_verdict) = match result.wall_over_floor() {
        Some(ratio) => (format!("{ratio:.3}"), verdict(ratio <= TARGET_WALL_OVER_FLOOR)),
        None => ("-".to_owned(), "no latency: not measured"),
    };
    format!(
        "\nFleet (`sfconn collect --all-orgs`, {}): {} orgs × {} users, \
         {} ms per request, fleet.concurrency {}\n\n\
         | figure | value | target | |\n|---|---:|---:|---|\n\
         | wall s | {wall:.2} | ≤ {:.2} ({TARGET_WALL_OVER_FLOOR} × floor {:.2}) | {wall_verdict} |\n\
         | wall ÷ floor | {ratio} | ≤ {TARGET_WALL_OVER_FLOOR} | |\n\
         | requests | {} | = {} (sum of minimums) | {} |\n\
         | peak RSS MiB | {rss:.1} | ≤ {:.0} | {} |\n\
         | CPU s | {:.2} | | |\n\
         | stored | {} snapshots, {} users | | |\n",
        if o.store { "PostgreSQL store (`--store-url`)" } else { "no store (`--no-store`)" },
        o.orgs,
        o.users,
        o.latency.as_millis(),
        o.concurrency,
        TARGET_WALL_OVER_FLOOR * result.floor.as_secs_f64(),
        result.floor.as_secs_f64(),
        result.requests,
        result.minimum_requests,
        verdict(result.requests <= result.minimum_requests),
        result.rss_target_mib(),
        verdict(rss <= result.rss_target_mib()),
        result.usage.cpu.as_secs_f64(),
        result.snapshots_stored,
        result.users_stored,
    )
}

fn json(result: &FleetResult) -> Value {
    let o = &result.options;
    json!({
        "orgs": o.orgs,
        "users_per_org": o.users,
        "latency_ms": u64::try_from(o.latency.as_millis()).unwrap_or(u64::MAX),
        "concurrency": o.concurrency,
        "store": if o.store { "postgresql" } else { "none" },
        "wall_seconds": result.usage.wall.as_secs_f64(),
        "floor_seconds": result.floor.as_secs_f64(),
        "wall_over_floor": result.wall_over_floor(),
        "cpu_seconds": result.usage.cpu.as_secs_f64(),
        "peak_rss_bytes": result.usage.peak_rss,
        "requests": result.requests,
        "minimum_requests": result.minimum_requests,
        "snapshots_stored": result.snapshots_stored,
        "users_stored": result.users_stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_floor_counts_one_longest_org_per_wave() {
        let ms = Duration::from_millis;
        assert_eq!(fleet_floor(&[ms(100), ms(300), ms(200)], 2), ms(600), "two waves of at most 300 ms");
        assert_eq!(fleet_floor(&[ms(100); 8], 2), ms(400));
        assert_eq!(fleet_floor(&[ms(100); 8], 3), ms(300), "8 orgs, 3 at a time: 3 waves");
        assert_eq!(fleet_floor(&[ms(100); 8], 16), ms(100));
        assert_eq!(fleet_floor(&[], 2), Duration::ZERO);
    }

    #[test]
    fn options_default_to_the_issue_s_fleet_and_are_checked() {
        let options = parse_options(&args(&["--fleet"])).unwrap();
        assert_eq!((options.orgs, options.users, options.concurrency), (8, 50_000, 2));
        assert_eq!(options.latency, Duration::from_millis(100));
        assert!(options.store, "the fleet keeps its snapshots in PostgreSQL unless told not to");
        assert!(!parse_options(&args(&["--fleet", "--no-store"])).unwrap().store);
        let options =
            parse_options(&args(&["--fleet", "--orgs", "4", "--users", "10_000", "--concurrency", "4"]))
                .unwrap();
        assert_eq!((options.orgs, options.users, options.concurrency), (4, 10_000, 4));
        let smoke = parse_options(&args(&["--fleet", "--smoke"])).unwrap();
        assert!(smoke.smoke && !smoke.release && smoke.latency.is_zero());
        assert!(parse_options(&args(&["--fleet", "--concurrency", "17"])).is_err());
        assert!(parse_options(&args(&["--fleet", "--orgs", "0"])).is_err());
        assert!(parse_options(&args(&["--fleet", "--users"])).is_err());
    }
}
