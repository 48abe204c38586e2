//! `sfconn auth url | exchange | device | check`, run as the real binary against the simulated
//! org on 127.0.0.1, in an empty environment with a temporary home.

// Test helpers outside #[test] functions panic on purpose when the sandbox cannot be set up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin_cmd;
use sfconn_testkit::{DeviceFlowPlan, OrgSpec, SimulatedOrg};
use tempfile::TempDir;

mod common;
use common::{assert_no_secrets, mode};

/// A simulated org kept alive on its own runtime while the binary talks to it.
struct Org {
    org: SimulatedOrg,
    _runtime: tokio::runtime::Runtime,
    home: TempDir,
}

impl Org {
    fn start() -> Org {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let org = runtime.block_on(SimulatedOrg::start(OrgSpec::small()));
        Org { org, _runtime: runtime, home: tempfile::tempdir().unwrap() }
    }

    fn state_dir(&self) -> PathBuf {
        self.home.path().join("state")
    }

    /// `sfconn` with HOME, XDG_STATE_HOME and the org's client id, secret and login URL; no
    /// refresh token.
    fn client_only(&self) -> Command {
        let mut cmd = cargo_bin_cmd!("sfconn");
        cmd.env_clear()
            .env("HOME", self.home.path())
            .env("XDG_STATE_HOME", self.state_dir())
            .current_dir(self.home.path());
        for (name, value) in self.org.sfconn_env() {
            if name != "SFCONN_REFRESH_TOKEN" {
                cmd.env(name, value);
            }
        }
        cmd
    }

    /// `sfconn` with every credential of the org in the environment.
    fn everything(&self) -> Command {
        let mut cmd = self.client_only();
        cmd.env("SFCONN_REFRESH_TOKEN", SimulatedOrg::REFRESH_TOKEN);
        cmd
    }
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn auth_check_shows_org_user_scopes_usage_and_rotation() {
    let org = Org::start();
    let output = org.everything().args(["auth", "check"]).output().unwrap();
    let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let org_id = &org.org.data().organization.id;
    assert!(
        stdout.lines().any(|line| line.starts_with("org id:") && line.ends_with(org_id.as_str())),
        "{stdout}"
    );
    for label in ["login URL:", "instance URL:", "username:", "user type:", "scopes:", "daily API use:"] {
        assert!(stdout.contains(label), "{label} missing:\n{stdout}");
    }
    assert!(stdout.contains("refresh token: not rotated"), "{stdout}");
    assert_no_secrets(&[&stdout, &stderr]);
}

#[test]
fn auth_check_keeps_a_rotated_token_in_the_file() {
    let org = Org::start();
    org.org.faults().rotate_refresh_tokens(true);
    let file = org.home.path().join("refresh_token");
    std::fs::write(&file, SimulatedOrg::REFRESH_TOKEN).unwrap();
    let output =
        org.client_only().args(["auth", "check", "--refresh-token-file"]).arg(&file).output().unwrap();
    let stdout = stdout_of(&output);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stdout.contains("rotated; the new token was written to"), "{stdout}");
    let rotated = std::fs::read_to_string(&file).unwrap();
    assert_eq!(org.org.valid_refresh_tokens(), [rotated.trim().to_string()]);
    assert_eq!(mode(&file), 0o600);
    // The next run works with the file's token.
    let again =
        org.client_only().args(["auth", "check", "--refresh-token-file"]).arg(&file).output().unwrap();
    assert!(again.status.success(), "{}", stderr_of(&again));
}

#[test]
fn auth_check_with_a_revoked_token_exits_77_and_says_what_to_do() {
    let org = Org::start();
    org.org.faults().revoke_refresh_tokens();
    let output = org.everything().args(["auth", "check"]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("invalid_grant (expired access/refresh token)"), "{stderr}");
    assert!(stderr.contains("sfconn auth device"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_no_secrets(&[&stderr]);
}

#[test]
fn auth_check_without_the_api_scope_exits_77() {
    let org = Org::start();
    org.org.faults().missing_api_scope(true);
    let output = org.everything().args(["auth", "check"]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("lacks the `api` scope"), "{stderr}");
}

#[test]
fn auth_check_warns_when_the_refresh_token_scope_is_missing() {
    let org = Org::start();
    org.org.faults().missing_refresh_token_scope(true);
    let output = org.everything().args(["auth", "check"]).output().unwrap();
    let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
    assert!(output.status.success(), "a warning, not a failure:\n{stderr}");
    assert!(stdout.lines().any(|line| line.starts_with("scopes:") && line.ends_with("api id")), "{stdout}");
    assert!(stderr.contains("lacks the `refresh_token` scope (granted: api id)"), "{stderr}");
    assert!(!stdout.contains("lacks"), "warnings go to stderr:\n{stdout}");
}

#[test]
fn auth_device_prints_only_the_refresh_token_on_stdout() {
    let org = Org::start();
    org.org.faults().device_flow(DeviceFlowPlan { interval_secs: 0, slow_down: 0, pending: 2 });
    let output = org.client_only().args(["auth", "device"]).output().unwrap();
    let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
    assert!(output.status.success(), "{stderr}");
    let token = stdout.strip_suffix('\n').unwrap();
    assert!(!token.is_empty() && !token.contains(char::is_whitespace), "{stdout:?}");
    assert!(org.org.valid_refresh_tokens().contains(&token.to_string()));
    assert!(stderr.contains("/setup/connect") && stderr.contains("enter the code"), "{stderr}");
    assert!(!stderr.contains(token), "the token is on stdout only");
}

#[test]
fn auth_device_writes_the_file_with_mode_0600() {
    let org = Org::start();
    org.org.faults().device_flow(DeviceFlowPlan { interval_secs: 0, slow_down: 0, pending: 1 });
    let file = org.home.path().join("new_refresh_token");
    let output =
        org.client_only().args(["auth", "device", "--refresh-token-file"]).arg(&file).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(output.stdout.is_empty());
    let token = std::fs::read_to_string(&file).unwrap();
    assert!(org.org.valid_refresh_tokens().contains(&token.trim().to_string()));
    assert_eq!(mode(&file), 0o600);
}

#[test]
fn auth_device_disabled_exits_77_naming_the_checkbox() {
    let org = Org::start();
    org.org.faults().oauth_flow_disabled(true);
    let output = org.client_only().args(["auth", "device"]).output().unwrap();
    assert_eq!(output.status.code(), Some(77));
    assert!(stderr_of(&output).contains("Enable for Device Flow"));
}

#[test]
fn auth_url_then_exchange_with_the_pasted_success_url() {
    let org = Org::start();
    let output = org.client_only().args(["auth", "url", "--pkce"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let printed = stdout_of(&output);
    let url = sfconn_auth::Url::parse(printed.trim()).unwrap();
    assert_eq!(url.path(), "/services/oauth2/authorize");
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], SimulatedOrg::CLIENT_ID);
    assert_eq!(query["scope"], "api refresh_token offline_access");
    let pending = org.state_dir().join("sfconn").join("pending-authorization.json");
    assert_eq!(mode(&pending), 0o600);

    // The browser step, then the pasted URL (code URL-encoded as Salesforce sends it).
    let code = org.org.issue_authorization_code_for(&query["redirect_uri"], Some(&query["code_challenge"]));
    let pasted = sfconn_auth::Url::parse_with_params(
        &query["redirect_uri"],
        [("code", code.as_str()), ("state", query["state"].as_str())],
    )
    .unwrap();
    let output = org.client_only().args(["auth", "exchange", "--code", pasted.as_str()]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let token = stdout_of(&output);
    assert!(org.org.valid_refresh_tokens().contains(&token.trim().to_string()));
    assert!(!pending.exists(), "the used state is removed");
}

#[test]
fn auth_exchange_refuses_a_state_mismatch() {
    let org = Org::start();
    let output = org.client_only().args(["auth", "url"]).output().unwrap();
    assert!(output.status.success());
    let output = org
        .client_only()
        .args(["auth", "exchange", "--code"])
        .arg(format!("{}/services/oauth2/success?code=abc&state=forged", org.org.login_url()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(77));
    assert!(stderr_of(&output).contains("does not match"), "{}", stderr_of(&output));
    assert_eq!(org.org.token_requests(), 0);
}

#[test]
fn auth_exchange_reports_an_error_in_the_pasted_url() {
    let org = Org::start();
    let output = org
        .client_only()
        .args(["auth", "exchange", "--code"])
        .arg("https://login.salesforce.com/services/oauth2/success?error=access_denied&error_description=end-user+denied+authorization")
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("access_denied (end-user denied authorization)"), "{stderr}");
}
