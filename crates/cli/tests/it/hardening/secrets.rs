//! Secrets: every command, with known secret values, at the highest verbosity (`-vvv`, and
//! `RUST_LOG=trace` for everything, which turns on every crate's trace events), through the
//! failure paths it can meet. No secret may appear on stdout (except where the command's job is
//! to print a refresh token), on stderr, in any file sfconn wrote other than a refresh token
//! file, or in any URL the org received. Token files are 0600; a readable config file holding a
//! secret draws a warning.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sfconn_testkit::{DeviceFlowPlan, Occurrence, OrgSpec, SimulatedOrg, Target, TokenError};

use super::common::*;

/// Every run of the test, for the final leak check.
struct Runs {
    outputs: Vec<(String, Output)>,
}

impl Runs {
    fn run(&mut self, what: &str, mut cmd: Command) -> &Output {
        let output = cmd.env("RUST_LOG", "trace").output().unwrap();
        let stderr = stderr(&output);
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        self.outputs.push((what.to_owned(), output));
        &self.outputs.last().unwrap().1
    }
}

/// The org's secrets and every token it handed out during the test (access tokens seen in
/// Authorization headers, refresh tokens seen in grant bodies or still valid).
fn secrets_of(org: &SimulatedOrg, also: &BTreeSet<String>) -> BTreeSet<String> {
    let mut secrets: BTreeSet<String> =
        [SimulatedOrg::CLIENT_SECRET, SimulatedOrg::REFRESH_TOKEN].map(str::to_owned).into();
    secrets.extend(org.valid_refresh_tokens());
    secrets.extend(also.iter().cloned());
    for request in org.requests() {
        if let Some(bearer) = request.header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
            secrets.insert(bearer.to_owned());
        }
        for (name, value) in url_form(&request.body) {
            if name == "refresh_token" || name == "client_secret" || name == "code_verifier" {
                secrets.insert(value);
            }
        }
    }
    secrets.retain(|secret| secret.len() >= 16);
    secrets
}

fn url_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn no_command_leaks_a_secret_anywhere() {
    let org = quick_org(OrgSpec::small());
    let home = org.sandbox.root().to_path_buf();
    let mut runs = Runs { outputs: Vec::new() };
    // Files that hold a secret on purpose: the inputs below and every refresh token file.
    let mut token_files: Vec<PathBuf> = Vec::new();
    let mut printed_tokens: BTreeSet<String> = BTreeSet::new();

    // ---- config: secrets in a config file others can read ----
    let config = home.join("sfconn.toml");
    std::fs::write(
        &config,
        format!(
            "client_id = \"{}\"\nclient_secret = \"{}\"\nrefresh_token = \"{}\"\nlogin_url = \"{}\"\n",
            SimulatedOrg::CLIENT_ID,
            SimulatedOrg::CLIENT_SECRET,
            SimulatedOrg::REFRESH_TOKEN,
            org.org.login_url()
        ),
    )
    .unwrap();
    set_mode(&config, 0o644);
    let mut check = org.bare();
    check.args(["config", "check", "-c"]).arg(&config);
    let output = runs.run("config check (readable file)", check);
    assert!(output.status.success(), "{}", stderr(output));
    assert!(stderr(output).contains("other users can read it"), "{}", stderr(output));
    assert!(text(&output.stdout).contains("***"));
    let mut check = org.sfconn();
    check.args(["config", "check", "-f", "json"]);
    runs.run("config check --format json (env)", check);
    let mut init = org.bare();
    init.args(["config", "init"]).arg(home.join("work").join("template.toml"));
    assert!(runs.run("config init", init).status.success());

    // ---- auth url + exchange, device, check ----
    let mut url = org.sfconn();
    url.args(["auth", "url", "--pkce"]);
    let output = runs.run("auth url", url);
    assert!(output.status.success(), "{}", stderr(output));
    let printed = sfconn_auth::Url::parse(text(&output.stdout).trim()).unwrap();
    let query: HashMap<String, String> = printed.query_pairs().into_owned().collect();
    let auth_code =
        org.org.issue_authorization_code_for(&query["redirect_uri"], Some(&query["code_challenge"]));
    let pasted = sfconn_auth::Url::parse_with_params(
        &query["redirect_uri"],
        [("code", auth_code.as_str()), ("state", query["state"].as_str())],
    )
    .unwrap();
    let exchanged = home.join("exchanged_token");
    let mut exchange = org.sfconn();
    exchange.args(["auth", "exchange", "--code", pasted.as_str(), "--refresh-token-file"]).arg(&exchanged);
    let output = runs.run("auth exchange", exchange);
    assert!(output.status.success(), "{}", stderr(output));
    assert_eq!(mode(&exchanged), 0o600);
    token_files.push(exchanged);
    // The same code again: refused.
    let mut replay = org.sfconn();
    replay.args(["auth", "exchange", "--code", &auth_code]);
    assert!(!runs.run("auth exchange (used code)", replay).status.success());

    org.org.faults().device_flow(DeviceFlowPlan { interval_secs: 0, slow_down: 0, pending: 1 });
    let mut device = org.sfconn();
    device.args(["auth", "device"]);
    let output = runs.run("auth device (stdout)", device);
    assert!(output.status.success(), "{}", stderr(output));
    // Printing the token on stdout is this command's job; it must be there and nowhere else.
    let device_token = text(&output.stdout).trim().to_owned();
    assert!(org.org.valid_refresh_tokens().contains(&device_token));
    printed_tokens.insert(device_token);
    let device_file = home.join("device_token");
    let mut device = org.sfconn();
    device.args(["auth", "device", "--refresh-token-file"]).arg(&device_file);
    assert!(runs.run("auth device (file)", device).status.success());
    assert_eq!(mode(&device_file), 0o600);
    token_files.push(device_file);

    let mut auth_check = org.sfconn();
    auth_check.args(["auth", "check"]);
    assert!(runs.run("auth check", auth_check).status.success());

    // ---- collect in every format, rotation on, the token in a file ----
    org.org.faults().rotate_refresh_tokens(true);
    let token_file = home.join("refresh_token");
    std::fs::write(&token_file, SimulatedOrg::REFRESH_TOKEN).unwrap();
    set_mode(&token_file, 0o600);
    token_files.push(token_file.clone());
    let out = home.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let store = home.join("store.sqlite");
    for (format, target) in [("json", "s.json"), ("ndjson", "s.ndjson"), ("csv", "csv"), ("table", "s.txt")] {
        let mut collect = org.sfconn();
        collect
            .env_remove("SFCONN_REFRESH_TOKEN")
            .env("SFCONN_REFRESH_TOKEN_FILE", &token_file)
            .args(["collect", "-vvv", "-f", format, "--store"])
            .arg(&store)
            .arg("-o")
            .arg(out.join(target));
        let output = runs.run(&format!("collect -f {format}"), collect);
        assert!(output.status.success(), "{format}: {}", stderr(output));
        assert_eq!(mode(&token_file), 0o600, "the rotated token file stays private");
    }
    let mut collect = org.sfconn();
    collect
        .env_remove("SFCONN_REFRESH_TOKEN")
        .env("SFCONN_REFRESH_TOKEN_FILE", &token_file)
        .args(["collect", "-vvv", "-o", "-"]);
    assert!(runs.run("collect to stdout", collect).status.success());

    // Rotation without a token file: the token is saved aside (0600) and only its path shown.
    let live = std::fs::read_to_string(&token_file).unwrap().trim().to_owned();
    let mut collect = org.sfconn();
    collect.env("SFCONN_REFRESH_TOKEN", &live).args(["collect", "-vvv", "-o"]).arg(out.join("aside.json"));
    let output = runs.run("collect (rotation, no token file)", collect);
    assert!(output.status.success(), "{}", stderr(output));
    let aside = org.state_dir().join("sfconn").join("refresh_token");
    assert!(
        stderr(output).contains(&format!("set refresh_token_file = \"{}\"", aside.display())),
        "{}",
        stderr(output)
    );
    assert_eq!(mode(&aside), 0o600);
    assert_eq!(mode(aside.parent().unwrap()), 0o700);
    token_files.push(aside.clone());
    let live = std::fs::read_to_string(&aside).unwrap().trim().to_owned();

    // ---- history and report over the store ----
    for args in [&["history", "list"][..], &["report"][..]] {
        let mut cmd = org.bare();
        cmd.args(args).arg("--store").arg(&store);
        let output = runs.run(&format!("{args:?}"), cmd);
        assert!(output.status.success(), "{args:?}: {}", stderr(output));
    }

    // ---- failure paths, each at -vvv ----
    type Inject = Box<dyn Fn(&SimulatedOrg)>;
    let failures: Vec<(&str, Inject)> = vec![
        (
            "session refused twice",
            Box::new(|o: &SimulatedOrg| {
                o.faults().expire_sessions_at(Target::Versions, Occurrence::always());
            }),
        ),
        ("daily limit", Box::new(|o: &SimulatedOrg| o.faults().request_limit_exceeded(true))),
        (
            "502 everywhere",
            Box::new(|o: &SimulatedOrg| {
                o.faults().bad_gateway(Target::Data, Occurrence::always());
            }),
        ),
        (
            "truncated token response",
            Box::new(|o: &SimulatedOrg| {
                o.faults().on(Target::Token, Occurrence::always(), sfconn_testkit::FaultKind::Truncated);
            }),
        ),
        (
            "http instance_url",
            Box::new(|o: &SimulatedOrg| o.faults().override_instance_url(Some("http://evil.example.com"))),
        ),
        (
            "invalid client",
            Box::new(|o: &SimulatedOrg| {
                o.faults().token_error(TokenError::InvalidClient, Occurrence::times(1));
            }),
        ),
    ];
    org.org.faults().rotate_refresh_tokens(false);
    for (name, inject) in &failures {
        inject(&org.org);
        let mut collect = org.sfconn();
        collect.env("SFCONN_REFRESH_TOKEN", &live).args(["collect", "-vvv", "-o"]).arg(out.join("fail.json"));
        assert!(!runs.run(&format!("collect ({name})"), collect).status.success(), "{name}");
        let mut auth_check = org.sfconn();
        auth_check.env("SFCONN_REFRESH_TOKEN", &live).args(["auth", "check"]);
        runs.run(&format!("auth check ({name})"), auth_check);
        org.org.faults().clear();
        org.org.faults().next_records_url_base(None);
        org.org.faults().override_instance_url(None);
        org.org.faults().request_limit_exceeded(false);
    }
    // A revoked token: every command that uses it fails with 77, without echoing it.
    org.org.faults().revoke_refresh_tokens();
    for args in [&["collect", "-vvv", "-o", "-"][..], &["auth", "check"][..]] {
        let mut cmd = org.sfconn();
        cmd.env("SFCONN_REFRESH_TOKEN", &live).args(args);
        assert_eq!(code(runs.run(&format!("{args:?} (revoked)"), cmd)), 77);
    }

    // ---- the check ----
    let secrets = secrets_of(&org.org, &printed_tokens);
    assert!(secrets.len() >= 6, "the test saw too few secrets to mean anything: {}", secrets.len());
    let leaks = |haystack: &[u8]| -> Vec<String> {
        let haystack = String::from_utf8_lossy(haystack);
        secrets
            .iter()
            .filter(|secret| haystack.contains(secret.as_str()))
            .map(|s| format!("{}…", &s[..8]))
            .collect()
    };
    for (what, output) in &runs.outputs {
        let stdout_may_hold_token = what == "auth device (stdout)";
        if stdout_may_hold_token {
            // The one place a token is printed on purpose: proves the check sees tokens.
            assert_eq!(leaks(&output.stdout).len(), 1, "{what}");
        } else {
            assert_eq!(leaks(&output.stdout), Vec::<String>::new(), "{what}: a secret on stdout");
        }
        assert_eq!(leaks(&output.stderr), Vec::<String>::new(), "{what}: a secret on stderr");
    }
    let inputs: Vec<&Path> = vec![config.as_path()];
    for file in files_under(&home) {
        if inputs.contains(&file.as_path()) || token_files.contains(&file) {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(leaks(&bytes), Vec::<String>::new(), "a secret in {}", file.display());
    }
    for request in org.org.requests() {
        assert_eq!(
            leaks(request.url.as_bytes()),
            Vec::<String>::new(),
            "a secret in the URL {}",
            request.url
        );
    }
    // The files the test saw being written.
    assert!(out.join("csv").join("users.csv").exists() && store.exists());
}
