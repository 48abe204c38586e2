//! Broken input: config files, environment values, flags and company names. Each row exits 78
//! (configuration) or 2 (command line) with one message naming the key or flag, and nothing
//! panics. Every configuration row runs both `config check` and `collect` (which must refuse
//! before any request: the login URL points at a closed port).

use std::ffi::OsString;
use std::process::Output;

use super::common::*;

/// Where a row puts its broken input.
enum Input {
    /// `./sfconn.toml` with these bytes (found without `--config`).
    File(Vec<u8>),
    /// `--config` naming a directory.
    ConfigIsDirectory,
    /// A secret file with these bytes, named by this variable.
    SecretFile(&'static str, Vec<u8>),
    /// A secret file variable naming a directory.
    SecretFileIsDirectory(&'static str),
    /// This environment variable.
    Env(&'static str, OsString),
    /// These arguments after `sfconn` (the command line itself is the input).
    Args(&'static [&'static str]),
}

struct Row {
    name: &'static str,
    input: Input,
    code: i32,
    /// Fragments the one error message must hold: the key, variable or flag.
    names: &'static [&'static str],
}

fn file(text: &str) -> Input {
    Input::File(text.as_bytes().to_vec())
}

fn env(name: &'static str, value: &str) -> Input {
    Input::Env(name, OsString::from(value))
}

fn rows() -> Vec<Row> {
    let huge_id = format!("client_id = \"{}\"\n", "x".repeat(2 * 1024 * 1024));
    let rows = vec![
        // ---- config files ----
        Row {
            name: "invalid TOML",
            input: file("client_id = \"abc\n"),
            code: 78,
            names: &["sfconn.toml", "not valid TOML"],
        },
        Row {
            name: "a table where a value belongs",
            input: file("[client_id]\nx = 1\n"),
            code: 78,
            names: &["client_id"],
        },
        Row {
            name: "wrong type",
            input: file("[http]\ntimeout_secs = \"fast\"\n"),
            code: 78,
            names: &["http.timeout_secs"],
        },
        Row {
            name: "list of the wrong type",
            input: file("company_names = 5\n"),
            code: 78,
            names: &["company_names"],
        },
        Row {
            name: "unknown key",
            input: file("client_idd = \"x\"\n"),
            code: 78,
            names: &["client_idd", "client_id"],
        },
        Row {
            name: "unknown table key",
            input: file("[http]\ntimeout = 5\n"),
            code: 78,
            names: &["http.timeout", "http.timeout_secs"],
        },
        Row { name: "unknown table", input: file("[proxy]\nurl = \"x\"\n"), code: 78, names: &["proxy"] },
        Row { name: "empty client_id", input: file("client_id = \"\"\n"), code: 78, names: &["client_id"] },
        Row {
            name: "whitespace-only secret",
            input: file("client_secret = \"  \\t \"\n"),
            code: 78,
            names: &["client_secret"],
        },
        Row {
            name: "whitespace-only refresh token",
            input: file("refresh_token = \"\\n \"\n"),
            code: 78,
            names: &["refresh_token"],
        },
        Row {
            name: "timeout above its range",
            input: file("[http]\ntimeout_secs = 100000\n"),
            code: 78,
            names: &["http.timeout_secs"],
        },
        Row {
            name: "integer beyond i64",
            input: file("[http]\nmax_retries = 99999999999999999999999\n"),
            code: 78,
            names: &["sfconn.toml"],
        },
        Row {
            name: "retries beyond u32",
            input: file("[http]\nmax_retries = 4294967296\n"),
            code: 78,
            names: &["http.max_retries"],
        },
        Row {
            name: "negative retries",
            input: file("[http]\nmax_retries = -1\n"),
            code: 78,
            names: &["http.max_retries"],
        },
        Row {
            name: "zero concurrency",
            input: file("[http]\nconcurrency = 0\n"),
            code: 78,
            names: &["http.concurrency"],
        },
        Row {
            name: "usage percent above 100",
            input: file("[limits]\nmax_api_usage_percent = 101\n"),
            code: 78,
            names: &["limits.max_api_usage_percent"],
        },
        Row {
            name: "a float for an integer",
            input: file("[http]\ntimeout_secs = 1.5\n"),
            code: 78,
            names: &["http.timeout_secs"],
        },
        Row {
            name: "a 2 MiB client_id",
            input: Input::File(huge_id.into_bytes()),
            code: 78,
            names: &["client_id"],
        },
        Row {
            name: "non-UTF-8 bytes",
            input: Input::File(b"client_id = \"\xff\xfe\"\n".to_vec()),
            code: 78,
            names: &["sfconn.toml"],
        },
        Row {
            name: "a directory instead of a file",
            input: Input::ConfigIsDirectory,
            code: 78,
            names: &["cannot read config file"],
        },
        Row {
            name: "ftp login_url",
            input: file("login_url = \"ftp://login.salesforce.com\"\n"),
            code: 78,
            names: &["login_url"],
        },
        Row {
            name: "http login_url off loopback",
            input: file("login_url = \"http://login.salesforce.com\"\n"),
            code: 78,
            names: &["login_url", "https"],
        },
        Row {
            name: "Lightning login_url",
            input: file("login_url = \"https://acme.lightning.force.com\"\n"),
            code: 78,
            names: &["login_url", "https://acme.my.salesforce.com"],
        },
        Row {
            name: "Lightning sandbox login_url",
            input: file("login_url = \"https://acme--uat.sandbox.lightning.force.com\"\n"),
            code: 78,
            names: &["login_url", "https://acme--uat.sandbox.my.salesforce.com"],
        },
        Row {
            name: "Lightning Developer Edition login_url",
            input: file("login_url = \"https://acme-dev-ed.develop.lightning.force.com\"\n"),
            code: 78,
            names: &["login_url", "https://acme-dev-ed.develop.my.salesforce.com"],
        },
        Row {
            name: "Lightning scratch org login_url, mixed case",
            input: file("login_url = \"https://Acme.Scratch.Lightning.Force.com/\"\n"),
            code: 78,
            names: &["login_url", "https://acme.scratch.my.salesforce.com"],
        },
        Row {
            name: "Setup domain login_url",
            input: file(
                "login_url = \"https://acme.my.salesforce-setup.com/lightning/setup/SetupOneHome/home\"\n",
            ),
            code: 78,
            names: &["login_url", "https://acme.my.salesforce.com"],
        },
        Row {
            name: "Developer Edition Setup domain login_url",
            input: file("login_url = \"https://acme-dev-ed.develop.my.salesforce-setup.com\"\n"),
            code: 78,
            names: &["login_url", "https://acme-dev-ed.develop.my.salesforce.com"],
        },
        Row {
            name: "Experience Cloud site login_url",
            input: file("login_url = \"https://acme.my.site.com/partners\"\n"),
            code: 78,
            names: &["login_url", "https://acme.my.salesforce.com"],
        },
        Row {
            name: "force.com site login_url",
            input: file("login_url = \"https://acme.force.com/customers\"\n"),
            code: 78,
            names: &["login_url", "https://login.salesforce.com"],
        },
        Row {
            name: "login_url with a query",
            input: file("login_url = \"https://login.salesforce.com/?locale=fr\"\n"),
            code: 78,
            names: &["login_url", "give the server's address only: https://login.salesforce.com"],
        },
        Row {
            name: "login_url with a path",
            input: file("login_url = \"https://acme.my.salesforce.com/lightning/setup/SetupOneHome/home\"\n"),
            code: 78,
            names: &["login_url", "give the server's address only: https://acme.my.salesforce.com"],
        },
        Row {
            name: "login_url with a fragment",
            input: file("login_url = \"https://test.salesforce.com/#login\"\n"),
            code: 78,
            names: &["login_url", "give the server's address only: https://test.salesforce.com"],
        },
        Row {
            name: "not a URL",
            input: file("login_url = \"login salesforce\"\n"),
            code: 78,
            names: &["login_url"],
        },
        Row {
            name: "api_version not a version",
            input: file("api_version = \"latest\"\n"),
            code: 78,
            names: &["api_version"],
        },
        Row {
            name: "company name with a space",
            input: file("company_names = [\"acme .com\"]\n"),
            code: 78,
            names: &["company_names", "acme .com"],
        },
        Row {
            name: "company name with a slash",
            input: file("company_names = [\"acme.com/x\"]\n"),
            code: 78,
            names: &["company_names", "acme.com/x"],
        },
        Row {
            name: "company name with two @",
            input: file("company_names = [\"jo@acme@x.com\"]\n"),
            code: 78,
            names: &["company_names", "jo@acme@x.com"],
        },
        Row {
            name: "company name with an empty label",
            input: file("company_names = [\"acme..com\"]\n"),
            code: 78,
            names: &["company_names", "acme..com"],
        },
        Row {
            name: "company name with a colon",
            input: file("company_names = [\"acme.com:443\"]\n"),
            code: 78,
            names: &["company_names", "acme.com:443"],
        },
        // ---- secret files ----
        Row {
            name: "blank secret file",
            input: Input::SecretFile("SFCONN_CLIENT_SECRET_FILE", b" \n".to_vec()),
            code: 78,
            names: &["client_secret_file"],
        },
        Row {
            name: "non-UTF-8 token file",
            input: Input::SecretFile("SFCONN_REFRESH_TOKEN_FILE", b"\xff\xfe\n".to_vec()),
            code: 78,
            names: &["refresh_token_file"],
        },
        Row {
            name: "token file is a directory",
            input: Input::SecretFileIsDirectory("SFCONN_REFRESH_TOKEN_FILE"),
            code: 78,
            names: &["refresh_token_file"],
        },
        Row {
            name: "missing secret file",
            input: env("SFCONN_CLIENT_SECRET_FILE", "/nonexistent/secret"),
            code: 78,
            names: &["client_secret_file", "/nonexistent/secret"],
        },
        // ---- environment ----
        Row {
            name: "env: not a number",
            input: env("SFCONN_HTTP__TIMEOUT_SECS", "abc"),
            code: 78,
            names: &["http.timeout_secs", "SFCONN_HTTP__TIMEOUT_SECS"],
        },
        Row {
            name: "env: negative",
            input: env("SFCONN_HTTP__MAX_RETRIES", "-1"),
            code: 78,
            names: &["http.max_retries", "SFCONN_HTTP__MAX_RETRIES"],
        },
        Row {
            name: "env: zero percent",
            input: env("SFCONN_LIMITS__MAX_API_USAGE_PERCENT", "0"),
            code: 78,
            names: &["limits.max_api_usage_percent"],
        },
        Row {
            name: "env: unknown variable",
            input: env("SFCONN_TIMEOUT", "5"),
            code: 78,
            names: &["SFCONN_TIMEOUT"],
        },
        Row {
            name: "env: empty client id",
            input: env("SFCONN_CLIENT_ID", ""),
            code: 78,
            names: &["client_id"],
        },
        Row {
            name: "env: whitespace refresh token",
            input: env("SFCONN_REFRESH_TOKEN", " \t "),
            code: 78,
            names: &["refresh_token"],
        },
        Row {
            name: "env: bad company name in a list",
            input: env("SFCONN_COMPANY_NAMES", "acme.com, bad name.io"),
            code: 78,
            names: &["company_names", "bad name.io"],
        },
        Row {
            name: "env: config file that does not exist",
            input: env("SFCONN_CONFIG", "/nonexistent/sfconn.toml"),
            code: 78,
            names: &["SFCONN_CONFIG", "does not exist"],
        },
        Row {
            name: "env: non-UTF-8 client id",
            input: Input::Env("SFCONN_CLIENT_ID", non_utf8()),
            code: 78,
            names: &["SFCONN_CLIENT_ID"],
        },
        // ---- flags ----
        Row {
            name: "flag: unknown format",
            input: Input::Args(&["collect", "--format", "xml"]),
            code: 2,
            names: &["--format", "xml"],
        },
        Row {
            name: "flag: unknown flag",
            input: Input::Args(&["collect", "--bogus"]),
            code: 2,
            names: &["--bogus"],
        },
        Row {
            name: "flag: secret as a flag",
            input: Input::Args(&["collect", "--client-secret", "hunter2"]),
            code: 2,
            names: &["--client-secret"],
        },
        Row {
            name: "flag: -v with -q",
            input: Input::Args(&["collect", "-v", "-q"]),
            code: 2,
            names: &["--quiet"],
        },
        Row {
            name: "flag: csv to stdout",
            input: Input::Args(&["collect", "-f", "csv"]),
            code: 2,
            names: &["csv", "--output DIR"],
        },
        Row {
            name: "flag: --config without a value",
            input: Input::Args(&["config", "check", "--config"]),
            code: 2,
            names: &["--config"],
        },
        Row {
            name: "flag: unknown command",
            input: Input::Args(&["colect"]),
            code: 2,
            names: &["colect", "collect"],
        },
        Row {
            name: "flag: bad company name",
            input: Input::Args(&["config", "check", "--company-name", "acme com"]),
            code: 78,
            names: &["--company-name", "acme com"],
        },
        Row {
            name: "flag: bad login URL",
            input: Input::Args(&["collect", "--login-url", "http://example.com"]),
            code: 78,
            names: &["--login-url"],
        },
        Row {
            name: "flag: Lightning login URL",
            input: Input::Args(&[
                "config",
                "check",
                "--login-url",
                "https://acme--uat.sandbox.lightning.force.com",
            ]),
            code: 78,
            names: &["--login-url", "https://acme--uat.sandbox.my.salesforce.com"],
        },
        Row {
            name: "flag: bad API version",
            input: Input::Args(&["collect", "--api-version", "v62.x"]),
            code: 78,
            names: &["--api-version"],
        },
        Row {
            name: "flag: config file that does not exist",
            input: Input::Args(&["collect", "-c", "missing.toml"]),
            code: 78,
            names: &["--config", "missing.toml"],
        },
    ];
    rows
}

#[cfg(unix)]
fn non_utf8() -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(b"3MVG9\xff\xfe".to_vec())
}

/// A sandbox with valid credentials in the environment and a login URL on a closed loopback
/// port, so that nothing here can reach a network.
fn run(sandbox: &Sandbox, input: &Input, args: &[&str]) -> Output {
    let work = sandbox.work();
    let mut cmd = sandbox.sfconn();
    cmd.env("SFCONN_CLIENT_ID", "3MVG9-client-id")
        .env("SFCONN_CLIENT_SECRET", "s3cr3t-value")
        .env("SFCONN_REFRESH_TOKEN", "r3fr3sh-value")
        .env("SFCONN_LOGIN_URL", "http://127.0.0.1:9")
        .env("SFCONN_HTTP__MAX_RETRIES", "0");
    let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    match input {
        Input::File(bytes) => {
            // The environment wins over the file: leave out what the file sets.
            let text = String::from_utf8_lossy(bytes);
            for (key, var) in [
                ("client_id", "SFCONN_CLIENT_ID"),
                ("client_secret", "SFCONN_CLIENT_SECRET"),
                ("refresh_token", "SFCONN_REFRESH_TOKEN"),
                ("login_url", "SFCONN_LOGIN_URL"),
                ("max_retries", "SFCONN_HTTP__MAX_RETRIES"),
            ] {
                if text.contains(key) {
                    cmd.env_remove(var);
                }
            }
            let path = work.join("sfconn.toml");
            std::fs::write(&path, bytes).unwrap();
            set_mode(&path, 0o600);
        }
        Input::ConfigIsDirectory => {
            std::fs::create_dir_all(work.join("conf.d")).unwrap();
            args.extend(["--config".to_owned(), "conf.d".to_owned()]);
        }
        Input::SecretFile(var, bytes) => {
            let path = sandbox.path("secret");
            std::fs::write(&path, bytes).unwrap();
            set_mode(&path, 0o600);
            cmd.env(var, &path).env_remove(var.trim_end_matches("_FILE"));
        }
        Input::SecretFileIsDirectory(var) => {
            cmd.env(var, sandbox.root()).env_remove(var.trim_end_matches("_FILE"));
        }
        Input::Env(var, value) => {
            cmd.env(var, value);
            if let Some(inline) = var.strip_suffix("_FILE") {
                cmd.env_remove(inline);
            }
        }
        Input::Args(line) => args = line.iter().map(|arg| (*arg).to_owned()).collect(),
    }
    cmd.args(&args).output().unwrap()
}

#[test]
fn every_bad_input_exits_with_one_message_naming_it() {
    let rows = rows();
    let mut failures = Vec::new();
    let mut messages = Vec::new();
    for row in &rows {
        let commands: Vec<&[&str]> = match row.input {
            Input::Args(_) => vec![&[]],
            _ => vec![&["config", "check"], &["collect", "-o", "out.json"]],
        };
        for command in commands {
            let sandbox = Sandbox::new();
            let output = run(&sandbox, &row.input, command);
            let stderr = stderr(&output);
            let shown = if stderr.len() > 2000 { format!("{}…", &stderr[..2000]) } else { stderr.clone() };
            let problem = if stderr.contains("panicked") || code(&output) == 101 {
                Some("panicked".to_owned())
            } else if code(&output) != row.code {
                Some(format!("exit {} instead of {}", code(&output), row.code))
            } else if let Some(missing) = row.names.iter().find(|name| !stderr.contains(**name)) {
                Some(format!("the message does not name {missing:?}"))
            } else if !output.stdout.is_empty() {
                Some("stdout is not empty".to_owned())
            } else if row.code == 78 && stderr.lines().filter(|line| line.starts_with("error: ")).count() != 1
            {
                Some("not exactly one error message".to_owned())
            } else if stderr.len() > 4096 {
                Some(format!("a {}-byte message (a huge value must not be echoed)", stderr.len()))
            } else if sandbox.work().join("out.json").exists() {
                Some("an output file was written".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                failures.push(format!("[{}] {command:?}: {problem}\n{shown}", row.name));
            }
            if command.first() != Some(&"collect") {
                let sandbox_path = sandbox.root().to_str().unwrap();
                let message: Vec<&str> =
                    stderr.lines().skip_while(|line| !line.starts_with("error")).take(6).collect();
                messages.push(format!(
                    "[{}] exit {}\n{}\n",
                    row.name,
                    code(&output),
                    message.join("\n").replace(sandbox_path, "[TMP]")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} problems:\n\n{}", failures.len(), failures.join("\n"));
    // The messages, reviewed: each names the key, variable or flag and says what to do.
    insta::assert_snapshot!("bad_input_messages", messages.join("\n"));
}
