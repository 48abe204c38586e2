//! Exit codes (docs/contract.md §6) and the mapping from errors to them: the only place that knows
//! the numbers. Library errors carry an [`ErrorClass`]; [`code_of`] turns a class into a code.

use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;

use sfconn_errors::{Classify, ErrorClass};

use crate::output;

/// The contract's exit codes.
pub(crate) mod code {
    /// Bad command line.
    pub(crate) const USAGE: u8 = 2;
    /// Salesforce returned data that sfconn cannot read.
    pub(crate) const BAD_DATA: u8 = 65;
    /// Salesforce unavailable for this org.
    pub(crate) const UNAVAILABLE: u8 = 69;
    /// Internal error: anything not classified otherwise.
    pub(crate) const INTERNAL: u8 = 70;
    /// Input/output error on this machine (disk full, read-only file system).
    pub(crate) const IO: u8 = 74;
    /// Temporary: try again later.
    pub(crate) const TEMPORARY: u8 = 75;
    /// Authentication refused.
    pub(crate) const AUTH_REFUSED: u8 = 77;
    /// Configuration invalid.
    pub(crate) const CONFIG: u8 = 78;
}

/// The exit code of a class of failure (docs/contract.md §6).
pub(crate) fn code_of(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Temporary => code::TEMPORARY,
        ErrorClass::Unavailable => code::UNAVAILABLE,
        ErrorClass::BadData => code::BAD_DATA,
        ErrorClass::AuthRefused => code::AUTH_REFUSED,
        ErrorClass::Configuration => code::CONFIG,
        ErrorClass::Io => code::IO,
        ErrorClass::Usage => code::USAGE,
        ErrorClass::Internal => code::INTERNAL,
    }
}

/// An error raised by the CLI itself, carrying its exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code for an error: the first cause in the chain that has a class (or a code, for
/// the CLI's own [`Failure`]) wins; anything unknown is an internal error (70). A closed stdout
/// pipe is success (0), as for `sfconn ... | head`.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.code;
        }
        if closed_stdout(cause) {
            return 0;
        }
        if let Some(class) = class_of(cause) {
            return code_of(class);
        }
        // A file the CLI writes itself (`config init`, `auth device --refresh-token-file`)
        // on a full or read-only disk.
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && sfconn_errors::storage_refusal(io.kind()).is_some()
        {
            return code_of(ErrorClass::Io);
        }
    }
    code::INTERNAL
}

/// Salesforce's own error code (`invalid_grant`, `API_DISABLED_FOR_ORG`, …) of the first
/// cause in the chain that is an answer of Salesforce's.
pub(crate) fn salesforce_code(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|cause| classified(cause)?.salesforce_code().map(str::to_string))
}

/// The class of a library error.
fn class_of(cause: &(dyn Error + 'static)) -> Option<ErrorClass> {
    classified(cause).map(Classify::class)
}

/// A library error as its [`Classify`]: one downcast per library error type. A new library
/// error type gets one line here.
fn classified<'a>(cause: &'a (dyn Error + 'static)) -> Option<&'a dyn Classify> {
    fn as_classify<'a, T: Classify + Error + 'static>(
        cause: &'a (dyn Error + 'static),
    ) -> Option<&'a dyn Classify> {
        cause.downcast_ref::<T>().map(|error| error as &dyn Classify)
    }
    as_classify::<sfconn_config::ConfigError>(cause)
        .or_else(|| as_classify::<sfconn_store::StoreError>(cause))
        .or_else(|| as_classify::<sfconn_session::SessionError>(cause))
        .or_else(|| as_classify::<sfconn_auth::AuthError>(cause))
        .or_else(|| as_classify::<sfconn_collect::CollectError>(cause))
        .or_else(|| as_classify::<sfconn_collect::OutputError>(cause))
        .or_else(|| as_classify::<sfconn_api::ApiError>(cause))
        .or_else(|| as_classify::<sfconn_http::HttpError>(cause))
}

/// A closed stdout pipe: the CLI's own write, or the collect run's while it copies the staged
/// output to stdout, as for `sfconn collect | head`. (Only there: a closed connection to
/// Salesforce is no success.)
fn closed_stdout(cause: &(dyn Error + 'static)) -> bool {
    let output = match cause.downcast_ref::<sfconn_collect::CollectError>() {
        Some(sfconn_collect::CollectError::Output(output)) => Some(output),
        _ => cause.downcast_ref::<sfconn_collect::OutputError>(),
    };
    let pipe = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
    match output {
        Some(sfconn_collect::OutputError::Write { source, .. }) => pipe(source),
        Some(_) => false,
        None => cause.downcast_ref::<std::io::Error>().is_some_and(pipe),
    }
}

/// Prints the error (with its causes) on stderr and returns its exit code.
pub(crate) fn report(err: &anyhow::Error) -> ExitCode {
    let code = exit_code(err);
    if code != 0 {
        output::error(&message(err));
    }
    ExitCode::from(code)
}

/// The error and its causes joined by `: ` (as `{:#}` does), leaving out a cause whose text the
/// message already holds: many library errors print their source in their own message.
pub(crate) fn message(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Secret flags that do not exist on purpose, with what to use instead.
const SECRET_FLAGS: &[(&str, &str, &str)] = &[
    ("--client-secret", "SFCONN_CLIENT_SECRET", "--client-secret-file"),
    ("--refresh-token", "SFCONN_REFRESH_TOKEN", "--refresh-token-file"),
    ("--access-token", "", ""),
];

/// A message when the command line carries a secret as a flag (docs/contract.md §2); checked before
/// clap so that the value is never echoed.
pub(crate) fn secret_flag_on_command_line(args: &[OsString]) -> Option<String> {
    for arg in args.iter().skip(1) {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        for (flag, env, file_flag) in SECRET_FLAGS {
            if arg == *flag || arg.starts_with(&format!("{flag}=")) {
                let instead = if env.is_empty() {
                    "sfconn obtains access tokens itself from the refresh token".to_string()
                } else {
                    let key = &file_flag[2..].replace('-', "_");
                    format!(
                        "set {env}, or put it in a file only you can read and use {file_flag} FILE \
                         (or {key} in the config file)"
                    )
                };
                return Some(format!(
                    "{flag} is not accepted: secrets on the command line are visible to other users \
                     and kept in shell history; {instead}"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn config_errors_exit_78_even_when_wrapped() {
        let err = sfconn_config::ConfigError::Invalid { problems: Vec::new() };
        let err = anyhow::Error::new(err).context("loading settings");
        assert_eq!(exit_code(&err), 78);
    }

    #[test]
    fn auth_errors_keep_their_exit_code() {
        let refusal = sfconn_auth::Refusal::classify("invalid_grant", "inactive user", 400, "x");
        let err = anyhow::Error::new(sfconn_auth::AuthError::Refused(refusal)).context("auth check");
        assert_eq!(exit_code(&err), 77);
    }

    #[test]
    fn each_class_has_its_contract_code() {
        use ErrorClass::*;
        let classes = [Temporary, Unavailable, BadData, AuthRefused, Configuration, Io, Usage, Internal];
        assert_eq!(classes.map(code_of), [75, 69, 65, 77, 78, 74, 2, 70]);
        let stopped = sfconn_http::HttpError::Unreachable { attempts: 3, detail: "refused".into() };
        assert_eq!(exit_code(&anyhow::Error::new(stopped).context("sending")), 69);
    }

    #[test]
    fn session_errors_keep_their_exit_code() {
        let err = anyhow::Error::new(sfconn_session::SessionError::NoRefreshToken).context("auth check");
        assert_eq!(exit_code(&err), 78);
    }

    #[test]
    fn failures_carry_their_code() {
        let err = anyhow::Error::new(Failure::new(code::USAGE, "bad"));
        assert_eq!(exit_code(&err), 2);
    }

    #[test]
    fn unknown_errors_are_internal() {
        let err = anyhow::anyhow!("something odd");
        assert_eq!(exit_code(&err), 70);
        let io: anyhow::Result<()> = Err(std::io::Error::other("disk full")).context("writing output");
        assert_eq!(exit_code(&io.unwrap_err()), 70);
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let source = serde_json::from_str::<u8>("x").unwrap_err();
        let text = source.to_string();
        let err = anyhow::Error::new(Failure::new(65, format!("cannot read the page: {text}")));
        assert_eq!(message(&err), format!("cannot read the page: {text}"));
        let wrapped: anyhow::Result<()> = Err(std::io::Error::other("disk full")).context("writing output");
        assert_eq!(message(&wrapped.unwrap_err()), "writing output: disk full");
        let decode = sfconn_api::ApiError::Decode { request: "the list".into(), path: ".".into(), source };
        let shown = message(&anyhow::Error::new(decode));
        assert_eq!(shown.matches(&text).count(), 1, "{shown}");
    }

    #[test]
    fn a_closed_stdout_pipe_is_success() {
        let err = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(exit_code(&err), 0);
        // Also when the collect run reports it while copying the staged output to stdout.
        let output = sfconn_collect::OutputError::Write {
            format: "json",
            source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        };
        let err = anyhow::Error::new(sfconn_collect::CollectError::Output(output));
        assert_eq!(exit_code(&err), 0);
    }

    #[test]
    fn collect_errors_keep_their_exit_code() {
        let budget = sfconn_collect::CollectError::ApiBudgetExceeded {
            used: 95,
            max: 100,
            percent: 95.0,
            max_percent: 90,
        };
        assert_eq!(exit_code(&anyhow::Error::new(budget).context("collect")), 75);
        let err = anyhow::Error::new(sfconn_collect::CollectError::Output(
            sfconn_collect::OutputError::CsvNeedsDirectory,
        ));
        assert_eq!(exit_code(&err), 2);
        assert_eq!(exit_code(&anyhow::Error::new(sfconn_collect::OutputError::CsvNeedsDirectory)), 2);
    }

    #[test]
    fn a_full_or_read_only_disk_is_74_and_a_wrong_path_keeps_its_code() {
        let full = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        let written: anyhow::Result<()> = Err(full()).context("writing the refresh token to /x/rt");
        assert_eq!(exit_code(&written.unwrap_err()), 74);
        let read_only = std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem);
        assert_eq!(exit_code(&anyhow::Error::new(read_only)), 74);
        let output = sfconn_collect::OutputError::Storage {
            target: "/x/out.json".into(),
            reason: "no space left on the device: the disk is full",
            source: full(),
        };
        assert_eq!(exit_code(&anyhow::Error::new(sfconn_collect::CollectError::Output(output))), 74);
        let file =
            sfconn_auth::AuthError::File { what: "cannot write".into(), path: "/x/p".into(), source: full() };
        assert_eq!(exit_code(&anyhow::Error::new(file)), 74);
        // A permission denied is a setting to fix, not the disk: it keeps its code.
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let file =
            sfconn_auth::AuthError::File { what: "cannot write".into(), path: "/x/p".into(), source: denied };
        assert_eq!(exit_code(&anyhow::Error::new(file)), 78);
        let denied: anyhow::Result<()> =
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)).context("writing /x/rt");
        assert_eq!(exit_code(&denied.unwrap_err()), 70);
    }

    #[test]
    fn secret_flags_are_refused_without_echoing_the_value() {
        for line in [
            &["sfconn", "config", "check", "--client-secret", "hunter2"][..],
            &["sfconn", "config", "check", "--client-secret=hunter2"][..],
            &["sfconn", "--refresh-token=hunter2", "config", "check"][..],
        ] {
            let message = secret_flag_on_command_line(&args(line)).unwrap();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("is not accepted"), "{message}");
        }
        let message = secret_flag_on_command_line(&args(&["sfconn", "--client-secret", "x"])).unwrap();
        assert!(message.contains("SFCONN_CLIENT_SECRET"), "{message}");
        assert!(message.contains("--client-secret-file FILE"), "{message}");
        assert!(message.contains("client_secret_file in the config file"), "{message}");
    }

    #[test]
    fn file_flags_and_arguments_after_double_dash_are_fine() {
        assert_eq!(secret_flag_on_command_line(&args(&["sfconn", "--client-secret-file", "f"])), None);
        assert_eq!(secret_flag_on_command_line(&args(&["sfconn", "--refresh-token-file=f"])), None);
        assert_eq!(
            secret_flag_on_command_line(&args(&["sfconn", "config", "init", "--", "--client-secret"])),
            None
        );
    }
}
