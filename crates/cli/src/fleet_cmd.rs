//! `sfconn collect --all-orgs -o DIR`: every named org of the config file, `fleet.concurrency`
//! at a time, each with its own settings, session, output and cancellation
//! ([`sfconn_collect::OrgRun`]); then the fleet summary, a table on stderr and `DIR/fleet.json`.
//!
//! One org's failure stops that org only. Ctrl-C stops every org: the orgs still running leave
//! nothing behind, the finished ones keep their (complete) output, and `fleet.json` says which
//! is which. The exit code is [`fleet_exit_code`]'s (docs/fleet.md).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};
use sfconn_collect::snapshot::Summary;
use sfconn_collect::{NoProgress, OrgRun, RunOutcome};
use sfconn_config::{ConfigError, Fleet, FleetOrg, Loaded, Need};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Semaphore;

use crate::collect_cmd::{CollectArgs, Ended, FormatArg, OrgOutput, interrupted, runtime, until_interrupted};
use crate::exit::{self, Failure, code};
use crate::logging::Verbosity;
use crate::output;

/// The file the fleet summary is written to, in the output directory.
pub(crate) const FLEET_FILE: &str = "fleet.json";

/// How one org of the fleet ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Collected and written.
    Ok,
    /// Failed; nothing of it was written.
    Failed,
    /// Stopped by Ctrl-C before it finished; nothing of it was written.
    Interrupted,
}

/// One org's line of `fleet.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct OrgResult {
    org: String,
    status: Status,
    /// 0, or the code of docs/contract.md §6 this org would have exited with alone.
    exit_code: u8,
    /// Salesforce's error code (`invalid_grant`, `API_DISABLED_FOR_ORG`, …) when Salesforce
    /// refused; `null` otherwise.
    error_code: Option<String>,
    /// The error message, as `sfconn collect --org NAME` would print it.
    message: Option<String>,
    /// Users written (`summary.users_total`).
    users: Option<u64>,
    /// Subscriptions written.
    subscriptions: Option<u64>,
    /// HTTP requests sent to Salesforce for this org, token requests and retries included.
    api_requests: Option<u64>,
    duration_ms: u64,
    /// The snapshot written (a file, or a directory for csv); `null` unless `ok`.
    output: Option<PathBuf>,
}

impl OrgResult {
    /// A result with no figures yet.
    fn new(org: String, status: Status) -> OrgResult {
        OrgResult {
            org,
            status,
            exit_code: 0,
            error_code: None,
            message: None,
            users: None,
            subscriptions: None,
            api_requests: None,
            duration_ms: 0,
            output: None,
        }
    }
}

/// `fleet.json`.
#[derive(Debug, serde::Serialize)]
struct FleetSummary<'a> {
    fleet_version: &'static str,
    generator: String,
    config_file: &'a Path,
    started_at: String,
    finished_at: String,
    concurrency: usize,
    /// The fleet's exit code ([`fleet_exit_code`]).
    exit_code: u8,
    orgs: &'a [OrgResult],
}

/// The fleet's exit code: 0 when every org succeeded, 130 when Ctrl-C stopped it, else the code
/// of the failed org that most needs a person, in this order: configuration (78),
/// authentication (77), Salesforce unavailable (69), bad data (65), this machine's storage
/// (74), internal (70), usage (2), and temporary (75) last — so 75 means that every failed org
/// can simply be tried again later.
pub(crate) fn fleet_exit_code(results: &[OrgResult]) -> u8 {
    if results.iter().any(|r| r.status == Status::Interrupted) {
        return crate::collect_cmd::INTERRUPTED;
    }
    const ORDER: [u8; 8] = [
        code::CONFIG,
        code::AUTH_REFUSED,
        code::UNAVAILABLE,
        code::BAD_DATA,
        code::IO,
        code::INTERNAL,
        code::USAGE,
        code::TEMPORARY,
    ];
    let failed: Vec<u8> =
        results.iter().filter(|r| r.status == Status::Failed).map(|r| r.exit_code).collect();
    if failed.is_empty() {
        return 0;
    }
    ORDER.into_iter().find(|c| failed.contains(c)).unwrap_or(code::INTERNAL)
}

pub(crate) fn run(args: &CollectArgs, verbosity: Verbosity) -> anyhow::Result<()> {
    let dir = output_dir(args)?;
    let fleet = sfconn_config::load_fleet(&args.setting_flags(), Need::Everything)?;
    if let Some(dir) = &dir {
        std::fs::create_dir_all(dir)
            .map_err(anyhow::Error::new)
            .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    }
    // -f table: each org's table goes to a private file first, printed in name order at the end.
    let tables = match args.format {
        FormatArg::Table => Some(
            tempfile::Builder::new()
                .prefix("sfconn-fleet-")
                .tempdir()
                .context("creating a temporary directory")?,
        ),
        _ => None,
    };
    let base = match (&tables, &dir) {
        (Some(tables), _) => tables.path().to_path_buf(),
        (None, Some(dir)) => dir.clone(),
        (None, None) => bail!("internal error: --all-orgs has no output directory"),
    };
    let Fleet { orgs, concurrency, config_file } = fleet;
    let names: Vec<String> = orgs.iter().map(|org| org.name.clone()).collect();
    let targets: Vec<PathBuf> = names.iter().map(|name| base.join(file_name(name, args.format))).collect();

    let started_at = OffsetDateTime::now_utc();
    let slots = Slots::new(orgs.len());
    let runtime = runtime()?;
    // A collection holds one of `concurrency` permits while it talks to Salesforce; publishing
    // and storing its snapshot happen after the permit is given back, on a blocking thread, so
    // the next org's collection overlaps the store import of the one before.
    let permits = Semaphore::new(concurrency);
    let turns = Turns {
        collecting: &permits,
        publishing: Arc::new(Semaphore::new(concurrency)),
        sqlite: Arc::default(),
    };
    let cleanups = sfconn_api::Cleanups::default();
    let all = futures_util::future::join_all(orgs.into_iter().zip(&targets).enumerate().map(
        |(index, (org, target))| {
            collect_org(org, target, args, verbosity, (&turns, &cleanups), slots.slot(index))
        },
    ));
    let ended = runtime.block_on(until_interrupted(all));
    if matches!(ended, Ended::Interrupted) {
        // The Bulk API jobs of the orgs still running are aborted, not left in their orgs.
        runtime.block_on(cleanups.wait(sfconn_collect::CLEANUP_WAIT));
    }
    // Waits for the publications under way: each is past the point of no return and records its
    // org's result itself, so that fleet.json tells a published org as finished.
    drop(runtime);
    let finished_at = OffsetDateTime::now_utc();
    let slots = slots.into_results();
    let results: Vec<OrgResult> = names
        .into_iter()
        .zip(slots)
        .map(|(name, slot)| {
            slot.unwrap_or_else(|| OrgResult {
                exit_code: crate::collect_cmd::INTERRUPTED,
                message: Some("stopped by Ctrl-C before it finished; nothing was written".into()),
                duration_ms: duration_ms(started_at, finished_at),
                ..OrgResult::new(name, Status::Interrupted)
            })
        })
        .collect();

    if tables.is_some() {
        print_tables(&results, &targets)?;
    }
    let exit_code = fleet_exit_code(&results);
    if verbosity != Verbosity::Quiet {
        output::note(&summary_table(&results));
    }
    if let Some(dir) = &dir {
        let summary = FleetSummary {
            fleet_version: "1",
            generator: format!("sfconn {}", env!("CARGO_PKG_VERSION")),
            config_file: &config_file,
            started_at: timestamp(started_at),
            finished_at: timestamp(finished_at),
            concurrency,
            exit_code,
            orgs: &results,
        };
        let mut json = serde_json::to_vec_pretty(&summary).context("encoding fleet.json")?;
        json.push(b'\n');
        output::write_output(&dir.join(FLEET_FILE), &json)?;
    }
    if matches!(ended, Ended::Interrupted) {
        return Err(interrupted_fleet().into());
    }
    let failed: Vec<&str> =
        results.iter().filter(|r| r.status != Status::Ok).map(|r| r.org.as_str()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let fleet_file =
        dir.as_ref().map(|d| format!("; details in {}", d.join(FLEET_FILE).display())).unwrap_or_default();
    Err(Failure::new(
        exit_code,
        format!("{} of {} orgs failed: {}{fleet_file}", failed.len(), results.len(), failed.join(", ")),
    )
    .into())
}

fn interrupted_fleet() -> Failure {
    let mut failure = interrupted();
    failure.message = "interrupted: every org's run was stopped; the orgs still running wrote nothing (no \
                       partial output, no temporary files), fleet.json lists which had finished"
        .into();
    failure
}

/// `-o DIR`, required but with `-f table` (whose sections go to stdout).
fn output_dir(args: &CollectArgs) -> anyhow::Result<Option<PathBuf>> {
    let to_stdout = args.output.as_os_str() == sfconn_collect::output::STDOUT;
    match (to_stdout, args.format) {
        (true, FormatArg::Table) => Ok(None),
        (true, _) => Err(Failure::new(
            code::USAGE,
            "--all-orgs writes one snapshot per org: give the directory with -o DIR (DIR/NAME.json, and \
             DIR/fleet.json with each org's result)",
        )
        .into()),
        (false, _) if args.output.is_file() => Err(Failure::new(
            code::USAGE,
            format!(
                "--all-orgs writes a directory of snapshots, and {} is a file: give a directory with -o DIR",
                args.output.display()
            ),
        )
        .into()),
        (false, _) => Ok(Some(args.output.clone())),
    }
}

/// The org's output inside DIR.
fn file_name(org: &str, format: FormatArg) -> String {
    match format {
        FormatArg::Json => format!("{org}.json"),
        FormatArg::Ndjson => format!("{org}.ndjson"),
        FormatArg::Html => format!("{org}.html"),
        // -f table: a private file, printed on stdout at the end.
        FormatArg::Table => format!("{org}.txt"),
        FormatArg::Csv => org.to_string(),
    }
}

/// Each org's result, filled in as the org ends (`None`: stopped by Ctrl-C before it ended).
#[derive(Clone)]
struct Slots(Arc<Mutex<Vec<Option<OrgResult>>>>);

impl Slots {
    fn new(orgs: usize) -> Slots {
        Slots(Arc::new(Mutex::new(vec![None; orgs])))
    }

    fn slot(&self, index: usize) -> Slot {
        Slot { slots: self.clone(), index }
    }

    fn into_results(self) -> Vec<Option<OrgResult>> {
        match Arc::try_unwrap(self.0) {
            Ok(slots) => slots.into_inner().unwrap_or_default(),
            Err(shared) => shared.lock().map(|slots| slots.clone()).unwrap_or_default(),
        }
    }
}

/// Where one org's result goes.
#[derive(Clone)]
struct Slot {
    slots: Slots,
    index: usize,
}

impl Slot {
    fn fill(self, result: OrgResult) {
        if let Ok(mut slots) = self.slots.0.lock()
            && let Some(slot) = slots.get_mut(self.index)
        {
            *slot = Some(result);
        }
    }
}

/// Whose turn it is: `fleet.concurrency` orgs collect at once, and as many publish and store
/// their output at once (a PostgreSQL store takes concurrent imports); but one org at a time
/// stores into an SQLite file, as one `collect --store` after another would (two imports into
/// one SQLite store wait for each other's lock, and a long one would time the other out).
struct Turns<'a> {
    collecting: &'a Semaphore,
    publishing: Arc<Semaphore>,
    sqlite: Arc<Mutex<()>>,
}

/// Collects one org in its collecting turn, then publishes (and stores) its output on a
/// blocking thread in its publishing turn; every failure becomes that org's result.
async fn collect_org(
    org: FleetOrg,
    target: &Path,
    args: &CollectArgs,
    verbosity: Verbosity,
    (turns, cleanups): (&Turns<'_>, &sfconn_api::Cleanups),
    slot: Slot,
) {
    let prefix = format!("[{}] ", org.name);
    let mut result = OrgResult::new(org.name, Status::Failed);
    // An org whose settings are invalid sends nothing.
    let mut requests = 0;
    // The org's time starts when its turn comes, not while it waits for a permit.
    let mut started = Instant::now();
    let collected = match turns.collecting.acquire().await {
        Ok(_permit) => {
            started = Instant::now();
            collect_org_into(org.loaded, target, args, verbosity, &prefix, &mut requests, cleanups).await
        }
        Err(closed) => {
            Err(anyhow::Error::new(closed).context("internal error: the fleet's permits are gone"))
        }
    };
    result.api_requests = Some(requests);
    let output = (args.format != FormatArg::Table).then(|| target.to_path_buf());
    let (out, outcome) = match collected {
        Ok(collected) => collected,
        Err(error) => return slot.fill(settle(result, Err(error), started, output, &prefix)),
    };
    // Should the publishing thread panic, the org is recorded as failed, not as interrupted.
    let (fallback, unsettled) = (slot.clone(), result.clone());
    let publish_prefix = prefix.clone();
    let Ok(publishing) = Arc::clone(&turns.publishing).acquire_owned().await else {
        let error = anyhow::anyhow!("internal error: the fleet's permits are gone");
        return slot.fill(settle(result, Err(error), started, None, &prefix));
    };
    let sqlite = out.stores_in_sqlite().then(|| Arc::clone(&turns.sqlite));
    let published = tokio::task::spawn_blocking(move || {
        let _turn = publishing;
        let _sqlite_turn =
            sqlite.as_ref().map(|lock| lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let published = out.finish(&outcome, verbosity, &publish_prefix).map(|()| outcome.summary);
        slot.fill(settle(result, published, started, output, &publish_prefix));
    })
    .await;
    if let Err(error) = published {
        let error = anyhow::Error::new(error).context("internal error: publishing the output failed");
        fallback.fill(settle(unsettled, Err(error), started, None, &prefix));
    }
}

/// `result` completed with how the org ended.
fn settle(
    mut result: OrgResult,
    ended: anyhow::Result<Summary>,
    started: Instant,
    output: Option<PathBuf>,
    prefix: &str,
) -> OrgResult {
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match ended {
        Ok(summary) => {
            result.status = Status::Ok;
            result.users = Some(summary.users_total);
            result.subscriptions = Some(summary.subscriptions_total);
            result.output = output;
        }
        Err(error) => {
            let message = exit::message(&error);
            output::error(&format!("{prefix}{message}"));
            result.exit_code = exit::exit_code(&error);
            result.error_code = exit::salesforce_code(&error);
            result.message = Some(message);
        }
    }
    result
}

/// One org's collection, as `collect --org NAME` runs it, up to the output to publish;
/// `requests` ends with the requests sent to Salesforce, whether the run succeeded or not.
async fn collect_org_into(
    loaded: Result<Loaded, ConfigError>,
    target: &Path,
    args: &CollectArgs,
    verbosity: Verbosity,
    prefix: &str,
    requests: &mut u64,
    cleanups: &sfconn_api::Cleanups,
) -> anyhow::Result<(OrgOutput, RunOutcome)> {
    let loaded = loaded?;
    if verbosity != Verbosity::Quiet {
        for warning in &loaded.warnings {
            output::warning(&format!("{prefix}{warning}"));
        }
    }
    let settings = &loaded.settings;
    let store = args.store_target(settings)?;
    let mut out = OrgOutput::open(args.format, target, settings, store)?;
    let run = OrgRun::new(settings.clone())?.with_cleanups(cleanups);
    let collected = run.collect_into(out.sink.as_mut(), &NoProgress).await;
    *requests = run.requests_sent();
    Ok((out, collected?))
}

/// `-f table`: each finished org's section (its file in `targets`) on stdout, in name order.
fn print_tables(results: &[OrgResult], targets: &[PathBuf]) -> anyhow::Result<()> {
    let mut text = String::new();
    for (result, target) in results.iter().zip(targets).filter(|(r, _)| r.status == Status::Ok) {
        let table = std::fs::read_to_string(target)
            .with_context(|| format!("reading the table of org {}", result.org))?;
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("== org {} ==\n{table}", result.org));
    }
    output::data(&text).context("writing to stdout")
}

/// The fleet summary for people, on stderr.
fn summary_table(results: &[OrgResult]) -> String {
    let mut table = sfconn_text::Table::new(&[
        "ORG",
        "STATUS",
        "#EXIT",
        "#USERS",
        "#SUBSCRIPTIONS",
        "#REQUESTS",
        "#SECONDS",
        "ERROR",
    ]);
    let number = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    for r in results {
        let status = match r.status {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        };
        let error = match (&r.error_code, &r.message) {
            (_, None) => "-".to_string(),
            (Some(code), Some(_)) => code.clone(),
            (None, Some(message)) => first_words(message),
        };
        table.row(vec![
            r.org.clone(),
            status.into(),
            r.exit_code.to_string(),
            number(r.users),
            number(r.subscriptions),
            number(r.api_requests),
            format!("{:.1}", r.duration_ms as f64 / 1000.0),
            error,
        ]);
    }
    let ok = results.iter().filter(|r| r.status == Status::Ok).count();
    format!("fleet: {ok} of {} orgs collected\n{}", results.len(), table.render("  ").trim_end())
}

/// The start of a message, for a table cell.
fn first_words(message: &str) -> String {
    const MAX: usize = 60;
    if message.chars().count() <= MAX {
        return message.to_string();
    }
    let cut: String = message.chars().take(MAX - 1).collect();
    format!("{cut}…")
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn duration_ms(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Status, exit_code: u8) -> OrgResult {
        OrgResult { exit_code, ..OrgResult::new("o".into(), status) }
    }

    #[test]
    fn the_fleet_exits_with_the_failure_that_most_needs_a_person() {
        let ok = || result(Status::Ok, 0);
        let failed = |code| result(Status::Failed, code);
        assert_eq!(fleet_exit_code(&[ok(), ok()]), 0);
        assert_eq!(fleet_exit_code(&[]), 0);
        assert_eq!(fleet_exit_code(&[ok(), failed(75)]), 75);
        assert_eq!(fleet_exit_code(&[failed(75), failed(77), ok()]), 77);
        assert_eq!(fleet_exit_code(&[failed(69), failed(78)]), 78);
        assert_eq!(fleet_exit_code(&[failed(75), failed(74)]), 74);
        assert_eq!(fleet_exit_code(&[failed(65), failed(69)]), 69);
        assert_eq!(fleet_exit_code(&[failed(78), result(Status::Interrupted, 130)]), 130);
    }

    #[test]
    fn outputs_are_named_by_org_and_format() {
        assert_eq!(file_name("acme-prod", FormatArg::Json), "acme-prod.json");
        assert_eq!(file_name("acme-prod", FormatArg::Ndjson), "acme-prod.ndjson");
        assert_eq!(file_name("acme-prod", FormatArg::Csv), "acme-prod");
        assert_eq!(file_name("acme-prod", FormatArg::Html), "acme-prod.html");
    }

    #[test]
    fn long_messages_are_cut_for_the_table() {
        assert_eq!(first_words("short"), "short");
        let long = "x".repeat(100);
        assert_eq!(first_words(&long).chars().count(), 60);
    }
}
