//! `sfconn history import|list|diff` and `sfconn report`: the snapshot store.
//! The work is in `sfconn_store`; this module turns arguments into calls and prints.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use sfconn_store::{
    CsvCells, HtmlOptions, Money, PaidRules, Prices, ReportOptions, Selector, SnapshotInfo, Store,
    StoreError, Target,
};

use crate::exit::{Failure, code, code_of};
use crate::output;
use sfconn_errors::Classify;

/// Where the snapshot store is: `--store` or `--store-url`, else the `store.path` /
/// `store.url` settings.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct StoreArgs {
    /// Snapshot store, an SQLite file [setting: store.path, env: SFCONN_STORE__PATH]
    #[arg(long = "store", value_name = "PATH")]
    pub store: Option<PathBuf>,

    /// Snapshot store in PostgreSQL: postgres://USER@HOST:PORT/DB?sslmode=… (never with a
    /// password: use PGPASSWORD, PGPASSFILE, store.password_file or store.url_file)
    /// [setting: store.url, env: SFCONN_STORE__URL]
    #[arg(long = "store-url", value_name = "URL", conflicts_with = "store")]
    pub store_url: Option<String>,

    /// Config file [default: ./sfconn.toml, else $XDG_CONFIG_HOME/sfconn/config.toml]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `sfconn history ...`
#[derive(Debug, Subcommand)]
pub(crate) enum HistoryCommand {
    /// Store a snapshot written earlier by `sfconn collect -f json` (`-` reads standard input)
    Import(ImportArgs),
    /// List the stored snapshots: id, org, time, users, subscriptions
    List(ListArgs),
    /// What changed between two snapshots of one org [default: the two latest]
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Snapshot file (JSON, schema_version 1), or `-` for standard input
    #[arg(value_name = "FILE.json")]
    pub file: PathBuf,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Output format
    #[arg(short = 'f', long = "format", value_enum, default_value_t)]
    pub format: ListFormat,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// Older snapshot: an id from `sfconn history list`, or a date (YYYY-MM-DD, meaning the
    /// latest snapshot up to the end of that day, UTC) [default: the one before --to]
    #[arg(long, value_name = "ID|DATE")]
    pub from: Option<String>,

    /// Newer snapshot: an id or a date [default: the latest]
    #[arg(long, value_name = "ID|DATE")]
    pub to: Option<String>,

    /// Only snapshots of this org (Organization Id), when the store holds several orgs
    #[arg(long, value_name = "ORG_ID")]
    pub org: Option<String>,

    /// Output format
    #[arg(short = 'f', long = "format", value_enum, default_value_t)]
    pub format: ListFormat,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    #[default]
    Table,
    Json,
    Csv,
    /// One self-contained page with charts (docs/report.md, "HTML report")
    Html,
}

/// `sfconn report`
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Snapshot to report on: an id from `sfconn history list`, or a date [default: the latest]
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,

    /// Only snapshots of this org (Organization Id), when the store holds several orgs
    #[arg(long, value_name = "ORG_ID")]
    pub org: Option<String>,

    /// Every org in the store, at its latest snapshot: each org's subscriptions, then the people
    /// who hold a paid licence in more than one org and the seats among them to reclaim
    /// (-f table, json or csv)
    #[arg(long, conflicts_with_all = ["org", "snapshot"])]
    pub all_orgs: bool,

    /// An active user with no login within this many days before the snapshot was collected
    /// is a reclaim candidate
    #[arg(long, value_name = "DAYS", default_value_t = sfconn_store::DEFAULT_INACTIVE_DAYS,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub inactive_days: u32,

    /// A user holding a paid licence with fewer successful logins than this in the snapshot's
    /// login-activity window is a reclaim candidate of the low-activity class [setting:
    /// report.min_logins, env: SFCONN_REPORT__MIN_LOGINS; default: 5]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub min_logins: Option<u32>,

    /// Prices per seat per month from this TOML file (a [prices] table: `currency = "EUR"`, then
    /// licence key or name = price), instead of the config file's [prices] table: the report then
    /// shows what the reclaimable seats cost (docs/report.md, "Money")
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,

    /// Output format
    #[arg(short = 'f', long = "format", value_enum, default_value_t)]
    pub format: ReportFormat,

    /// Where to write: a file (written atomically: complete or not at all), or `-` for stdout
    #[arg(short = 'o', long = "output", value_name = "PATH", default_value = "-")]
    pub output: PathBuf,

    /// With -f csv, write cells as they are. By default a cell of text from the org that starts
    /// with =, +, -, @, a tab or a carriage return gets a leading ' so that a spreadsheet shows
    /// it instead of running it as a formula [setting: csv_raw, env: SFCONN_CSV_RAW]
    #[arg(long)]
    pub csv_raw: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// A store error as the CLI reports it: its own message (which already carries the cause)
/// and its exit code (docs/contract.md §6).
#[allow(clippy::needless_pass_by_value)] // the shape `map_err` takes
fn failure(err: StoreError) -> anyhow::Error {
    anyhow::Error::new(Failure::new(code_of(err.class()), err.to_string()))
}

/// The store: `--store`, else `--store-url` or the settings (`store.url`, `store.path`).
fn store_target(args: &StoreArgs) -> anyhow::Result<Target> {
    Ok(report_settings(args, ReportWants::default())?.target)
}

/// The settings `history` and `report` use (no credentials needed nor read).
fn store_settings(args: &StoreArgs, wants: ReportWants) -> anyhow::Result<sfconn_config::Settings> {
    let flags = sfconn_config::Flags {
        config: args.config.clone(),
        csv_raw: wants.csv_raw,
        store_url: args.store_url.clone(),
        min_logins: wants.min_logins,
        ..sfconn_config::Flags::default()
    };
    let loaded = sfconn_config::load(&flags, sfconn_config::Need::StoreOnly)?;
    for warning in &loaded.warnings {
        output::warning(warning);
    }
    Ok(loaded.settings)
}

const NO_STORE: &str = "no snapshot store given and no home directory known for the default one: use --store PATH \
     or --store-url URL, or set store.path or store.url in the config file (SFCONN_STORE__PATH, SFCONN_STORE__URL)";

/// What `report` asks of the settings beside the store (nothing, for `history`).
#[derive(Debug, Clone, Copy, Default)]
struct ReportWants {
    /// `-f csv`.
    csv: bool,
    /// `--csv-raw`.
    csv_raw: bool,
    /// `--min-logins`.
    min_logins: Option<u32>,
    /// `report`: the low-activity threshold, the paid-licence rules and the prices come from
    /// the settings, so they are always read.
    report: bool,
}

/// The store and what `report` reads from the settings.
struct ReportSettings {
    target: Target,
    /// How `report -f csv` writes text from the org: `--csv-raw`, else the `csv_raw` setting.
    cells: CsvCells,
    /// `--min-logins`, else `report.min_logins`.
    min_logins: u32,
    /// `report.paid_keys` and `report.free_keys`.
    paid: PaidRules,
    /// The `[prices]` table.
    prices: Option<Prices>,
}

/// The store, how `report -f csv` writes text from the org (`--csv-raw`, else the `csv_raw`
/// setting), and for `report` the low-activity threshold (`--min-logins`, else
/// `report.min_logins`), the paid and free keys and the prices. `report` always reads the
/// settings; `history` only when `--store PATH` does not say where the store is.
fn report_settings(args: &StoreArgs, wants: ReportWants) -> anyhow::Result<ReportSettings> {
    crate::store_target::check_url_flag(args.store_url.as_deref())?;
    let needs_csv_setting = wants.csv && !wants.csv_raw;
    if let (Some(path), false, false) = (&args.store, needs_csv_setting, wants.report) {
        return Ok(ReportSettings {
            target: Target::Sqlite(path.clone()),
            cells: CsvCells::from_raw(wants.csv_raw),
            min_logins: wants.min_logins.unwrap_or(sfconn_store::DEFAULT_MIN_LOGINS),
            paid: PaidRules::default(),
            prices: None,
        });
    }
    let settings = store_settings(args, wants)?;
    let cells = CsvCells::from_raw(settings.csv_raw || wants.csv_raw);
    let target = match &args.store {
        Some(path) => Target::Sqlite(path.clone()),
        None => crate::store_target::from_settings(&settings, NO_STORE)?,
    };
    let sfconn_store::ReportOptions { min_logins, paid, prices, .. } = report_options(&settings);
    Ok(ReportSettings { target, cells, min_logins, paid, prices })
}

/// What the settings say about the report (`report.min_logins`, the paid and free keys, the
/// prices), for `report` and for `collect -f html`.
pub(crate) fn report_options(settings: &sfconn_config::Settings) -> sfconn_store::ReportOptions {
    sfconn_store::ReportOptions {
        min_logins: settings.report_min_logins,
        paid: paid_rules(settings),
        prices: settings.prices.as_ref().map(store_prices),
        ..sfconn_store::ReportOptions::default()
    }
}

/// `report.paid_keys` and `report.free_keys` as the report takes them.
fn paid_rules(settings: &sfconn_config::Settings) -> PaidRules {
    PaidRules::new(settings.report_paid_keys.iter().cloned(), settings.report_free_keys.iter().cloned())
}

// The config crate reads prices in the store's unit: ten-thousandths.
const _: () = assert!(sfconn_config::PRICE_SCALE == sfconn_store::MONEY_SCALE);

/// The settings' price list as the report takes it.
fn store_prices(list: &sfconn_config::PriceList) -> Prices {
    Prices::new(
        list.currency.clone(),
        list.entries
            .iter()
            .map(|entry| (entry.licence.clone(), Money::from_ten_thousandths(entry.ten_thousandths))),
    )
}

fn selector(text: Option<&str>) -> anyhow::Result<Option<Selector>> {
    text.map(Selector::parse).transpose().map_err(failure)
}

/// Writes the data to stdout (a reader that stops early is success: see `exit::exit_code`).
fn print(buffer: &[u8]) -> anyhow::Result<()> {
    output::data(&String::from_utf8_lossy(buffer))?;
    Ok(())
}

pub(crate) fn run(command: HistoryCommand) -> anyhow::Result<()> {
    match command {
        HistoryCommand::Import(args) => {
            let mut store = Store::open_target(&store_target(&args.store)?).map_err(failure)?;
            let id = store.import_file(&args.file).map_err(failure)?;
            let info = store.resolve(&Selector::Id(id.0), None).map_err(failure)?;
            print(imported_line(&info).as_bytes())
        }
        HistoryCommand::List(args) => {
            let store = Store::open_existing_target(&store_target(&args.store)?).map_err(failure)?;
            let snapshots = store.list().map_err(failure)?;
            let mut out = Vec::new();
            match args.format {
                ListFormat::Table => SnapshotInfo::write_list_table(&snapshots, &mut out).map_err(failure)?,
                ListFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &snapshots)?;
                    out.push(b'\n');
                }
            }
            print(&out)
        }
        HistoryCommand::Diff(args) => {
            let store = Store::open_existing_target(&store_target(&args.store)?).map_err(failure)?;
            let from = selector(args.from.as_deref())?;
            let to = selector(args.to.as_deref())?;
            let (from, to) =
                store.resolve_pair(from.as_ref(), to.as_ref(), args.org.as_deref()).map_err(failure)?;
            let diff = store.diff(&from, &to).map_err(failure)?;
            let mut out = Vec::new();
            match args.format {
                ListFormat::Table => diff.write_table(&mut out),
                ListFormat::Json => diff.write_json(&mut out),
            }
            .map_err(failure)?;
            print(&out)
        }
    }
}

/// What `history import` prints: the new snapshot's id first, for scripts.
fn imported_line(info: &SnapshotInfo) -> String {
    format!(
        "{}\timported: org {} ({}), collected {}, {} users, {} subscriptions\n",
        info.id, info.org_name, info.org_id, info.collected_at, info.users, info.subscriptions
    )
}

pub(crate) fn run_report(args: ReportArgs) -> anyhow::Result<()> {
    let ReportArgs {
        snapshot,
        org,
        all_orgs,
        inactive_days,
        min_logins,
        prices,
        format,
        output,
        csv_raw,
        store,
    } = args;
    if all_orgs && format == ReportFormat::Html {
        return Err(anyhow::Error::new(Failure::new(
            code::USAGE,
            "-f html does not go with --all-orgs: write the cross-org view with -f table, -f json or -f csv, \
             or one org's HTML report with -f html --org ORG_ID",
        )));
    }
    output::check_target(&output)?;
    let wants = ReportWants { csv: format == ReportFormat::Csv, csv_raw, min_logins, report: true };
    let settings = report_settings(&store, wants)?;
    // --prices FILE replaces the config file's [prices] table.
    let prices = match &prices {
        Some(path) => sfconn_config::read_prices_file(path)?.as_ref().map(store_prices),
        None => settings.prices,
    };
    let store = Store::open_existing_target(&settings.target).map_err(failure)?;
    let cells = settings.cells;
    let options =
        ReportOptions { inactive_days, min_logins: settings.min_logins, paid: settings.paid, prices };
    if all_orgs {
        let view = store.cross_org_report(&options).map_err(failure)?;
        let mut out = Vec::new();
        match format {
            // -f html was refused above.
            ReportFormat::Table | ReportFormat::Html => view.write_table(&mut out),
            ReportFormat::Json => view.write_json(&mut out),
            ReportFormat::Csv => view.write_csv(&mut out, cells),
        }
        .map_err(failure)?;
        return output::write_output(&output, &out);
    }
    let selector = selector(snapshot.as_deref())?.unwrap_or(Selector::Latest);
    let snapshot = store.resolve(&selector, org.as_deref()).map_err(failure)?;
    let report = store.report(&snapshot, &options).map_err(failure)?;
    let mut out = Vec::new();
    match format {
        ReportFormat::Table => report.write_table(&mut out),
        ReportFormat::Json => report.write_json(&mut out),
        ReportFormat::Csv => report.write_csv(&mut out, cells),
        ReportFormat::Html => store.report_context(&report).and_then(|context| {
            report.write_html(&context, HtmlOptions { sfconn_version: env!("CARGO_PKG_VERSION") }, &mut out)
        }),
    }
    .map_err(failure)?;
    output::write_output(&output, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_exit_code_wrapped_or_not() {
        let missing = || StoreError::Missing { path: "h.db".into() };
        assert_eq!(crate::exit::exit_code(&anyhow::Error::new(missing()).context("report")), 78);
        assert_eq!(crate::exit::exit_code(&failure(missing())), 78);
        let bad = StoreError::BadSelector { selector: "x".into() };
        assert_eq!(crate::exit::exit_code(&failure(bad)), 2);
    }

    /// The store's default (`ReportOptions::default()`, library callers) and the setting's must
    /// be the same number.
    #[test]
    fn the_store_and_the_settings_agree_on_the_default_min_logins() {
        assert_eq!(sfconn_store::DEFAULT_MIN_LOGINS, sfconn_config::keys::DEFAULT_MIN_LOGINS);
    }

    #[test]
    fn the_import_line_starts_with_the_id() {
        let info = SnapshotInfo {
            id: sfconn_store::SnapshotId(7),
            org_id: "00D000000000001AAA".into(),
            org_name: "Acme Corp".into(),
            is_sandbox: false,
            collected_at: "2024-06-01T08:00:00Z".into(),
            collected_at_ms: 1_717_228_800_000,
            users: 14,
            subscriptions: 3,
            filter_all: true,
            company_names: vec!["*".into()],
        };
        assert_eq!(
            imported_line(&info),
            "7\timported: org Acme Corp (00D000000000001AAA), collected 2024-06-01T08:00:00Z, 14 users, 3 subscriptions\n"
        );
    }
}
