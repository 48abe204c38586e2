//! `sfconn`: the command-line tool. A thin layer over the library crates: argument parsing,
//! output to stdout, messages to stderr, and the contract's exit codes.
//!
//! Owns: the command tree, turning flags into [`sfconn_config::Flags`], printing, and mapping
//! errors to exit codes ([`exit::exit_code`]).
//! Must not: hold connector logic, read environment variables itself (that is `config`), or
//! print anything but data on stdout.
//!
//! Adding a command: add a variant to [`Commands`] with its doc comment (the help text), a
//! module `<name>_cmd.rs` with `pub(crate) fn run(args) -> anyhow::Result<()>`, and one match
//! arm in [`run`]. Commands that need settings flatten [`settings_args::SettingArgs`]. A new
//! library error type implements `sfconn_errors::Classify` and gets one line in `exit::class_of`.

mod auth_cmd;
mod collect_cmd;
mod completions_cmd;
mod config_cmd;
mod exit;
mod fleet_cmd;
mod history_cmd;
mod logging;
mod output;
mod progress;
mod settings_args;
mod store_target;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Collects a Salesforce org's licences, profiles and users for SaaS management.
#[derive(Debug, Parser)]
#[command(name = "sfconn", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

/// The command groups; one module each.
#[derive(Debug, Subcommand)]
enum Commands {
    /// Run the connector: authenticate, collect, write one snapshot
    Collect(collect_cmd::CollectArgs),
    /// Get a refresh token (url + exchange, or device), check what the configured flow reaches,
    /// revoke the stored token
    #[command(subcommand)]
    Auth(auth_cmd::AuthCommand),
    /// Check the settings, or write a template config file
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Snapshot history: import snapshot files, list them, compare two
    #[command(subcommand)]
    History(history_cmd::HistoryCommand),
    /// Licence report of a stored snapshot: seats, reclaim candidates, third parties,
    /// over-assigned licences
    Report(history_cmd::ReportArgs),
    /// Print the shell completion script (bash, zsh or fish) on stdout
    Completions(completions_cmd::CompletionsArgs),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(message) = exit::secret_flag_on_command_line(&args) {
        output::error(&message);
        return ExitCode::from(exit::code::USAGE);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version exit 0; usage errors exit 2.
            let code = u8::try_from(err.exit_code()).unwrap_or(exit::code::USAGE);
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report(&err),
    }
}

/// Runs one parsed command.
fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Commands::Collect(args) => collect_cmd::run(&args),
        Commands::Auth(command) => auth_cmd::run(command),
        Commands::Config(command) => config_cmd::run(command),
        Commands::History(command) => history_cmd::run(command),
        Commands::Report(args) => history_cmd::run_report(args),
        Commands::Completions(args) => completions_cmd::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn setting_flags_become_config_flags() {
        let cli = Cli::try_parse_from([
            "sfconn",
            "config",
            "check",
            "-c",
            "x.toml",
            "--client-id",
            "id",
            "--client-secret-file",
            "s",
            "--refresh-token-file",
            "t",
            "--login-url",
            "https://test.salesforce.com",
            "--company-name",
            "a.com",
            "--company-name",
            "b.io",
            "--api-version",
            "62.0",
        ])
        .unwrap();
        let Commands::Config(config_cmd::ConfigCommand::Check(check)) = cli.command else {
            panic!("parsed as another command");
        };
        let flags = check.settings.to_flags();
        assert_eq!(
            flags,
            sfconn_config::Flags {
                config: Some("x.toml".into()),
                client_id: Some("id".into()),
                client_secret_file: Some("s".into()),
                refresh_token_file: Some("t".into()),
                login_url: Some("https://test.salesforce.com".into()),
                company_names: vec!["a.com".into(), "b.io".into()],
                api_version: Some("62.0".into()),
                csv_raw: false,
                login_activity_days: None,
                store_url: None,
                min_logins: None,
            }
        );
    }

    /// Contract §3 fixes the `collect` flag names, long and short; scripts depend on both.
    #[test]
    fn collect_flags_have_the_contract_names() {
        for (format, output, verbose, config) in
            [("--format", "--output", "--verbose", "--config"), ("-f", "-o", "-v", "-c")]
        {
            let cli = Cli::try_parse_from([
                "sfconn",
                "collect",
                config,
                "x.toml",
                format,
                "csv",
                output,
                "out",
                verbose,
                verbose,
                "--no-progress",
                "--company-name",
                "acme.com",
            ])
            .unwrap();
            let Commands::Collect(args) = cli.command else {
                panic!("parsed as another command");
            };
            assert!(matches!(args.format, collect_cmd::FormatArg::Csv));
            assert_eq!(args.output, std::path::PathBuf::from("out"));
            assert_eq!(args.verbose, 2);
            assert!(args.no_progress && !args.quiet);
            assert_eq!(args.settings.to_flags().config, Some("x.toml".into()));
        }
        let raw = Cli::try_parse_from(["sfconn", "collect", "-f", "csv", "-o", "out", "--csv-raw"]).unwrap();
        let Commands::Collect(args) = raw.command else { panic!("parsed as another command") };
        assert!(args.csv_raw);
        let activity = Cli::try_parse_from(["sfconn", "collect", "--login-activity", "30"]).unwrap();
        let Commands::Collect(args) = activity.command else { panic!("parsed as another command") };
        assert_eq!(args.setting_flags().login_activity_days, Some(30));
        assert_eq!(
            Cli::try_parse_from(["sfconn", "collect"])
                .map(|cli| match cli.command {
                    Commands::Collect(args) => args.setting_flags().login_activity_days,
                    _ => Some(u32::MAX),
                })
                .ok(),
            Some(None),
            "not given: the setting decides"
        );
        let quiet = Cli::try_parse_from(["sfconn", "collect", "--quiet"]).unwrap();
        let Commands::Collect(args) = quiet.command else { panic!("parsed as another command") };
        assert!(args.quiet && matches!(args.format, collect_cmd::FormatArg::Json));
        assert_eq!(args.output, std::path::PathBuf::from("-"), "stdout is the default output");
    }

    #[test]
    fn no_setting_flags_means_empty_flags() {
        let cli = Cli::try_parse_from(["sfconn", "config", "check"]).unwrap();
        let Commands::Config(config_cmd::ConfigCommand::Check(check)) = cli.command else {
            panic!("parsed as another command");
        };
        assert_eq!(check.settings.to_flags(), sfconn_config::Flags::default());
    }
}
