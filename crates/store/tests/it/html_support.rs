//! What the HTML report's tests share: rendering a stored snapshot with a fixed sfconn version,
//! a snapshot full of hostile text, and headless Chromium (Debian's `chromium`, which
//! `cargo xtask deps` installs) run from the command line.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sfconn_store::{HtmlOptions, Report, ReportOptions, Selector, Store};

use crate::common::*;

/// The version the tests' pages claim to be written by, so snapshots do not change per release.
pub const TEST_VERSION: &str = "0.0.0-test";

/// The report of snapshot `id` as `-f html` writes it, and as `-f json` writes it.
pub fn render(store: &Store, id: i64) -> (String, Value) {
    render_as(store, id, TEST_VERSION)
}

/// [`render`], the page claiming to be written by sfconn `version`.
pub fn render_as(store: &Store, id: i64, version: &str) -> (String, Value) {
    let report = report(store, id);
    let context = store.report_context(&report).unwrap();
    let mut html = Vec::new();
    report.write_html(&context, HtmlOptions { sfconn_version: version }, &mut html).unwrap();
    let mut json = Vec::new();
    report.write_json(&mut json).unwrap();
    (String::from_utf8(html).unwrap(), serde_json::from_slice(&json).unwrap())
}

pub fn report(store: &Store, id: i64) -> Report {
    let snapshot = store.resolve(&Selector::Id(id), None).unwrap();
    store.report(&snapshot, &ReportOptions::default()).unwrap()
}

/// Text an attacker can give their own user record, org, licence or domain. If any of it ran,
/// it would set `data-pwned` on `<body>`, write to the console or fetch from `beacon` (a
/// loopback URL whose server records every request).
pub fn hostile_doc(beacon: &str) -> Value {
    let mut doc = value(WEEK_1);
    let run = |n: u32| format!("document.body.setAttribute('data-pwned','{n}');console.error('PWNED {n}')");
    doc["organization"]["name"] = format!("Acme \u{202E}gnp.exe <script>{}</script>", run(1)).into();
    let users = doc["users"].as_array_mut().unwrap();
    // bob: never logged in, holds paid licences, so a reclaim candidate.
    let bob = &mut users[1];
    bob["name"] = format!("<script>{}</script>", run(2)).into();
    bob["username"] = format!("\"><img src=\"{beacon}/u\" onerror=\"{}\">", run(3)).into();
    let erin = users.iter_mut().find(|u| u["email_domain"] == "consultco.io").unwrap();
    erin["email_domain"] = format!("evil.example\"><svg onload=\"{}\">", run(4)).into();
    for sub in doc["subscriptions"].as_array_mut().unwrap() {
        if sub["name"] == "Salesforce" {
            sub["label"] = format!("</title></text></svg><script>{}</script>\u{2066}", run(5)).into();
        }
    }
    for profile in doc["profiles"].as_array_mut().unwrap() {
        profile["name"] = format!("javascript:{}", run(6)).into();
    }
    doc["warnings"] = serde_json::json!([{
        "code": "source_skipped",
        "source": format!("<a href=\"javascript:{}\">PackageLicense</a>", run(7)),
        "message": format!("<iframe src=\"{beacon}/frame\"></iframe><style>@import '{beacon}/css';</style>"),
    }]);
    doc
}

/// A store holding [`hostile_doc`] as snapshot 1.
pub fn hostile_store(dir: &Path, beacon: &str) -> Store {
    let mut store = Store::open(&dir.join("hostile.db")).unwrap();
    store.insert_snapshot_json(&bytes(&hostile_doc(beacon))).unwrap();
    store
}

/// The Chromium binary: `$SFCONN_CHROMIUM`, else `chromium` on the PATH. Missing is a test
/// failure that says how to install it, never a skip.
#[allow(clippy::disallowed_methods)] // a test finds its browser as a shell would
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("SFCONN_CHROMIUM") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("chromium")).find(|path| path.is_file())
    });
    found.expect(
        "the HTML report's browser tests need Chromium and found no `chromium` on the PATH: \
         run `cargo xtask deps` (installs Debian's chromium package), or set SFCONN_CHROMIUM",
    )
}

/// A loopback HTTP proxy that records every request and answers none. Chromium is told to send
/// all its traffic through it, so any request the page makes, to any host, shows up here.
pub struct Recorder {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut buffer = [0_u8; 512];
                let n = stream.read(&mut buffer).unwrap_or(0);
                let first_line =
                    String::from_utf8_lossy(&buffer[..n]).lines().next().unwrap_or("").to_owned();
                seen.lock().unwrap().push(first_line);
            }
        });
        Recorder { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request the proxy saw, except Chromium's own calls to its vendor's services
    /// ([`BROWSER_SERVICES`]: component updates and account checks, which the browser makes
    /// on start whatever the page is, despite `--disable-component-update`). The page's
    /// requests, to any other host, all count.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|line| !BROWSER_SERVICES.iter().any(|host| request_host(line) == Some(host)))
            .cloned()
            .collect()
    }
}

/// Hosts Chromium itself calls on start, whatever page it opens. None of them is in a page the
/// tests build, so a request to them is never the page's.
const BROWSER_SERVICES: &[&str] = &[
    "update.googleapis.com",
    "accounts.google.com",
    "clients2.google.com",
    "optimizationguide-pa.googleapis.com",
    // Debian's Chromium 148 connects here on start even for a page of one word (checked by hand
    // with these flags and a recording proxy).
    "www.google.com",
];

/// The host of a proxied request line (`GET http://host/... HTTP/1.1` or `CONNECT host:443 ...`).
fn request_host(line: &str) -> Option<&str> {
    let target = line.split(' ').nth(1)?;
    let authority =
        target.strip_prefix("http://").map_or(target, |rest| rest.split('/').next().unwrap_or(rest));
    authority.split(':').next()
}

/// What the browser made of a page.
pub struct Loaded {
    /// The DOM after the page loaded and its script ran (`--dump-dom`).
    pub dom: String,
    /// Every console message the page produced, CSP violations included.
    pub console: Vec<String>,
}

fn browser(profile: &Path, proxy: &Recorder) -> Command {
    let mut command = Command::new(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-pings",
        "--no-default-browser-check",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater,SigninInterceptBubble",
        "--enable-logging=stderr",
        "--v=0",
        "--proxy-bypass-list=<-loopback>",
    ]);
    command.arg(format!("--proxy-server={}", proxy.url()));
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

fn file_url(page: &Path) -> String {
    format!("file://{}", page.canonicalize().unwrap().display())
}

/// Opens `page` in headless Chromium and returns its DOM and console.
pub fn load(page: &Path, proxy: &Recorder) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let output = browser(profile.path(), proxy).arg("--dump-dom").arg(file_url(page)).output().unwrap();
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let console = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    Loaded { dom: String::from_utf8(output.stdout).unwrap(), console }
}

/// Writes a 1280-pixel-wide screenshot of `page` to `png`, in the light colour scheme.
pub fn screenshot(page: &Path, png: &Path, height: u32, proxy: &Recorder) {
    screenshot_in(page, png, height, proxy, "light");
}

/// [`screenshot`] in the colour scheme `scheme` (`light` or `dark`) the page is asked for.
pub fn screenshot_in(page: &Path, png: &Path, height: u32, proxy: &Recorder, scheme: &str) {
    let profile = tempfile::tempdir().unwrap();
    let preferred = if scheme == "dark" { 0 } else { 1 };
    let output = browser(profile.path(), proxy)
        .arg(format!("--blink-settings=preferredColorScheme={preferred}"))
        .arg("--hide-scrollbars")
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(file_url(page))
        .output()
        .unwrap();
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    assert!(png.metadata().unwrap().len() > 1000, "no screenshot at {}", png.display());
}

/// Where the tests put files for a person to look at: `html-report/` in the target directory
/// the test binary was built in (`target/debug/deps/it-…` is three levels down).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.ancestors().nth(3).unwrap().join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of every `<td data-field="FIELD">` in the row `<tr data-id="ID">` of `html`
/// (the first such row after `after`).
pub fn field(html: &str, after: &str, id: &str, field: &str) -> Option<String> {
    let start = html.find(after)?;
    let rest = &html[start..];
    let row_start = rest.find(&format!("<tr data-id=\"{id}\">"))?;
    let row = &rest[row_start..];
    let row = &row[..row.find("</tr>")?];
    let marker = format!("data-field=\"{field}\">");
    let cell = &row[row.find(&marker)? + marker.len()..];
    Some(cell[..cell.find("</td>")?].to_owned())
}
