//! `cargo xtask demo`: starts the simulated org on loopback and runs the real `sfconn` binary
//! against it, showing each command and what it printed.

use std::process::Command;

use anyhow::{Context, Result};
use sfconn_testkit::{OrgSpec, SimulatedOrg};

use crate::{cargo, project_root, run_step};

pub(crate) fn run(_args: &[String]) -> Result<()> {
    let mut build = cargo();
    build.args(["build", "--package", "sfconn-cli", "--bin", "sfconn"]);
    run_step("build sfconn", build)?;
    let binary = project_root().join("target/debug/sfconn");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let org = runtime.block_on(SimulatedOrg::start(OrgSpec::demo()));
    println!("Simulated Salesforce org listening on {}", org.login_url());

    let mut check = Command::new(&binary);
    check.args(["config", "check"]).env_clear().envs(org.sfconn_env());
    if let Ok(path) = std::env::var("PATH") {
        check.env("PATH", path);
    }
    check.current_dir(project_root().join("target"));
    run_step("sfconn config check", check)?;
    drop(org);
    Ok(())
}
