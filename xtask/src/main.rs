//! Project automation, run as `cargo xtask <task>`:
//!
//! - `ci`: format check, clippy with `-D warnings` on all targets, the Debian packages the tests
//!   need (installed when missing), all tests, the container image built and run, the
//!   Kubernetes manifests validated, a bench smoke run.
//! - `image`: build the container image with buildah (`--check` runs it against the simulated org).
//! - `k8s`: validate the Kubernetes manifests of `deploy/kubernetes` (kubernetes-validate, checkov).
//! - `deps`: install the Debian packages the tests need (`ci` does it too).
//! - `screenshot`: docs/report-html.png, the HTML report of the test snapshots as Chromium
//!   shows it (and docs/report-html.sha256, the page it shows).
//! - `demo`: a full collection by the real `sfconn` binary against the simulated org.
//! - `bench`: the release binary against the simulated org at 10k/100k/1M users beside a
//!   simple-salesforce peer (`docs/benchmarks.md`).
//!
//! Owns: how the project is checked and shown. Must not: contact any host but loopback.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

mod bench;
mod bench_html;
mod demo;
mod deps;
mod image;
mod k8s;
mod screenshot;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("image") => image::run(&args[1..]),
        Some("k8s") => k8s::run(&args[1..]),
        Some("deps") => deps::ensure(deps::FOR_TESTS),
        Some("screenshot") => screenshot::run(),
        _ => {
            eprintln!("usage: cargo xtask <ci|demo|bench|deps|image|k8s|screenshot>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

#[allow(clippy::disallowed_methods)] // cargo tells xtask which cargo runs it; not a setting
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root());
    cmd
}

pub(crate) fn run_step(name: &str, mut cmd: Command) -> Result<()> {
    eprintln!("xtask: {name}: {cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot start step `{name}`"))?;
    if !status.success() {
        bail!("step `{name}` failed ({status})");
    }
    Ok(())
}

fn ci() -> Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    run_step("fmt", fmt)?;

    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]);
    run_step("clippy", clippy)?;

    // Tests that open the HTML report in a real browser need Debian's chromium.
    deps::ensure(deps::FOR_TESTS)?;

    let mut test = cargo();
    test.args(["test", "--workspace", "--locked"]).env("INSTA_UPDATE", "no");
    run_step("test", test)?;

    eprintln!("xtask: container image: built with buildah and run against the simulated org");
    image::run(&["--check".to_owned()])?;

    eprintln!("xtask: Kubernetes manifests: kubernetes-validate, checkov (offline, tools from PyPI once)");
    k8s::run(&[])?;

    eprintln!("xtask: bench smoke: 2000 users, no latency, debug build (timing targets are not checked)");
    bench::run(&["--smoke".to_owned()])?;
    eprintln!("xtask: fleet bench smoke: 3 orgs of 1000 users into PostgreSQL, no latency, debug build");
    bench::run(&["--fleet".to_owned(), "--smoke".to_owned()])?;
    eprintln!("xtask: ci passed");
    Ok(())
}
