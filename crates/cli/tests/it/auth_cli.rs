//! `sfconn auth url | exchange | device | check | revoke` and the three `auth.flow`s end to end
//! (auth check and collect), run as the real binary against the simulated org on 127.0.0.1, in
//! an empty environment with a temporary home.

use std::collections::HashMap;

use sfconn_testkit::{DeviceFlowPlan, SimulatedOrg};
use std::process::Command;

use crate::common;
use common::{Org, assert_no_secrets, mode};

impl Org {
    /// `sfconn` in the sandbox with the org's client id, secret and login URL; no refresh token.
    fn client_only(&self) -> Command {
        let mut cmd = self.bare();
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
    let org = Org::small();
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
    let org = Org::small();
    org.org.faults().rotate_refresh_tokens(true);
    let file = org.work().join("refresh_token");
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
    let org = Org::small();
    org.org.faults().revoke_refresh_tokens();
    let output = org.everything().args(["auth", "check"]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("invalid_grant (expired access/refresh token)"), "{stderr}");
    assert!(stderr.contains("sfconn auth url --pkce"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_no_secrets(&[&stderr]);
}

#[test]
fn auth_check_without_the_api_scope_exits_77() {
    let org = Org::small();
    org.org.faults().missing_api_scope(true);
    let output = org.everything().args(["auth", "check"]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("lacks the `api` scope"), "{stderr}");
}

#[test]
fn auth_check_warns_when_the_refresh_token_scope_is_missing() {
    let org = Org::small();
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
    let org = Org::small();
    org.org.faults().device_flow(DeviceFlowPlan { interval_secs: 0, slow_down: 0, pending: 2 });
    let output = org.client_only().args(["auth", "device"]).output().unwrap();
    let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
    assert!(output.status.success(), "{stderr}");
    let token = stdout.strip_suffix('\n').unwrap();
    assert!(!token.is_empty() && !token.contains(char::is_whitespace), "{stdout:?}");
    assert!(org.org.valid_refresh_tokens().contains(&token.to_string()));
    assert!(stderr.contains("/setup/connect") && stderr.contains("enter the code"), "{stderr}");
    assert!(!stderr.contains(token), "the token is on stdout only");
    assert!(stderr.contains("warning: the device flow is discouraged"), "{stderr}");
}

#[test]
fn auth_device_writes_the_file_with_mode_0600() {
    let org = Org::small();
    org.org.faults().device_flow(DeviceFlowPlan { interval_secs: 0, slow_down: 0, pending: 1 });
    let file = org.work().join("new_refresh_token");
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
    let org = Org::small();
    org.org.faults().oauth_flow_disabled(true);
    let output = org.client_only().args(["auth", "device"]).output().unwrap();
    assert_eq!(output.status.code(), Some(77));
    assert!(stderr_of(&output).contains("Enable for Device Flow"));
}

#[test]
fn auth_url_then_exchange_with_the_pasted_success_url() {
    let org = Org::small();
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
    let org = Org::small();
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
    let org = Org::small();
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

// ---------------------------------------------------------------- auth.flow

impl Org {
    /// `sfconn` for `auth.flow = "client_credentials"`: client id and secret, no refresh token.
    fn client_credentials(&self) -> Command {
        let mut cmd = self.client_only();
        cmd.env("SFCONN_AUTH__FLOW", "client_credentials");
        cmd
    }

    /// `sfconn` for `auth.flow = "jwt_bearer"`: client id, username and the TEST-ONLY key file
    /// (mode 0600); no secret, no refresh token.
    fn jwt_bearer(&self) -> Command {
        let key = self.work().join("jwt.key");
        std::fs::write(&key, SimulatedOrg::TEST_JWT_PRIVATE_KEY).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut cmd = self.client_only();
        cmd.env_remove("SFCONN_CLIENT_SECRET")
            .env("SFCONN_AUTH__FLOW", "jwt_bearer")
            .env("SFCONN_AUTH__USERNAME", self.org.integration_username())
            .env("SFCONN_AUTH__PRIVATE_KEY_FILE", &key);
        cmd
    }
}

/// Runs `collect` and returns the snapshot's user count; the run must succeed quietly.
fn collected_users(mut cmd: Command) -> usize {
    let output = cmd.args(["collect", "--no-progress"]).output().unwrap();
    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    document["users"].as_array().unwrap().len()
}

#[test]
fn each_flow_collects_the_same_org_and_auth_check_names_it() {
    let org = Org::small();
    let expected = org.org.data().user_count();
    for (flow, mut check, collect) in [
        ("refresh_token", org.everything(), org.everything()),
        ("client_credentials", org.client_credentials(), org.client_credentials()),
        ("jwt_bearer", org.jwt_bearer(), org.jwt_bearer()),
    ] {
        let output = check.args(["auth", "check"]).output().unwrap();
        let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
        assert!(output.status.success(), "{flow}: {stderr}");
        assert!(stdout.contains(&format!("auth flow:     {flow}\n")), "{flow}: {stdout}");
        assert!(!stderr.contains("refresh_token` scope"), "{flow}: no scope warning: {stderr}");
        if flow != "refresh_token" {
            assert!(stdout.contains("refresh token: none (this flow needs no refresh token)"), "{stdout}");
        }
        assert_no_secrets(&[&stdout, &stderr]);
        assert_eq!(collected_users(collect), expected, "{flow}");
    }
    let token_forms: Vec<String> = org
        .org
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/services/oauth2/token")
        .map(|r| r.body)
        .collect();
    assert!(token_forms.iter().any(|b| b.contains("grant_type=client_credentials")));
    assert!(
        token_forms
            .iter()
            .any(|b| b.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"))
    );
    assert!(!token_forms.iter().any(|b| b.contains("jwt-bearer") && b.contains("client_secret")));
}

#[test]
fn the_private_key_and_the_assertion_never_reach_the_output_even_at_trace_level() {
    let org = Org::small();
    let out = org.work().join("snapshot.json");
    let output = org
        .jwt_bearer()
        .env("RUST_LOG", "trace")
        .args(["collect", "--no-progress", "-vvv", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("requesting an access token"), "debug logging is on: {stderr}");
    let key_lines = SimulatedOrg::TEST_JWT_PRIVATE_KEY.lines().filter(|line| !line.starts_with("-----"));
    for line in key_lines {
        assert!(!stdout.contains(line) && !stderr.contains(line), "a line of the private key was printed");
    }
    // Every JWT starts with the base64url of `{"typ":"JWT","alg":...` or `{"alg":...`.
    for text in [&stdout, &stderr] {
        assert!(!text.contains("eyJ0eXAi") && !text.contains("eyJhbGci"), "an assertion was printed: {text}");
    }
}

#[test]
fn flow_refusals_exit_77_with_the_fix() {
    let org = Org::small();
    org.org.set_client_credentials_run_as_user(false);
    let output = org.client_credentials().args(["collect", "--no-progress"]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("no client credentials user enabled") && stderr.contains("Run As"), "{stderr}");
    assert!(output.stdout.is_empty());

    org.org.set_jwt_pre_authorized(false);
    let output = org.jwt_bearer().args(["auth", "check"]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("Admin approved users are pre-authorized"), "{stderr}");
}

#[test]
fn client_credentials_on_the_generic_login_host_is_refused_before_any_request() {
    let org = Org::small();
    let output = org
        .client_credentials()
        .env("SFCONN_LOGIN_URL", "https://login.salesforce.com")
        .args(["collect"])
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("`login_url` (env SFCONN_LOGIN_URL)") && stderr.contains("My Domain"),
        "{stderr}"
    );
}

#[test]
fn auth_revoke_revokes_the_token_and_deletes_the_file() {
    let org = Org::small();
    let file = org.work().join("refresh_token");
    std::fs::write(&file, SimulatedOrg::REFRESH_TOKEN).unwrap();
    let revoke = || {
        let mut cmd = org.client_only();
        cmd.env("SFCONN_REFRESH_TOKEN_FILE", &file).args(["auth", "revoke"]);
        cmd.output().unwrap()
    };
    let output = revoke();
    let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.is_empty(), "messages go to stderr: {stdout}");
    assert!(stderr.contains("Salesforce revoked the refresh token"), "{stderr}");
    assert!(stderr.contains(&format!("Deleted the refresh_token_file {}", file.display())), "{stderr}");
    assert!(!file.exists());
    assert!(org.org.valid_refresh_tokens().is_empty());
    assert_no_secrets(&[&stdout, &stderr]);

    // The same token again: Salesforce no longer knows it, and the file still goes.
    std::fs::write(&file, SimulatedOrg::REFRESH_TOKEN).unwrap();
    let output = revoke();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("no longer knew this refresh token"), "{}", stderr_of(&output));
    assert!(!file.exists());

    // The revoked token cannot collect.
    let output = org.everything().args(["collect", "--no-progress"]).output().unwrap();
    assert_eq!(output.status.code(), Some(77), "{}", stderr_of(&output));

    // A token from the environment cannot be deleted by sfconn: it says where to remove it.
    let output = org.everything().args(["auth", "revoke"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("remove it from there"), "{}", stderr_of(&output));

    // A flow without a refresh token has nothing to revoke.
    let output = org.client_credentials().args(["auth", "revoke"]).output().unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(stderr_of(&output).contains("nothing to revoke"), "{}", stderr_of(&output));
}
