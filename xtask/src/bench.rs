//! `cargo xtask bench`: the release `sfconn` binary against the simulated org at several sizes
//! with a per-request latency, beside the same collection written with Python's
//! simple-salesforce and with Node.js's jsforce (the peers, `bench/peer.rs`). Prints per size
//! and tool: wall time, the latency floor, requests against the minimum, CPU time, peak RSS,
//! and the targets of `docs/benchmarks.md`. Writes
//! `target/bench/results.json` and `target/bench/results.md`.
//!
//! It is a benchmark, not a test: missed targets are shown, not failed. Only `--smoke` (what
//! `cargo xtask ci` runs) fails, and only on things that do not depend on timing: the run must
//! succeed, write every user, and stay within the request target.

mod fleet;
mod import;
mod login;
mod measure;
mod peer;
mod plan;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use sfconn_testkit::{OrgSpec, SimulatedOrg};

use crate::{cargo, project_root, run_step};
use measure::{Usage, run_measured};
use plan::Workload;

pub(crate) const MIB: f64 = 1024.0 * 1024.0;

// Targets (docs/benchmarks.md).
const TARGET_EXTRA_REQUESTS: u64 = 0;
const TARGET_PEAK_RSS_MIB: f64 = 32.0;
const TARGET_RSS_GROWTH_OVER_10K: f64 = 1.5;
const TARGET_CPU_SECONDS_PER_100K_USERS: f64 = 1.0;

/// Wall ÷ floor allowed: 1.05 at 100 ms per request or with server time per page (the fixed
/// costs are small beside each round trip), 1.10 below.
fn wall_target(latency: Duration, server_time: Duration) -> f64 {
    if !server_time.is_zero() || latency >= Duration::from_millis(100) { 1.05 } else { 1.10 }
}

#[derive(Debug, Clone, PartialEq)]
struct Options {
    sizes: Vec<usize>,
    latency: Duration,
    /// The simulated org's own time per query page (`--server-ms`).
    server_time: Duration,
    peer: bool,
    release: bool,
    smoke: bool,
    /// Extra arguments for `sfconn collect` (`--verbose`: `-vv`, logs in target/bench/sfconn-N.stderr).
    sfconn_args: Vec<String>,
    /// Run sfconn under `perf record` (its figures then include perf's overhead).
    perf: bool,
    /// An sfconn binary to measure instead of building this checkout's (`--binary`), e.g. an
    /// older build kept for a before/after comparison.
    binary: Option<PathBuf>,
    /// The store import after the collections (`--no-import` skips it).
    import: bool,
    /// The simulated org builds the next page of a cursor ahead (`OrgSpec::build_ahead`);
    /// `--org-builds-on-request` measures against the org as it was before the fourth pass.
    build_ahead: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sizes: vec![10_000, 100_000, 1_000_000],
            latency: Duration::from_millis(100),
            server_time: Duration::ZERO,
            peer: true,
            release: true,
            smoke: false,
            sfconn_args: Vec::new(),
            perf: false,
            binary: None,
            import: true,
            build_ahead: true,
        }
    }
}

const USAGE: &str = "usage: cargo xtask bench [--sizes 10000,100000,1000000] [--latency-ms 100] [--server-ms 0] [--quick] [--no-peer] [--verbose] [--perf] [--binary PATH] [--smoke]
  --server-ms the simulated org's own time per query page, on top of the latency (parallel
            requests do not queue behind each other, as on Salesforce)
  --quick   sizes 10000,100000 (skips the minutes-long million-user run)
  --no-peer skip the peers (simple-salesforce in target/bench/venv, jsforce in target/bench/node)
  --verbose sfconn logs at debug level into target/bench/sfconn-N.stderr
  --binary PATH  measure this sfconn binary instead of building the checkout's (before/after)
  --no-import  skip the store import after the collections
  --org-builds-on-request  the simulated org builds every page when it is asked for, on its one
            thread (as before the fourth pass), instead of building a cursor's next page ahead
  --perf    profile sfconn with `perf record` into target/bench/perf-N.data (no peer; figures
            include perf's own overhead)
  --login-activity DAYS [--logins-per-month N] [--users N] [--latency-ms L]  one org collected with
            login activity through REST and through a Bulk API 2.0 job, side by side
  --report-html [--users N] [--weeks W]  report -f html against -f json on a store of W weekly
            snapshots of N users (default 100000, 52), and the page's size
  --smoke   what `cargo xtask ci` runs: 2000 users, no latency, debug binary, no peer;
            fails if the run fails, loses users or exceeds the request target
  --fleet [--orgs 8] [--users 50000] [--latency-ms 100] [--concurrency 2] [--no-store] [--smoke]
            `collect --all-orgs` over a fleet of simulated orgs into a PostgreSQL store
Then the store's import of a 200000-user snapshot (the smoke run's: 2000) into SQLite
and PostgreSQL (the test kit's server); it is collected first when --sizes lacks it.";

fn parse_options(args: &[String]) -> Result<Options> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--sizes" => {
                options.sizes = value("--sizes")?
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse::<usize>())
                    .collect::<Result<_, _>>()
                    .context("--sizes takes user counts separated by commas, e.g. 10000,100000")?;
                ensure!(
                    !options.sizes.is_empty() && options.sizes.iter().all(|n| *n > 0),
                    "--sizes needs at least one user count above 0"
                );
            }
            "--latency-ms" => {
                let ms: u64 = value("--latency-ms")?
                    .parse()
                    .context("--latency-ms takes whole milliseconds, e.g. 100")?;
                options.latency = Duration::from_millis(ms);
            }
            "--server-ms" => {
                let ms: u64 = value("--server-ms")?
                    .parse()
                    .context("--server-ms takes whole milliseconds, e.g. 200")?;
                options.server_time = Duration::from_millis(ms);
            }
            "--quick" => options.sizes = vec![10_000, 100_000],
            "--no-import" => options.import = false,
            "--org-builds-on-request" => options.build_ahead = false,
            "--no-peer" => options.peer = false,
            "--verbose" => options.sfconn_args.push("-vv".into()),
            "--binary" => options.binary = Some(PathBuf::from(value("--binary")?)),
            "--perf" => {
                options.perf = true;
                options.peer = false;
            }
            "--smoke" => {
                options = Options {
                    sizes: vec![2_000],
                    latency: Duration::ZERO,
                    server_time: Duration::ZERO,
                    peer: false,
                    release: false,
                    smoke: true,
                    sfconn_args: Vec::new(),
                    perf: false,
                    binary: None,
                    import: true,
                    build_ahead: true,
                };
            }
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(options)
}

/// One measured collection.
#[derive(Debug, Clone)]
struct Run {
    tool: &'static str,
    users: u64,
    usage: Usage,
    /// Requests the simulated org received from this run.
    requests: u64,
    /// The requests this run cannot do without.
    minimum_requests: u64,
    /// `summary.api_requests` of sfconn's snapshot (what sfconn says it sent).
    reported_requests: Option<u64>,
}

/// One org size: the floor and the runs against it.
#[derive(Debug, Clone)]
struct SizeResult {
    workload: Workload,
    floor: Duration,
    /// Wall ÷ floor allowed at this latency and server time.
    wall_target: f64,
    design_floor: Duration,
    /// sfconn's longest query chain as the org saw it.
    chain: Option<ChainTiming>,
    sfconn: Run,
    /// The peers' runs (simple-salesforce, jsforce), those that could run here.
    peers: Vec<Run>,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--report-html") {
        return crate::bench_html::run(args);
    }
    if args.iter().any(|a| a == "--fleet") {
        let options = fleet::parse_options(args)?;
        if cfg!(debug_assertions) && !options.smoke {
            return rerun_optimised(args);
        }
        return fleet::run(options);
    }
    if args.iter().any(|a| a == "--login-activity") {
        if cfg!(debug_assertions) {
            return rerun_optimised(args);
        }
        return login::run(args);
    }
    let options = parse_options(args)?;
    if cfg!(debug_assertions) && !options.smoke {
        return rerun_optimised(args);
    }
    // The smoke run keeps out of the way of real results.
    let bench_dir = project_root().join(if options.smoke { "target/bench/smoke" } else { "target/bench" });
    let home = bench_dir.join("home");
    fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;

    let sfconn = match &options.binary {
        Some(binary) => {
            ensure!(binary.is_file(), "--binary {}: no such file", binary.display());
            binary.canonicalize().with_context(|| format!("cannot resolve {}", binary.display()))?
        }
        None => build_sfconn(options.release)?,
    };
    let peers = if options.peer { peer::available(&bench_dir) } else { Vec::new() };
    if !options.peer {
        eprintln!("xtask bench: peer comparison skipped (--no-peer / --smoke)");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;

    let mut results = Vec::new();
    for &users in &options.sizes {
        let mut spec = OrgSpec::with_users(users);
        spec.latency = options.latency;
        spec.server_time = options.server_time;
        spec.build_ahead = options.build_ahead;
        spec.request_log_limit = usize::MAX;
        eprintln!(
            "xtask bench: {users} users, {} ms latency, {} ms server time per query page: generating the org",
            options.latency.as_millis(),
            options.server_time.as_millis()
        );
        let org = runtime.block_on(SimulatedOrg::start(spec));
        let workload = Workload::of(org.data());
        let floor = workload.sfconn_floor(options.latency, options.server_time);
        let design_floor = workload.sfconn_design_floor(options.latency, options.server_time);

        let (sfconn_run, chain) = run_sfconn(&sfconn, &options, &org, &bench_dir, &home, workload)?;
        let peer_runs = peers
            .iter()
            .map(|peer| peer::run(peer, &org, &bench_dir, &home, workload))
            .collect::<Result<Vec<_>>>()?;
        drop(org);
        let wall_target = wall_target(options.latency, options.server_time);
        let result = SizeResult {
            workload,
            floor,
            wall_target,
            design_floor,
            chain,
            sfconn: sfconn_run,
            peers: peer_runs,
        };
        eprint!("{}", size_report(&result));
        results.push(result);
    }

    // The store's import, of a 200,000-user snapshot (collected for it, unmeasured, when the
    // sizes did not include it, never one left by an earlier run; the smoke run imports its own).
    let import_users =
        if options.smoke { options.sizes.first().copied().unwrap_or(2_000) } else { import::USERS };
    let snapshot = bench_dir.join(format!("out-{import_users}.json"));
    let imports = if options.import {
        if !options.sizes.contains(&import_users) {
            collect_unmeasured(&sfconn, &runtime, &home, &snapshot, import_users)?;
        }
        import::run(&sfconn, &bench_dir, &home, &snapshot, import_users)?
    } else {
        eprintln!("xtask bench: store import skipped (--no-import)");
        Vec::new()
    };

    let machine = machine();
    let mut markdown = markdown(&options, &machine, &results);
    if !imports.is_empty() {
        markdown.push_str(&import::markdown(&imports));
    }
    let mut document = results_json(&options, &machine, &results);
    document["imports"] = import::json(&imports);
    fs::write(bench_dir.join("results.md"), &markdown).context("cannot write results.md")?;
    let text = serde_json::to_string_pretty(&document).context("cannot encode the results")?;
    fs::write(bench_dir.join("results.json"), text + "\n").context("cannot write results.json")?;
    println!("{markdown}");
    eprintln!("xtask bench: wrote results.json and results.md in {}", bench_dir.display());

    if options.smoke {
        for result in &results {
            let run = &result.sfconn;
            ensure!(
                run.requests <= run.minimum_requests + TARGET_EXTRA_REQUESTS,
                "smoke: sfconn sent {} requests for {} users, more than the minimum {} + {TARGET_EXTRA_REQUESTS}",
                run.requests,
                run.users,
                run.minimum_requests
            );
        }
        eprintln!("xtask bench: smoke passed");
    }
    Ok(())
}

/// `sfconn collect -o snapshot` of a new `users`-user org without latency: a snapshot to
/// import, not a measurement.
fn collect_unmeasured(
    sfconn: &Path,
    runtime: &tokio::runtime::Runtime,
    home: &Path,
    snapshot: &Path,
    users: usize,
) -> Result<()> {
    eprintln!("xtask bench: {users} users: collecting the snapshot the store import reads (not measured)");
    let org = runtime.block_on(SimulatedOrg::start(OrgSpec::with_users(users)));
    let output = isolated(sfconn, home)
        .args(["collect", "-f", "json", "--no-progress", "-o"])
        .arg(snapshot)
        .envs(org.sfconn_env())
        .output()
        .context("cannot run sfconn collect")?;
    ensure!(
        output.status.success(),
        "sfconn collect of {users} users failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The simulated org runs inside this process and renders every page while sfconn waits:
/// unoptimised, it would add its own seconds to sfconn's wall time. Measures with an optimised
/// xtask instead (the smoke run measures nothing and keeps the debug build).
fn rerun_optimised(args: &[String]) -> Result<()> {
    let mut release = cargo();
    release.args(["run", "--quiet", "--release", "--package", "xtask", "--", "bench"]).args(args);
    run_step("bench (optimised xtask)", release)
}

fn build_sfconn(release: bool) -> Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "--package", "sfconn-cli", "--bin", "sfconn"]);
    if release {
        build.arg("--release");
    }
    run_step("build sfconn", build)?;
    Ok(project_root().join(if release { "target/release/sfconn" } else { "target/debug/sfconn" }))
}

/// A child with nothing of this process's environment but `PATH` and a scratch `HOME`.
fn isolated(program: &Path, home: &Path) -> Command {
    let mut command = Command::new(program);
    command.env_clear().env("HOME", home).current_dir(home);
    #[allow(clippy::disallowed_methods)] // the child needs PATH; xtask is not the product
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
}

fn run_sfconn(
    binary: &Path,
    options: &Options,
    org: &SimulatedOrg,
    bench_dir: &Path,
    home: &Path,
    workload: Workload,
) -> Result<(Run, Option<ChainTiming>)> {
    let users = workload.users;
    let output = bench_dir.join(format!("out-{users}.json"));
    let stderr = bench_dir.join(format!("sfconn-{users}.stderr"));
    let mut command = if options.perf {
        let mut perf = isolated(Path::new("perf"), home);
        perf.args(["record", "--quiet", "-e", "cpu-clock", "-F", "999", "--call-graph", "dwarf,32768", "-o"])
            .arg(bench_dir.join(format!("perf-{users}.data")))
            .arg("--")
            .arg(binary);
        perf
    } else {
        isolated(binary, home)
    };
    command.args(["collect", "-f", "json", "--no-progress", "-o"]).arg(&output).args(&options.sfconn_args);
    command.envs(org.sfconn_env());
    org.clear_requests();
    eprintln!("xtask bench: {users} users: sfconn collect");
    let spawned = Instant::now();
    let finished = run_measured(command, &bench_dir.join(format!("sfconn-{users}.stdout")), &stderr)?;
    let received = org.requests();
    let requests = received.len() as u64;
    let chain = longest_chain(&received, spawned);
    write_request_log(&bench_dir.join(format!("requests-{users}.tsv")), &received, spawned)?;
    if let Some(chain) = chain {
        let page = options.latency + options.server_time;
        eprintln!(
            "xtask bench: {users} users: where the time went: page 2 of the longest chain asked for at \
             {:.2} s (floor {:.2} s: 3 round trips and page 1), pages 2 to {} over {:.2} s (floor {:.2} s), \
             the process ended {:.2} s after the last page was asked for (floor {:.2} s)",
            chain.second_page_at.as_secs_f64(),
            (options.latency * 3 + page).as_secs_f64(),
            chain.following_pages + 1,
            (chain.last_page_at.saturating_sub(chain.second_page_at)).as_secs_f64(),
            (page * u32::try_from(chain.following_pages.saturating_sub(1)).unwrap_or(u32::MAX)).as_secs_f64(),
            finished.usage.wall.saturating_sub(chain.last_page_at).as_secs_f64(),
            page.as_secs_f64(),
        );
        eprintln!(
            "xtask bench: {users} users: longest query chain: median {:.1} ms between page requests \
             ({} ms latency + {} ms server time per page); the org built a page in {:.1} ms (median); \
             the rest, {:.1} ms, is the client, the transport and waiting for a core",
            ms(chain.gap),
            options.latency.as_millis(),
            options.server_time.as_millis(),
            ms(chain.build),
            ms(chain.rest(options.latency, options.server_time)),
        );
    }
    if !finished.status.success() {
        bail!(
            "sfconn collect failed at {users} users ({}); its stderr is in {}:\n{}",
            finished.status,
            stderr.display(),
            fs::read_to_string(&stderr).unwrap_or_default()
        );
    }
    let summary = snapshot_summary(&output)?;
    let written = summary["users_total"].as_u64().unwrap_or(0);
    ensure!(written == users, "sfconn wrote {written} users of {users} (see {})", output.display());
    let run = Run {
        tool: "sfconn",
        users,
        usage: finished.usage,
        requests,
        minimum_requests: workload.sfconn_minimum_requests(),
        reported_requests: summary["api_requests"].as_u64(),
    };
    Ok((run, chain))
}

/// The longest query chain as the org saw it (`/query/LOCATOR-OFFSET`: the User query in every
/// bench org; `PermissionSetAssignment` transfers about 0.2 rows per user).
#[derive(Debug, Clone, Copy, PartialEq)]
struct ChainTiming {
    /// Median time between the arrivals of consecutive page requests: a page's round trip plus
    /// what the org and the client spend before the next request arrives.
    gap: Duration,
    /// Median time the org took to build a page of the chain (inside the bench process, before
    /// it waits out the latency and the rest of the server time).
    build: Duration,
    /// When the request for the chain's second page (its first `nextRecordsUrl`) arrived,
    /// counted from the start of the process.
    second_page_at: Duration,
    /// When the request for its last page arrived, from the start of the process.
    last_page_at: Duration,
    /// Page requests in the chain after the first (`/query/LOCATOR-OFFSET`).
    following_pages: u64,
}

impl ChainTiming {
    /// The floor with the org's measured building as its own time per page where that is
    /// longer than the server time: what the chain would cost if the client added nothing.
    fn floor_with_build(&self, result: &SizeResult, server_time: Duration) -> Duration {
        let pages = u32::try_from(result.workload.longest_query_pages()).unwrap_or(u32::MAX);
        result.floor + self.build.saturating_sub(server_time) * pages
    }

    /// What is left of the gap once the latency and the org's own time per page (the server
    /// time, or the building when that took longer) are taken out: the client's time from the
    /// page's first bytes to the next request, the transport, and waiting for a core.
    fn rest(&self, latency: Duration, server_time: Duration) -> Duration {
        self.gap.saturating_sub(latency + server_time.max(self.build))
    }
}

/// Every request the org received, one a line: when it arrived (ms from the start of the
/// process), how long the org took to build its answer (ms), the method and the path with the
/// SOQL, for a look at where a run waited.
fn write_request_log(
    path: &Path,
    received: &[sfconn_testkit::RecordedRequest],
    spawned: Instant,
) -> Result<()> {
    let mut text = String::from("arrived_ms\tbuilt_ms\tmethod\tpath\tsoql\n");
    for request in received {
        let soql = request
            .url
            .split_once('?')
            .and_then(|(_, query)| query.split('&').find_map(|pair| pair.strip_prefix("q=")))
            .map(form_decoded)
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "{:.1}\t{}\t{}\t{}\t{}",
            ms(request.arrival.at.saturating_duration_since(spawned)),
            request.handled_in.map_or("–".to_owned(), |built| format!("{:.1}", ms(built))),
            request.method,
            request.path(),
            soql
        );
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A form-encoded value as text (`+` is a space, `%XX` a byte).
fn form_decoded(value: &str) -> String {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => match rest
                .get(..2)
                .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())
            {
                Some(decoded) => {
                    bytes.push(decoded);
                    rest = &rest[2..];
                }
                None => bytes.push(b'%'),
            },
            other => bytes.push(other),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The timing of the query with the most pages, from the org's request log; `spawned` is
/// when the process was started.
fn longest_chain(received: &[sfconn_testkit::RecordedRequest], spawned: Instant) -> Option<ChainTiming> {
    let mut chains: std::collections::HashMap<String, Vec<(u64, Instant, Option<Duration>)>> =
        std::collections::HashMap::new();
    for request in received {
        let path = request.path();
        let Some((_, tail)) = path.rsplit_once("/query/") else { continue };
        let Some((locator, offset)) = tail.rsplit_once('-') else { continue };
        let Ok(offset) = offset.parse::<u64>() else { continue };
        chains.entry(locator.to_owned()).or_default().push((offset, request.arrival.at, request.handled_in));
    }
    let mut chain = chains.into_values().max_by_key(Vec::len)?;
    chain.sort_unstable_by_key(|(offset, ..)| *offset);
    let gaps = chain.windows(2).map(|pair| pair[1].1.saturating_duration_since(pair[0].1)).collect();
    let builds = chain.iter().filter_map(|(.., built)| *built).collect();
    let since_spawn = |at: Instant| at.saturating_duration_since(spawned);
    Some(ChainTiming {
        gap: median(gaps)?,
        build: median(builds)?,
        second_page_at: since_spawn(chain.first()?.1),
        last_page_at: since_spawn(chain.last()?.1),
        following_pages: chain.len() as u64,
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<Duration>) -> Option<Duration> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

/// The `summary` of a snapshot, read from the end of the file so that a million users need
/// not be parsed again.
fn snapshot_summary(path: &Path) -> Result<Value> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata()?.len();
    let tail = len.min(4 * 1024 * 1024);
    file.seek(SeekFrom::Start(len - tail))?;
    let mut text = String::new();
    file.read_to_string(&mut text).with_context(|| format!("{} is not UTF-8 at its end", path.display()))?;
    let start =
        text.rfind("\n  \"summary\": ").with_context(|| format!("no summary in {}", path.display()))?;
    let value = text[start..].trim_start().trim_start_matches("\"summary\":");
    let mut values = serde_json::Deserializer::from_str(value).into_iter::<Value>();
    values
        .next()
        .with_context(|| format!("empty summary in {}", path.display()))?
        .with_context(|| format!("unreadable summary in {}", path.display()))
}

// ---- targets and reports ----

/// A target's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Met,
    Missed,
    /// Not measurable in this run (no latency, no 10k baseline).
    NotApplicable,
}

impl Verdict {
    fn of(met: bool) -> Verdict {
        if met { Verdict::Met } else { Verdict::Missed }
    }

    fn mark(self) -> &'static str {
        match self {
            Verdict::Met => "✅",
            Verdict::Missed => "❌",
            Verdict::NotApplicable => "–",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::NotApplicable => "n/a",
        }
    }
}

struct Targets {
    requests: Verdict,
    wall: Verdict,
    rss_absolute: Verdict,
    rss_growth: Verdict,
    cpu: Verdict,
}

fn wall_over_floor(result: &SizeResult) -> Option<f64> {
    (!result.floor.is_zero()).then(|| result.sfconn.usage.wall.as_secs_f64() / result.floor.as_secs_f64())
}

fn targets(result: &SizeResult, baseline_10k_rss: Option<u64>) -> Targets {
    let run = &result.sfconn;
    let rss_mib = run.usage.peak_rss as f64 / MIB;
    Targets {
        requests: Verdict::of(run.requests <= run.minimum_requests + TARGET_EXTRA_REQUESTS),
        wall: wall_over_floor(result)
            .map_or(Verdict::NotApplicable, |r| Verdict::of(r <= result.wall_target)),
        rss_absolute: Verdict::of(rss_mib <= TARGET_PEAK_RSS_MIB),
        rss_growth: match baseline_10k_rss {
            Some(base) if run.users > 10_000 => {
                Verdict::of(run.usage.peak_rss as f64 <= TARGET_RSS_GROWTH_OVER_10K * base as f64)
            }
            _ => Verdict::NotApplicable,
        },
        cpu: Verdict::of(
            run.usage.cpu.as_secs_f64() <= TARGET_CPU_SECONDS_PER_100K_USERS * run.users as f64 / 100_000.0,
        ),
    }
}

fn baseline_rss(results: &[SizeResult]) -> Option<u64> {
    results.iter().find(|r| r.sfconn.users == 10_000).map(|r| r.sfconn.usage.peak_rss)
}

fn size_report(result: &SizeResult) -> String {
    let mut text = String::new();
    for run in std::iter::once(&result.sfconn).chain(&result.peers) {
        let _ = writeln!(
            text,
            "xtask bench: {:>9} users {:<17} wall {:>7.2} s  CPU {:>7.2} s  peak RSS {:>8.1} MiB  requests {} (minimum {})",
            run.users,
            run.tool,
            run.usage.wall.as_secs_f64(),
            run.usage.cpu.as_secs_f64(),
            run.usage.peak_rss as f64 / MIB,
            run.requests,
            run.minimum_requests
        );
    }
    text
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 { format!("{:.2}", a / b) } else { "–".into() }
}

fn markdown(options: &Options, machine: &Machine, results: &[SizeResult]) -> String {
    let baseline = baseline_rss(results);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Latency {} ms per request, server time {} ms per query page; the org builds {}; {}; machine: {}.\n",
        options.latency.as_millis(),
        options.server_time.as_millis(),
        if options.build_ahead { "each cursor's next page ahead" } else { "every page on request" },
        match &options.binary {
            Some(binary) => format!("sfconn binary {}", binary.display()),
            None if options.release => "release build".to_owned(),
            None => "debug build".to_owned(),
        },
        machine.describe()
    );
    let wall = wall_target(options.latency, options.server_time);
    let _ = write!(
        md,
        "| users | wall s | floor s | wall ÷ floor | design floor s | requests (min) | CPU s | peak RSS MiB | \
         requests = min | wall ≤ {wall:.2}×floor | RSS ≤ {TARGET_PEAK_RSS_MIB} MiB | RSS ≤ 1.5×10k | \
         CPU ≤ {TARGET_CPU_SECONDS_PER_100K_USERS} s/100k |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|:-:|:-:|:-:|:-:|:-:|\n",
    );
    for result in results {
        let run = &result.sfconn;
        let t = targets(result, baseline);
        let _ = writeln!(
            md,
            "| {} | {:.2} | {:.2} | {} | {:.2} | {} ({}) | {:.2} | {:.1} | {} | {} | {} | {} | {} |",
            run.users,
            run.usage.wall.as_secs_f64(),
            result.floor.as_secs_f64(),
            wall_over_floor(result).map_or("–".into(), |r| format!("{r:.2}")),
            result.design_floor.as_secs_f64(),
            run.requests,
            run.minimum_requests,
            run.usage.cpu.as_secs_f64(),
            run.usage.peak_rss as f64 / MIB,
            t.requests.mark(),
            t.wall.mark(),
            t.rss_absolute.mark(),
            t.rss_growth.mark(),
            t.cpu.mark(),
        );
    }
    let chains: Vec<String> = results
        .iter()
        .filter_map(|result| {
            let chain = result.chain?;
            let floor = chain.floor_with_build(result, options.server_time);
            Some(format!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.2} | {} |\n",
                result.sfconn.users,
                ms(chain.gap),
                ms(chain.build),
                ms(chain.rest(options.latency, options.server_time)),
                floor.as_secs_f64(),
                ratio(result.sfconn.usage.wall.as_secs_f64(), floor.as_secs_f64()),
            ))
        })
        .collect();
    if !chains.is_empty() {
        md.push_str(
            "\nThe longest query chain (the User query) as the org saw it, medians per page: the time between \
             page requests; the org building a page (in the bench process); the rest once latency \
             and server time (or the building, if longer) are taken out: the client, the transport \
             and waiting for a core; the floor if the org's own time per page were the building \
             (when longer than the server time), and the wall time against it.\n\n\
             | users | page gap ms | org build ms | rest ms | floor with org build s | wall ÷ it |\n\
             |---:|---:|---:|---:|---:|---:|\n",
        );
        md.extend(chains);
    }
    md.push_str(&peer_markdown(results));
    md
}

/// The tools side by side per size: sfconn first, then each peer with sfconn's figures divided
/// by its own (below 1 = sfconn better).
fn peer_markdown(results: &[SizeResult]) -> String {
    if results.iter().all(|r| r.peers.is_empty()) {
        return "\nPeer comparison: skipped.\n".into();
    }
    let mut md = String::from(
        "\nsfconn and the peers side by side (ratios: sfconn ÷ peer, below 1 = sfconn better):\n\n\
         | users | tool | wall s | CPU s | peak RSS MiB | requests (min) | wall ratio | CPU ratio | RSS ratio |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for result in results.iter().filter(|r| !r.peers.is_empty()) {
        let ours = &result.sfconn.usage;
        for run in std::iter::once(&result.sfconn).chain(&result.peers) {
            let theirs = &run.usage;
            let ratios = if run.tool == result.sfconn.tool {
                ["–".to_owned(), "–".to_owned(), "–".to_owned()]
            } else {
                [
                    ratio(ours.wall.as_secs_f64(), theirs.wall.as_secs_f64()),
                    ratio(ours.cpu.as_secs_f64(), theirs.cpu.as_secs_f64()),
                    ratio(ours.peak_rss as f64, theirs.peak_rss as f64),
                ]
            };
            let [wall, cpu, rss] = ratios;
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.2} | {:.1} | {} ({}) | {wall} | {cpu} | {rss} |",
                run.users,
                run.tool,
                theirs.wall.as_secs_f64(),
                theirs.cpu.as_secs_f64(),
                theirs.peak_rss as f64 / MIB,
                run.requests,
                run.minimum_requests,
            );
        }
    }
    md
}

fn run_json(run: &Run) -> Value {
    json!({
        "tool": run.tool,
        "wall_s": run.usage.wall.as_secs_f64(),
        "cpu_s": run.usage.cpu.as_secs_f64(),
        "peak_rss_bytes": run.usage.peak_rss,
        "requests": run.requests,
        "minimum_requests": run.minimum_requests,
        "reported_requests": run.reported_requests,
    })
}

fn results_json(options: &Options, machine: &Machine, results: &[SizeResult]) -> Value {
    let baseline = baseline_rss(results);
    let sizes: Vec<Value> = results
        .iter()
        .map(|result| {
            let t = targets(result, baseline);
            let w = &result.workload;
            json!({
                "users": w.users,
                "rows": {
                    "PermissionSetLicenseAssign": w.permission_set_license_assignments,
                    "UserPackageLicense": w.package_license_assignments,
                    "UserLogin": w.frozen_user_logins,
                    "UserLicense": w.user_licenses,
                    "Profile": w.profiles,
                    "PermissionSetLicense": w.permission_set_licenses,
                    "PackageLicense": w.package_licenses,
                    "PermissionSet": w.permission_sets,
                    "PermissionSetGroupComponent": w.permission_set_group_components,
                    "PermissionSetAssignment": w.permission_set_assignments,
                },
                "floor_s": result.floor.as_secs_f64(),
                "floor_round_trips": w.sfconn_floor_round_trips(),
                "design_round_trips": w.sfconn_design_round_trips(),
                "design_floor_s": result.design_floor.as_secs_f64(),
                "wall_over_floor": wall_over_floor(result),
                "longest_chain": result.chain.map(|chain| json!({
                    "median_gap_ms": ms(chain.gap),
                    "second_page_asked_at_s": chain.second_page_at.as_secs_f64(),
                    "last_page_asked_at_s": chain.last_page_at.as_secs_f64(),
                    "pages": chain.following_pages + 1,
                    "median_page_build_ms": ms(chain.build),
                    "median_rest_ms": ms(chain.rest(options.latency, options.server_time)),
                    "floor_with_org_build_s": chain.floor_with_build(result, options.server_time).as_secs_f64(),
                })),
                "sfconn": run_json(&result.sfconn),
                "peers": result.peers.iter().map(run_json).collect::<Vec<_>>(),
                "targets": {
                    "requests_at_most_minimum": t.requests.name(),
                    "wall_over_floor_at_most": result.wall_target,
                    "wall": t.wall.name(),
                    "peak_rss_at_most_32_mib": t.rss_absolute.name(),
                    "peak_rss_at_most_1_5_times_10k": t.rss_growth.name(),
                    "cpu_at_most_1_s_per_100k_users": t.cpu.name(),
                },
            })
        })
        .collect();
    json!({
        "latency_ms": options.latency.as_millis(),
        "server_ms": options.server_time.as_millis(),
        "org_builds_ahead": options.build_ahead,
        "build": if options.release { "release" } else { "debug" },
        "machine": { "cpu": machine.cpu, "cores": machine.cores, "memory_mib": machine.memory_mib },
        "sizes": sizes,
    })
}

struct Machine {
    cpu: String,
    cores: usize,
    memory_mib: u64,
}

impl Machine {
    fn describe(&self) -> String {
        format!("{} × {}, {} MiB memory", self.cores, self.cpu, self.memory_mib)
    }
}

fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let memory_mib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024);
    Machine { cpu, cores, memory_mib }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_are_the_three_sizes_at_100_ms_with_the_peer() {
        let options = parse_options(&[]).unwrap();
        assert_eq!(options.sizes, [10_000, 100_000, 1_000_000]);
        assert_eq!(options.latency, Duration::from_millis(100));
        assert!(options.peer && options.release && !options.smoke);
    }

    #[test]
    fn flags_set_sizes_latency_and_modes() {
        let options =
            parse_options(&args(&["--sizes", "2000, 50_000", "--latency-ms", "5", "--no-peer"])).unwrap();
        assert_eq!(options.sizes, [2_000, 50_000]);
        assert_eq!(options.latency, Duration::from_millis(5));
        assert_eq!(options.server_time, Duration::ZERO);
        assert!(!options.peer);
        assert_eq!(
            parse_options(&args(&["--server-ms", "200"])).unwrap().server_time,
            Duration::from_millis(200)
        );
        assert_eq!(parse_options(&args(&["--quick"])).unwrap().sizes, [10_000, 100_000]);
        let defaults = parse_options(&[]).unwrap();
        assert!(defaults.import && defaults.build_ahead);
        let options = parse_options(&args(&["--no-import", "--org-builds-on-request"])).unwrap();
        assert!(!options.import && !options.build_ahead);
        assert_eq!(
            parse_options(&args(&["--binary", "target/bench/sfconn-before"])).unwrap().binary,
            Some(PathBuf::from("target/bench/sfconn-before"))
        );
        let smoke = parse_options(&args(&["--smoke"])).unwrap();
        assert_eq!(
            (smoke.sizes.as_slice(), smoke.latency, smoke.peer, smoke.release),
            (&[2_000][..], Duration::ZERO, false, false)
        );
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        let error = parse_options(&args(&["--sizes", "10k"])).unwrap_err().to_string();
        assert!(error.contains("--sizes takes user counts"), "{error}");
        let error = parse_options(&args(&["--latency-ms"])).unwrap_err().to_string();
        assert!(error.contains("--latency-ms needs a value"), "{error}");
        let error = parse_options(&args(&["--fast"])).unwrap_err().to_string();
        assert!(error.contains("unknown argument `--fast`"), "{error}");
        assert!(parse_options(&args(&["--sizes", "0"])).is_err());
    }

    #[test]
    fn the_summary_is_read_from_the_end_of_a_snapshot() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("snapshot.json");
        let users: Vec<Value> =
            (0..3).map(|i| json!({"id": format!("005{i}"), "summary": "decoy"})).collect();
        let snapshot = json!({"schema_version": "1", "users": users, "summary": {"users_total": 3, "api_requests": 17}, "warnings": []});
        fs::write(&path, serde_json::to_string_pretty(&snapshot).unwrap() + "\n").unwrap();
        let summary = snapshot_summary(&path).unwrap();
        assert_eq!(summary["users_total"], 3);
        assert_eq!(summary["api_requests"], 17);
        let _ = fs::remove_dir_all(dir);
    }

    fn result(
        users: u64,
        wall_ms: u64,
        floor_ms: u64,
        requests: u64,
        cpu_ms: u64,
        rss_mib: u64,
    ) -> SizeResult {
        let workload = Workload {
            users,
            organizations: 1,
            user_licenses: 1,
            profiles: 1,
            permission_set_licenses: 1,
            package_licenses: 1,
            permission_set_license_assignments: 1,
            package_license_assignments: 1,
            frozen_user_logins: 1,
            feature_licences: 4,
            permission_sets: 1,
            permission_set_group_components: 1,
            permission_set_assignments: 1,
        };
        SizeResult {
            workload,
            floor: Duration::from_millis(floor_ms),
            wall_target: 1.05,
            design_floor: Duration::from_millis(floor_ms),
            chain: None,
            sfconn: Run {
                tool: "sfconn",
                users,
                usage: Usage {
                    wall: Duration::from_millis(wall_ms),
                    cpu: Duration::from_millis(cpu_ms),
                    peak_rss: rss_mib * 1024 * 1024,
                },
                requests,
                minimum_requests: 100,
                reported_requests: Some(requests),
            },
            peers: Vec::new(),
        }
    }

    #[test]
    fn the_peers_stand_beside_sfconn_with_its_figures_divided_by_theirs() {
        let mut size = result(100_000, 6_000, 5_300, 110, 1_000, 30);
        assert_eq!(peer_markdown(std::slice::from_ref(&size)), "\nPeer comparison: skipped.\n");
        let peer = |tool, wall_ms, cpu_ms, rss_mib: u64| Run {
            tool,
            users: 100_000,
            usage: Usage {
                wall: Duration::from_millis(wall_ms),
                cpu: Duration::from_millis(cpu_ms),
                peak_rss: rss_mib * 1024 * 1024,
            },
            requests: 102,
            minimum_requests: 102,
            reported_requests: Some(102),
        };
        size.peers = vec![peer("simple-salesforce", 15_000, 5_000, 600), peer("jsforce", 12_000, 4_000, 300)];
        let table = peer_markdown(&[size]);
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| 100000")).collect();
        assert_eq!(
            rows,
            [
                "| 100000 | sfconn | 6.00 | 1.00 | 30.0 | 110 (100) | – | – | – |",
                "| 100000 | simple-salesforce | 15.00 | 5.00 | 600.0 | 102 (102) | 0.40 | 0.20 | 0.05 |",
                "| 100000 | jsforce | 12.00 | 4.00 | 300.0 | 102 (102) | 0.50 | 0.25 | 0.10 |",
            ]
        );
    }

    #[test]
    fn the_soql_of_the_request_log_is_form_decoded() {
        assert_eq!(
            form_decoded("SELECT+Id%2C+Name+FROM+User+WHERE+X+%3D+true"),
            "SELECT Id, Name FROM User WHERE X = true"
        );
        assert_eq!(form_decoded("100%25+sure%"), "100% sure%");
        assert_eq!(form_decoded("%E2%9C%93"), "✓");
    }

    fn chain(gap: Duration, build: Duration) -> ChainTiming {
        ChainTiming { gap, build, second_page_at: gap * 4, last_page_at: gap * 52, following_pages: 49 }
    }

    #[test]
    fn the_chain_rest_takes_out_latency_and_the_longer_of_server_time_and_building() {
        let ms = Duration::from_millis;
        assert_eq!(chain(ms(70), ms(12)).rest(ms(50), Duration::ZERO), ms(8));
        // The building is part of the server time when that is longer.
        assert_eq!(chain(ms(255), ms(12)).rest(ms(50), ms(200)), ms(5));
        assert_eq!(chain(ms(40), ms(12)).rest(ms(50), Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn the_floor_with_the_org_build_adds_what_the_building_takes_beyond_the_server_time() {
        let ms = Duration::from_millis;
        // 100k users: 50 User pages on the longest chain.
        let mut size = result(100_000, 3_000, 2_650, 117, 1_000, 30);
        size.workload.users = 100_000;
        let timing = chain(ms(70), ms(12));
        assert_eq!(timing.floor_with_build(&size, Duration::ZERO), ms(2_650 + 12 * 50));
        assert_eq!(timing.floor_with_build(&size, ms(200)), ms(2_650), "building within the server time");
    }

    #[test]
    fn targets_are_judged_against_their_limits() {
        let t = targets(&result(100_000, 1_050, 1_000, 100, 1_000, 32), Some(22 * 1024 * 1024));
        assert_eq!(
            [t.requests, t.wall, t.rss_absolute, t.rss_growth, t.cpu],
            [Verdict::Met; 5],
            "exactly at every limit is met"
        );
        let t = targets(&result(100_000, 1_060, 1_000, 101, 1_010, 33), Some(20 * 1024 * 1024));
        assert_eq!([t.requests, t.wall, t.rss_absolute, t.rss_growth, t.cpu], [Verdict::Missed; 5]);
        let t = targets(&result(10_000, 500, 0, 100, 100, 20), Some(20 * 1024 * 1024));
        assert_eq!((t.wall, t.rss_growth), (Verdict::NotApplicable, Verdict::NotApplicable));
    }
}
