//! `cargo xtask screenshot`: the picture of the HTML report in docs/ (docs/report-html.png),
//! taken from what the current code renders. It imports the store's three test snapshots
//! (crates/store/tests/fixtures) with the debug `sfconn`, writes `sfconn report -f html` of the
//! latest, and has headless Chromium (`cargo xtask deps` installs it) take a 1280-pixel-wide
//! screenshot. The page's SHA-256 goes to docs/report-html.sha256: the store's tests render the
//! same page and fail when it differs, so a stale screenshot is noticed.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use sha2::{Digest, Sha256};

use crate::{cargo, project_root, run_step};

/// Height of the screenshot: the whole page of the test snapshots at 1280 pixels wide.
const HEIGHT: u32 = 4200;

pub(crate) fn run() -> Result<()> {
    crate::deps::ensure(crate::deps::FOR_TESTS)?;
    let mut build = cargo();
    build.args(["build", "--package", "sfconn-cli", "--bin", "sfconn"]);
    run_step("build sfconn", build)?;
    let root = project_root();
    let sfconn = root.join("target/debug/sfconn");
    let work = tempfile::tempdir().context("creating a scratch directory")?;
    let store = work.path().join("history.db");
    for week in ["2024-06-01", "2024-06-08", "2024-06-15"] {
        let mut import = Command::new(&sfconn);
        import
            .args(["history", "import"])
            .arg(root.join(format!("crates/store/tests/fixtures/acme-{week}.json")))
            .arg("--store")
            .arg(&store);
        run_step("import a test snapshot", import)?;
    }
    let page = root.join("target/html-report/docs-report.html");
    fs::create_dir_all(page.parent().unwrap_or(&root)).context("creating target/html-report")?;
    let mut report = Command::new(&sfconn);
    report.args(["report", "-f", "html", "-o"]).arg(&page).arg("--store").arg(&store);
    run_step("report -f html", report)?;

    let png = root.join("docs/report-html.png");
    let profile = tempfile::tempdir().context("creating a browser profile directory")?;
    let mut chromium = Command::new("chromium");
    chromium
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-color-profile=srgb",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size=1280,{HEIGHT}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()));
    run_step("chromium --screenshot", chromium)?;
    ensure!(png.is_file(), "chromium wrote no screenshot to {}", png.display());

    let html = fs::read(&page).with_context(|| format!("reading {}", page.display()))?;
    let digest: String = Sha256::digest(&html).iter().map(|b| format!("{b:02x}")).collect();
    fs::write(root.join("docs/report-html.sha256"), format!("{digest}\n"))?;
    eprintln!("xtask screenshot: wrote {} and docs/report-html.sha256", png.display());
    Ok(())
}
