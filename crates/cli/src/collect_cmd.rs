//! `sfconn collect` (docs/contract.md §3): load the settings, run the connector into the chosen output
//! format, show progress and warnings on stderr, and stop cleanly on Ctrl-C. The run itself is
//! `sfconn_collect::run`; this module only wires it to the command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{ArgAction, Args, ValueEnum};
use sfconn_auth::Rotation;
use sfconn_collect::snapshot::{Summary, WARNING_REFRESH_TOKEN_ROTATED, Warning};
use sfconn_collect::{
    CollectError, CsvCells, Format, NoProgress, OutputError, OutputOptions, Progress, RunOutcome,
    SnapshotSink, StoreCopy, open_sink, open_sink_with,
};
use sfconn_config::{Need, Settings};
use sfconn_store::{Store, Target};

use crate::exit::{Failure, code, code_of};
use crate::logging::{self, Verbosity};
use crate::output;
use crate::progress::Bars;
use crate::settings_args::SettingArgs;

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub(crate) const INTERRUPTED: u8 = 130;

/// Flags of `sfconn collect`.
#[derive(Debug, Args)]
pub(crate) struct CollectArgs {
    /// Output format: json (one document, snapshot.schema.json), ndjson (one object per line),
    /// csv (a directory of files), table (a summary for people), html (the licence report of
    /// this one snapshot as a self-contained page; see `sfconn report -f html`)
    #[arg(short = 'f', long = "format", value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,

    /// Where to write: a file, or `-` for stdout; for csv a directory (created if missing).
    /// Files are written atomically: complete or not at all
    #[arg(short = 'o', long = "output", value_name = "PATH", default_value = "-")]
    pub output: PathBuf,

    /// Do not show progress bars (they only show when stderr is a terminal anyway)
    #[arg(long)]
    pub no_progress: bool,

    /// More diagnostics on stderr: -v info, -vv debug, -vvv trace (RUST_LOG overrides)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Errors only on stderr: no progress, no warnings list, no summary line (a rotated refresh
    /// token that could not be saved is still reported)
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Also keep the snapshot in the snapshot store (an SQLite file) for `sfconn report` and
    /// `sfconn history`; without PATH, the store.path (or store.url) setting
    #[arg(long = "store", value_name = "PATH", num_args = 0..=1)]
    pub store: Option<Option<PathBuf>>,

    /// Also keep the snapshot in a PostgreSQL snapshot store: postgres://USER@HOST:PORT/DB
    /// (never with a password: use PGPASSWORD, PGPASSFILE, store.password_file or
    /// store.url_file) [setting: store.url, env: SFCONN_STORE__URL]
    #[arg(long = "store-url", value_name = "URL", conflicts_with = "store")]
    pub store_url: Option<String>,

    /// With -f csv, write cells as they are. By default a cell of text from the org that starts
    /// with =, +, -, @, a tab or a carriage return gets a leading ' so that a spreadsheet shows
    /// it instead of running it as a formula [setting: csv_raw, env: SFCONN_CSV_RAW]
    #[arg(long)]
    pub csv_raw: bool,

    /// Per user, the successful logins of the last DAYS days (1 to 180) and the latest one's
    /// application and type, from LoginHistory (needs "Manage Users"); 0 = off. Large windows
    /// are read through a Bulk API 2.0 query job [setting: login_activity_days, env:
    /// SFCONN_LOGIN_ACTIVITY_DAYS]
    #[arg(long = "login-activity", value_name = "DAYS")]
    pub login_activity: Option<u32>,

    /// Collect every named org of the config file ([orgs.NAME] tables), fleet.concurrency at a
    /// time, into DIR (-o): DIR/NAME.json (NAME.ndjson, NAME/ for csv, NAME.html), and
    /// DIR/fleet.json with each org's result. One org's failure never stops the others
    #[arg(long, conflicts_with_all = ["org", "org_index"])]
    pub all_orgs: bool,

    #[command(flatten)]
    pub settings: SettingArgs,
}

/// `--format` values, as clap lists them in `--help` and completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatArg {
    Json,
    Ndjson,
    Csv,
    Table,
    Html,
}

impl CollectArgs {
    /// The setting flags, `--csv-raw` included.
    pub(crate) fn setting_flags(&self) -> sfconn_config::Flags {
        sfconn_config::Flags {
            csv_raw: self.csv_raw,
            login_activity_days: self.login_activity,
            store_url: self.store_url.clone(),
            ..self.settings.to_flags()
        }
    }

    /// Where `--store` / `--store-url` keeps the snapshot: `None` without either; `--store`
    /// without a path means the `store.url` or `store.path` setting, or the default store when
    /// neither is set; `--store-url` the URL (its password from the settings).
    pub(crate) fn store_target(&self, settings: &Settings) -> Result<Option<Target>, Failure> {
        match (&self.store, &self.store_url) {
            (None, None) => Ok(None),
            (Some(Some(path)), _) => Ok(Some(Target::Sqlite(path.clone()))),
            (Some(None), None) | (None, Some(_)) => crate::store_target::from_settings(
                settings,
                "--store without a path needs the store.path setting (config file or SFCONN_STORE__PATH) \
                 when no home directory is known for the default store; or give the path: --store PATH",
            )
            .map(Some),
            (Some(None), Some(_)) => Err(Failure::new(code::USAGE, "give --store or --store-url, not both")),
        }
    }
}

impl From<FormatArg> for Format {
    /// The format the run itself writes: `html` is rendered from a JSON snapshot afterwards.
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Csv => Format::Csv,
            FormatArg::Table => Format::Table,
            FormatArg::Json | FormatArg::Html => Format::Json,
        }
    }
}

pub(crate) fn run(args: &CollectArgs) -> anyhow::Result<()> {
    crate::store_target::check_url_flag(args.store_url.as_deref())?;
    let verbosity = Verbosity::from_flags(args.verbose, args.quiet);
    if args.all_orgs {
        logging::init(verbosity);
        return crate::fleet_cmd::run(args, verbosity);
    }
    let format = Format::from(args.format);
    let to_stdout = args.output.as_os_str() == sfconn_collect::output::STDOUT;
    if format == Format::Csv && to_stdout {
        return Err(Failure::new(code::USAGE, OutputError::CsvNeedsDirectory.to_string()).into());
    }
    logging::init(verbosity);

    let flags = args.setting_flags();
    let loaded = args.settings.load(&flags, Need::Everything)?;
    if verbosity != Verbosity::Quiet {
        for warning in &loaded.warnings {
            output::warning(warning);
        }
    }
    let settings = loaded.settings;
    let store = args.store_target(&settings)?;

    // Opened before the run so that a bad --output fails before any API request is spent.
    let mut target = OrgOutput::open(args.format, &args.output, &settings, store)?;

    let show_progress = !args.no_progress && verbosity != Verbosity::Quiet && std::io::stderr().is_terminal();
    let bars = show_progress.then(Bars::on_stderr);
    if let Some(bars) = &bars {
        logging::attach_progress(bars.multi());
    }
    let progress: &dyn Progress = match &bars {
        Some(bars) => bars,
        None => &NoProgress,
    };

    let runtime = runtime()?;
    let org = sfconn_collect::OrgRun::new(settings.clone())?;
    let result = runtime.block_on(until_interrupted(org.collect_into(target.sink.as_mut(), progress)));
    if let Some(bars) = &bars {
        bars.clear();
    }
    let outcome = match result {
        Ended::Finished(finished) => match *finished {
            Ok(outcome) => outcome,
            Err(error) => {
                // Dropping the sink removes its temporary files; existing output stays untouched.
                drop(target);
                return Err(error.into());
            }
        },
        Ended::Interrupted => {
            // A Bulk API job the run had started is aborted, not left running in the org.
            runtime.block_on(org.abort_unfinished_jobs());
            drop(target);
            return Err(interrupted().into());
        }
    };
    target.finish(&outcome, verbosity, "")
}

/// The failure of a run stopped by Ctrl-C.
pub(crate) fn interrupted() -> Failure {
    Failure::new(
        INTERRUPTED,
        "interrupted: the run was stopped and nothing was written (no partial output, no \
         temporary files)",
    )
}

/// The async runtime of a collection. Worker threads: the query streams fetch and decode their
/// next page on tasks of their own while this thread maps and writes the page it has
/// (docs/benchmarks.md).
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Where one org's collection goes: the output sink (published only when the run finishes),
/// the scratch directory of `-f html`, and the copy kept for `--store`.
pub(crate) struct OrgOutput {
    /// The sink the run writes into.
    pub(crate) sink: Box<dyn SnapshotSink>,
    html_dir: Option<tempfile::TempDir>,
    to_store: Option<(Target, StoreCopy)>,
    output: PathBuf,
    format_name: &'static str,
    /// `report.min_logins`, `report.paid_keys`, `report.free_keys` and `[prices]`, for the
    /// `-f html` page.
    report_options: sfconn_store::ReportOptions,
}

impl OrgOutput {
    /// Opens the output for `format` at `output` (and the store copy when `store` is set).
    pub(crate) fn open(
        format: FormatArg,
        output: &Path,
        settings: &Settings,
        store: Option<Target>,
    ) -> anyhow::Result<OrgOutput> {
        let options = OutputOptions { csv_cells: CsvCells::from_raw(settings.csv_raw) };
        // -f html: the run writes JSON to a private temporary directory; the page is made from it.
        let html_dir = html_scratch(format, output)?;
        let sink = match &html_dir {
            None => open_sink_with(Format::from(format), output, options),
            Some(dir) => open_sink(Format::Json, &dir.path().join(HTML_SNAPSHOT_FILE)),
        }
        .map_err(CollectError::Output)?;
        let to_store = match store {
            None => None,
            Some(target) => Some((target, StoreCopy::new().map_err(CollectError::Output)?)),
        };
        let sink = match &to_store {
            None => sink,
            Some((_, copy)) => copy.tee(sink).map_err(CollectError::Output)?,
        };
        let format_name = if html_dir.is_some() { "html" } else { Format::from(format).name() };
        Ok(OrgOutput {
            sink,
            html_dir,
            to_store,
            output: output.to_path_buf(),
            format_name,
            report_options: crate::history_cmd::report_options(settings),
        })
    }

    /// Whether the snapshot is also kept in an SQLite store (whose writers wait for one another).
    pub(crate) fn stores_in_sqlite(&self) -> bool {
        matches!(self.to_store, Some((Target::Sqlite(_), _)))
    }

    /// After a successful run: the HTML page, the messages on stderr (each line starting with
    /// `prefix`), the store copy, and the failure of a rotated token that could not be kept.
    pub(crate) fn finish(
        self,
        outcome: &RunOutcome,
        verbosity: Verbosity,
        prefix: &str,
    ) -> anyhow::Result<()> {
        let OrgOutput { sink, html_dir, to_store, output, format_name, report_options } = self;
        drop(sink);
        if let Some(dir) = &html_dir {
            write_html(dir.path(), &output, &report_options)?;
        }
        report_outcome(outcome, verbosity, &output, format_name, prefix);
        if verbosity != Verbosity::Quiet
            && let Some(warning) = sfconn_collect::sandbox::invalid_email_warning(&outcome.summary)
        {
            output::warning(&format!("{prefix}{warning}"));
        }
        if let Some((target, copy)) = to_store {
            store(&copy.path(), &target, verbosity, prefix)?;
        }
        // The output is complete, but the refresh_token_file still holds the revoked token: fail
        // (74) so that a scheduler notices now rather than at the next run's invalid_grant.
        if let (Some(class), Some(step)) = (outcome.rotation.failure_class(), outcome.rotation.next_step()) {
            let code = code_of(class);
            return Err(Failure::new(code, step).into());
        }
        Ok(())
    }
}

/// How a run ended.
pub(crate) enum Ended<T = Result<RunOutcome, CollectError>> {
    /// The run finished, with its outcome or its failure.
    Finished(Box<T>),
    /// Ctrl-C stopped it.
    Interrupted,
}

/// Runs `run` (the connector for one org, or a whole fleet), or stops at Ctrl-C. Stopping
/// drops the run's future, so no more requests are sent; the caller then drops the sinks,
/// which discards the staged output.
pub(crate) async fn until_interrupted<T>(run: impl std::future::Future<Output = T>) -> Ended<T> {
    // The handler is installed here, before the run starts, not when `select!` first polls.
    let sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    let interrupted = async {
        match sigint {
            Ok(mut sigint) => {
                sigint.recv().await;
            }
            // No signal handler could be installed: Ctrl-C then ends the process the default
            // way, which also leaves no output behind (temporary files excepted).
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        result = Box::pin(run) => Ended::Finished(Box::new(result)),
        () = interrupted => Ended::Interrupted,
    }
}

/// Warnings, the rotated-token alarm and a one-line summary on stderr.
fn report_outcome(
    outcome: &RunOutcome,
    verbosity: Verbosity,
    output_path: &Path,
    format: &str,
    prefix: &str,
) {
    let quiet = verbosity == Verbosity::Quiet;
    if !quiet {
        for warning in outcome.warnings.iter().filter(|w| w.code != WARNING_REFRESH_TOKEN_ROTATED) {
            output::warning(&format!("{prefix}{}", warning_line(warning)));
        }
    }
    match &outcome.rotation {
        Rotation::NotRotated => {}
        Rotation::Persisted { .. } | Rotation::KeptInStateDir { .. } => {
            if let (false, Some(step)) = (quiet, outcome.rotation.next_step()) {
                output::note(&format!("{prefix}{step}"));
            }
        }
        // The run fails at the end with the next step as its message (see `run`).
        Rotation::FileUnwritable { .. } | Rotation::StateDirUnwritable { .. } => {
            output::warning(&format!("{prefix}{ROTATED_ALARM}"));
        }
        // The new token is not where the settings look next time: the user must act.
        needs_action => rotated_token_alarm(needs_action, prefix),
    }
    if !quiet {
        output::note(&format!("{prefix}{}", summary_line(&outcome.summary, output_path, format)));
    }
}

/// `[code] message`, with the source when the message does not already name it.
fn warning_line(warning: &Warning) -> String {
    match &warning.source {
        Some(source) if !warning.message.contains(source.as_str()) => {
            format!("[{}] {source}: {}", warning.code, warning.message)
        }
        _ => format!("[{}] {}", warning.code, warning.message),
    }
}

const ROTATED_ALARM: &str = "!!! Salesforce rotated the refresh token: the old one no longer works !!!";

/// Printed even with `-q`: the token that works now is not where the next run looks.
fn rotated_token_alarm(rotation: &Rotation, prefix: &str) {
    let step = rotation.next_step().unwrap_or_default();
    output::warning(&format!("{prefix}{ROTATED_ALARM}"));
    output::warning(&format!("{prefix}[{WARNING_REFRESH_TOKEN_ROTATED}] {step}"));
}

fn summary_line(summary: &Summary, output_path: &Path, format: &str) -> String {
    let mut line = format!("collected {} users ({} active", summary.users_total, summary.users_active);
    if summary.users_excluded_by_filter > 0 {
        line.push_str(&format!(", {} left out by the company filter", summary.users_excluded_by_filter));
    }
    line.push_str(&format!(
        ") and {} subscriptions with {} API requests",
        summary.subscriptions_total, summary.api_requests
    ));
    if let Some(after) = summary.api_usage_after {
        line.push_str(&format!(" (org's daily usage now {} of {})", after.used, after.max));
    }
    let target = if output_path.as_os_str() == sfconn_collect::output::STDOUT {
        "stdout".to_owned()
    } else if format == Format::Csv.name() {
        format!("the directory {}", output_path.display())
    } else {
        output_path.display().to_string()
    };
    line.push_str(&format!("; {format} written to {target}"));
    line
}

/// The snapshot `-f html` collects into its private directory before making the page.
const HTML_SNAPSHOT_FILE: &str = "snapshot.json";

/// For `-f html`: checks `--output` and makes the private directory the run's JSON goes to.
fn html_scratch(format: FormatArg, output: &Path) -> anyhow::Result<Option<tempfile::TempDir>> {
    if format != FormatArg::Html {
        return Ok(None);
    }
    output::check_target(output)?;
    let dir = tempfile::Builder::new()
        .prefix("sfconn-html-")
        .tempdir()
        .context("creating a temporary directory for the HTML report's snapshot")?;
    Ok(Some(dir))
}

/// Renders the HTML report of the snapshot the run wrote to `dir` and writes it to `output`
/// (with the report's settings: `report.*` and `[prices]`).
fn write_html(dir: &Path, output: &Path, report_options: &sfconn_store::ReportOptions) -> anyhow::Result<()> {
    let options = sfconn_store::HtmlOptions { sfconn_version: env!("CARGO_PKG_VERSION") };
    let html = sfconn_store::snapshot_file_html(&dir.join(HTML_SNAPSHOT_FILE), dir, report_options, options)?;
    output::write_output(output, &html)
}

/// Puts the JSON copy ([`StoreCopy`]) into the snapshot store. The output is already
/// written at this point; a failure says so.
fn store(copy: &Path, target: &Target, verbosity: Verbosity, prefix: &str) -> anyhow::Result<()> {
    let shown = match target {
        Target::Sqlite(path) => {
            create_store_dir(path)?;
            path.display().to_string()
        }
        Target::Postgres(pg) => pg.shown().to_owned(),
    };
    // Streamed from the file: the users are stored as they are read, never all in memory.
    let stored = Store::open_target(target)
        .and_then(|mut store| store.import_file(copy))
        .map_err(anyhow::Error::new)
        .with_context(|| {
            format!("the snapshot was written, but keeping it in the snapshot store {shown} failed")
        })?;
    if verbosity != Verbosity::Quiet {
        output::note(&format!("{prefix}stored as snapshot {stored} in {shown}"));
    }
    Ok(())
}

/// Creates the store's directory (mode 0700) when it is missing, as for the default store
/// `$XDG_DATA_HOME/sfconn/history.db` on a first run.
fn create_store_dir(store_path: &Path) -> anyhow::Result<()> {
    let Some(dir) = store_path.parent().filter(|dir| !dir.as_os_str().is_empty() && !dir.exists()) else {
        return Ok(());
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(anyhow::Error::new).with_context(|| {
        format!(
            "the snapshot was written, but the snapshot store's directory {} cannot be created",
            dir.display()
        )
    })
}
