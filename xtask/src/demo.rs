//! `cargo xtask demo`: starts the simulated org on loopback and runs the real `sfconn` binary
//! against it: a table view of the org on the terminal, then the JSON snapshot written to
//! `target/demo/snapshot.json`.
//!
//! The binary gets only the org's `SFCONN_*` variables plus `PATH` and `HOME` (nothing from the
//! caller's environment leaks in), and runs in `target/demo/`, where no stray `sfconn.toml` is
//! picked up.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use sfconn_testkit::{OrgSpec, SimulatedOrg};

use crate::{cargo, project_root, run_step};

pub(crate) fn run(_args: &[String]) -> Result<()> {
    let mut build = cargo();
    build.args(["build", "--package", "sfconn-cli", "--bin", "sfconn"]);
    run_step("build sfconn", build)?;
    let binary = project_root().join("target/debug/sfconn");

    let demo_dir = project_root().join("target/demo");
    std::fs::create_dir_all(&demo_dir).with_context(|| format!("cannot create {}", demo_dir.display()))?;
    let stray = demo_dir.join("sfconn.toml");
    if stray.exists() {
        bail!("{} exists and would be read as the config file; remove it", stray.display());
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let org = runtime.block_on(SimulatedOrg::start(OrgSpec::demo()));
    println!("Simulated Salesforce org \"{}\" listening on {}", org.spec().org_name, org.login_url());
    println!("({} users; sfconn sees only the SFCONN_* variables below, PATH and HOME)", org.spec().users);
    for (name, value) in org.sfconn_env() {
        let shown = if name.contains("SECRET") || name.contains("TOKEN") { "***".to_owned() } else { value };
        println!("  {name}={shown}");
    }
    println!();

    // xtask passes the caller's PATH and HOME through; it is not the product reading settings.
    #[allow(clippy::disallowed_methods)]
    let sfconn = |args: &[&str]| {
        let mut command = Command::new(&binary);
        command.args(args).env_clear().envs(org.sfconn_env()).current_dir(&demo_dir);
        for name in ["PATH", "HOME"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
    };

    run_sfconn(&["collect", "-f", "table"], sfconn)?;
    println!();

    let snapshot = demo_dir.join("snapshot.json");
    let relative = Path::new("target/demo/snapshot.json");
    run_sfconn(&["collect", "-f", "json", "-o", "snapshot.json"], sfconn)?;
    drop(org);

    let text = std::fs::read_to_string(&snapshot)
        .with_context(|| format!("sfconn did not write {}", snapshot.display()))?;
    let document: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", snapshot.display()))?;
    let count = |key: &str| document[key].as_array().map_or(0, Vec::len);
    println!();
    println!(
        "Done: sfconn authenticated with the refresh token, read the organization, {} subscriptions, \
         {} profiles and {} users, and wrote the snapshot (schema_version {}) to {} ({} bytes).",
        count("subscriptions"),
        count("profiles"),
        count("users"),
        document["schema_version"].as_str().unwrap_or("?"),
        relative.display(),
        text.len()
    );
    println!("Try: jq '.summary' {}", relative.display());
    Ok(())
}

/// Shows `$ sfconn ARGS` and runs it. Unlike `run_step`, the command's environment is not
/// printed: it holds the (simulated) client secret and refresh token.
fn run_sfconn(args: &[&str], sfconn: impl Fn(&[&str]) -> Command) -> Result<()> {
    let line = format!("sfconn {}", args.join(" "));
    println!("$ {line}");
    let status = sfconn(args).status().with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}
