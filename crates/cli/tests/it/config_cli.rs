//! `sfconn config check` / `sfconn config init` and the command line's general behaviour,
//! run as the real binary in an empty environment with a temporary home.

use std::fs;
use std::path::PathBuf;

use serde_json::{Value, json};
use std::process::Command;

use crate::common;
#[cfg(unix)]
use common::mode;
use common::{Sandbox, set_mode};

impl Sandbox {
    /// `sfconn` with valid credentials in the environment.
    pub(crate) fn sfconn_with_credentials(&self) -> Command {
        let mut cmd = self.sfconn();
        cmd.env("SFCONN_CLIENT_ID", "3MVG9-client-id")
            .env("SFCONN_CLIENT_SECRET", "s3cr3t-value")
            .env("SFCONN_REFRESH_TOKEN", "r3fr3sh-value");
        cmd
    }

    pub(crate) fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        set_mode(&path, 0o600);
        path
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const GOOD_FILE: &str = r#"
login_url = "https://test.salesforce.com"
company_names = ["acme.com", "@Acme.io"]

[http]
timeout_secs = 30
"#;

// ---------------------------------------------------------------- config check

#[test]
fn check_prints_effective_settings_with_origin_as_text() {
    let sandbox = Sandbox::new();
    sandbox.write("work/sfconn.toml", GOOD_FILE);
    let out = sandbox
        .sfconn_with_credentials()
        .args(["config", "check", "--api-version", "62.0"])
        .env("SFCONN_HTTP__MAX_RETRIES", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", sandbox.scrub(&text(&out.stderr)));
    assert_eq!(sandbox.scrub(&text(&out.stderr)), "", "nothing on stderr when all is well");
    let stdout = sandbox.scrub(&text(&out.stdout));
    assert!(!stdout.contains("s3cr3t") && !stdout.contains("r3fr3sh"), "{stdout}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn check_prints_effective_settings_as_json() {
    let sandbox = Sandbox::new();
    sandbox.write("work/sfconn.toml", GOOD_FILE);
    let out = sandbox
        .sfconn_with_credentials()
        .args(["config", "check", "--format", "json", "--company-name", "example.org"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", sandbox.scrub(&text(&out.stderr)));
    let stdout = sandbox.scrub(&text(&out.stdout));
    assert!(!stdout.contains("s3cr3t") && !stdout.contains("r3fr3sh"), "{stdout}");
    let document: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(document["settings"]["client_secret"]["value"], json!("***"));
    insta::assert_snapshot!(stdout);
}

#[test]
fn check_json_has_no_config_file_when_none_is_found() {
    let sandbox = Sandbox::new();
    let out = sandbox.sfconn_with_credentials().args(["config", "check", "-f", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let document: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(document["config_file"], Value::Null);
    assert_eq!(document["settings"]["login_url"]["origin"], json!({"kind": "default"}));
}

#[test]
fn precedence_end_to_end_file_env_flag() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "elsewhere/conf.toml",
        "api_version = \"58.0\"\nlogin_url = \"https://test.salesforce.com\"\ncompany_names = [\"file.com\"]\nhttp.concurrency = 2\n",
    );
    let out = sandbox
        .sfconn_with_credentials()
        .env("SFCONN_CONFIG", &config)
        .env("SFCONN_API_VERSION", "59.0")
        .env("SFCONN_COMPANY_NAMES", "env.com,env.io")
        .args(["config", "check", "-f", "json", "--company-name", "flag.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", sandbox.scrub(&text(&out.stderr)));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &doc["settings"];
    assert_eq!(doc["config_file"], json!(config));
    assert_eq!(s["login_url"]["value"], json!("https://test.salesforce.com"));
    assert_eq!(s["login_url"]["origin"], json!({"kind": "file", "path": config}));
    assert_eq!(s["api_version"]["value"], json!("59.0"));
    assert_eq!(s["api_version"]["origin"], json!({"kind": "env", "var": "SFCONN_API_VERSION"}));
    assert_eq!(s["company_names"]["value"], json!(["flag.com"]));
    assert_eq!(s["company_names"]["origin"], json!({"kind": "flag", "flag": "--company-name"}));
    assert_eq!(s["http.concurrency"]["value"], json!(2));
    assert_eq!(s["http.timeout_secs"]["origin"], json!({"kind": "default"}));

    // -c beats SFCONN_CONFIG.
    let other = sandbox.write("work/other.toml", "api_version = \"57.0\"\n");
    let out = sandbox
        .sfconn_with_credentials()
        .env("SFCONN_CONFIG", &config)
        .args(["config", "check", "-f", "json", "-c", "other.toml"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["config_file"], json!(other));
    assert_eq!(doc["settings"]["api_version"]["value"], json!("57.0"));
}

#[test]
fn check_finds_the_file_in_xdg_config_home() {
    let sandbox = Sandbox::new();
    let path = sandbox.write("config/sfconn/config.toml", "api_version = \"60.0\"\n");
    let out = sandbox.sfconn_with_credentials().args(["config", "check", "-f", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["config_file"], json!(path));
    assert_eq!(doc["settings"]["api_version"]["value"], json!("60.0"));
}

#[test]
fn check_reads_secret_files_given_as_flags() {
    let sandbox = Sandbox::new();
    let secret = sandbox.write("work/secret", "s3cr3t-in-file\n");
    let out = sandbox
        .sfconn()
        .env("SFCONN_CLIENT_ID", "id")
        .env("SFCONN_REFRESH_TOKEN", "t")
        .args(["config", "check", "--client-secret-file"])
        .arg(&secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", sandbox.scrub(&text(&out.stderr)));
    let stdout = sandbox.scrub(&text(&out.stdout));
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
    assert!(stdout.contains("client_secret = \"***\""), "{stdout}");
    assert!(stdout.contains("# read from [TMP]/work/secret"), "{stdout}");
}

#[test]
fn invalid_file_exits_78_naming_the_key() {
    let sandbox = Sandbox::new();
    sandbox.write("work/sfconn.toml", "[http]\ntimeout_secs = 0\n");
    let out = sandbox.sfconn_with_credentials().args(["config", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(out.stdout.is_empty(), "no data on failure");
    insta::assert_snapshot!(sandbox.scrub(&text(&out.stderr)));
}

#[test]
fn unknown_key_exits_78_with_a_suggestion() {
    let sandbox = Sandbox::new();
    sandbox.write("work/sfconn.toml", "company_name = [\"acme.com\"]\n");
    let out = sandbox.sfconn_with_credentials().args(["config", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    insta::assert_snapshot!(sandbox.scrub(&text(&out.stderr)));
}

#[test]
fn missing_settings_exit_78_listing_each() {
    let sandbox = Sandbox::new();
    let out = sandbox.sfconn().args(["config", "check", "-f", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(out.stdout.is_empty());
    let stderr = sandbox.scrub(&text(&out.stderr));
    assert!(stderr.starts_with("error: 3 settings are invalid:"), "{stderr}");
    for key in ["`client_id`", "`client_secret`", "`refresh_token`"] {
        assert!(stderr.contains(key), "{stderr}");
    }
}

#[test]
fn a_named_config_file_that_does_not_exist_exits_78() {
    let sandbox = Sandbox::new();
    let out =
        sandbox.sfconn_with_credentials().args(["config", "check", "-c", "nope.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = sandbox.scrub(&text(&out.stderr));
    assert!(stderr.contains("[TMP]/work/nope.toml (given by --config) does not exist"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_readable_config_file_with_a_secret_warns_on_stderr() {
    let sandbox = Sandbox::new();
    let path = sandbox.write("work/sfconn.toml", "client_secret = \"s3cr3t-in-toml\"\n");
    set_mode(&path, 0o644);
    let out = sandbox
        .sfconn()
        .env("SFCONN_CLIENT_ID", "id")
        .env("SFCONN_REFRESH_TOKEN", "t")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "warnings do not fail");
    let stderr = sandbox.scrub(&text(&out.stderr));
    assert!(!stderr.contains("s3cr3t") && !sandbox.scrub(&text(&out.stdout)).contains("s3cr3t"));
    insta::assert_snapshot!(stderr);
}

// ---------------------------------------------------------------- secrets on the command line

#[test]
fn secret_flags_exit_2_without_echoing_the_value() {
    let sandbox = Sandbox::new();
    for args in [
        &["config", "check", "--client-secret", "hunter2-value"][..],
        &["config", "check", "--client-secret=hunter2-value"][..],
        &["config", "check", "--refresh-token", "hunter2-value"][..],
        &["--refresh-token=hunter2-value", "config", "check"][..],
        &["config", "check", "--access-token=hunter2-value"][..],
    ] {
        let out = sandbox.sfconn_with_credentials().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(stderr.contains("is not accepted"), "{stderr}");
    }
    let out = sandbox
        .sfconn_with_credentials()
        .args(["config", "check", "--refresh-token", "hunter2-value"])
        .output()
        .unwrap();
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
}

// ---------------------------------------------------------------- command line in general

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let sandbox = Sandbox::new();
    assert_eq!(sandbox.sfconn().output().unwrap().status.code(), Some(2), "no command");
    assert_eq!(sandbox.sfconn().arg("frobnicate").output().unwrap().status.code(), Some(2));
    assert_eq!(
        sandbox.sfconn().args(["config", "check", "--format", "yaml"]).output().unwrap().status.code(),
        Some(2)
    );
    let help = sandbox.sfconn().arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("config"), "{help}");
    assert_eq!(sandbox.sfconn().arg("--version").output().unwrap().status.code(), Some(0));
}

#[test]
fn help_lists_no_secret_flags() {
    let sandbox = Sandbox::new();
    let help = sandbox.sfconn().args(["config", "check", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--client-secret-file"), "{help}");
    assert!(!help.contains("--client-secret "), "{help}");
    assert!(!help.contains("--refresh-token "), "{help}");
}

// ---------------------------------------------------------------- config init

#[test]
fn init_writes_the_template_privately() {
    let sandbox = Sandbox::new();
    let out = sandbox.sfconn().args(["config", "init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", sandbox.scrub(&text(&out.stderr)));
    assert!(out.stdout.is_empty(), "messages go to stderr");
    let path = sandbox.work().join("sfconn.toml");
    assert_eq!(fs::read_to_string(&path).unwrap(), sfconn_config::TEMPLATE);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let leftovers: Vec<_> = fs::read_dir(sandbox.work()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["sfconn.toml"], "no temporary file left behind");
    insta::assert_snapshot!(sandbox.scrub(&text(&out.stderr)));

    // The template is valid TOML with only unset keys: check reports the missing client id.
    let out = sandbox.sfconn().args(["config", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`client_id`: missing"));
}

#[test]
fn init_never_overwrites_without_force() {
    let sandbox = Sandbox::new();
    let path = sandbox.write("work/sfconn.toml", "client_id = \"mine\"\n");
    let out = sandbox.sfconn().args(["config", "init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    insta::assert_snapshot!(sandbox.scrub(&text(&out.stderr)));
    assert_eq!(fs::read_to_string(&path).unwrap(), "client_id = \"mine\"\n", "untouched");

    let out = sandbox.sfconn().args(["config", "init", "--force"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(fs::read_to_string(&path).unwrap(), sfconn_config::TEMPLATE);
}

#[test]
fn init_writes_to_a_given_path_creating_directories() {
    let sandbox = Sandbox::new();
    let target = sandbox.root().join("config/sfconn/config.toml");
    let out = sandbox.sfconn().args(["config", "init"]).arg(&target).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", sandbox.scrub(&text(&out.stderr)));
    assert_eq!(fs::read_to_string(&target).unwrap(), sfconn_config::TEMPLATE);
    #[cfg(unix)]
    assert_eq!(mode(&target), 0o600);
    // And the lookup finds it there.
    let out = sandbox.sfconn_with_credentials().args(["config", "check", "-f", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["config_file"], json!(target));
}

/// The `sfconn.toml` that `deploy/kubernetes/configmap.yaml` ships is a valid fleet config:
/// every org loads (with its secret files where the pod would find them, moved into the
/// sandbox) and keeps rotated tokens in the state directory.
#[test]
fn the_kubernetes_configmap_holds_a_valid_fleet_config() {
    let toml = crate::kubernetes_pod::configmap_sfconn_toml();
    let sandbox = Sandbox::new();
    let etc = sandbox.path("etc/sfconn");
    let toml = toml.replace("/etc/sfconn", &etc.display().to_string());
    for file in ["client/client-secret", "client/beta-corp-client-secret"] {
        sandbox.write(&format!("etc/sfconn/{file}"), "a-consumer-secret\n");
    }
    for org in ["acme-prod", "acme-sandbox", "beta-corp"] {
        sandbox.write(&format!("etc/sfconn/tokens/{org}"), "a-refresh-token\n");
    }
    sandbox.write("work/sfconn.toml", &toml);
    let output = sandbox.sfconn().args(["config", "check", "--all-orgs", "-f", "json"]).output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "the shipped config draws no warning:\n{stderr}");
    let checked: Value = serde_json::from_slice(&output.stdout).unwrap();
    let shown = checked.to_string();
    for org in ["acme-prod", "acme-sandbox", "beta-corp"] {
        assert!(shown.contains(org), "{org} missing from {shown}");
    }
    assert_eq!(
        shown.matches("\"state_dir\"").count(),
        3,
        "every org keeps rotated tokens in the state dir: {shown}"
    );
}

#[test]
fn check_shows_the_report_keys_and_every_price() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "work/sfconn.toml",
        "[report]\npaid_keys = [\"PID_WDC_Only\"]\n\n[prices]\ncurrency = \"EUR\"\nSFDC = 150\n\"Salesforce Platform\" = 25.5\n",
    );
    let out = sandbox.sfconn_with_credentials().args(["config", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", sandbox.scrub(&text(&out.stderr)));
    let stdout = sandbox.scrub(&text(&out.stdout));
    let tail: Vec<&str> = stdout.lines().skip_while(|l| !l.starts_with("report.")).collect();
    insta::assert_snapshot!(tail.join("\n"));
}
