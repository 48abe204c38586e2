//! `cargo xtask screenshot`: the picture of the HTML report in docs/ (docs/report-html.png),
//! taken from what the current code renders. It runs the store's browser test that opens the
//! page of the third test snapshot in headless Chromium (`cargo xtask deps` installs it) and
//! screenshots it 1280 pixels wide into `target/html-report/`, then copies the picture to docs/
//! and the page's SHA-256 to docs/report-html.sha256: the store's tests render the same page and
//! fail when it differs, so a stale picture is noticed.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::{cargo, project_root, run_step};

/// The browser test that writes the page and its screenshot (a module of the store's one
/// integration-test binary, `it`).
const TEST: &str =
    "html_browser::the_report_loads_with_no_console_message_no_request_and_the_numbers_in_its_dom";

/// Where cargo puts build output: `$CARGO_TARGET_DIR`, else `target/`.
#[allow(clippy::disallowed_methods)] // cargo's own setting, as cargo reads it; not an sfconn one
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| project_root().join("target"), PathBuf::from)
}

pub(crate) fn run() -> Result<()> {
    crate::deps::ensure(crate::deps::FOR_TESTS)?;
    let mut test = cargo();
    test.args(["test", "--locked", "--package", "sfconn-store", "--test", "it", "--", "--exact", TEST]);
    run_step("browser test", test)?;

    let shots = target_dir().join("html-report");
    let docs = project_root().join("docs");
    fs::copy(shots.join("report-week-3.png"), docs.join("report-html.png"))
        .context("copying the screenshot to docs/report-html.png")?;
    let html = fs::read(shots.join("report-week-3.html")).context("reading the page the test wrote")?;
    let digest: String = Sha256::digest(&html).iter().map(|b| format!("{b:02x}")).collect();
    fs::write(docs.join("report-html.sha256"), format!("{digest}\n"))?;
    eprintln!("xtask screenshot: wrote docs/report-html.png and docs/report-html.sha256");
    Ok(())
}
