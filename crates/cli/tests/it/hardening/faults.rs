//! The fault matrix: every stage of a run × every fault, run as the real binary against the
//! simulated org. Each row states the documented exit code and message; a run that succeeds
//! must produce exactly the clean run's snapshot, a run that fails must leave the existing
//! output untouched, no temporary file behind, and the refresh token file holding a token the
//! org accepts (rotation is on wherever the fault comes after the first token).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sfconn_testkit::{FaultKind, Occurrence, OrgSpec, SimulatedOrg, Target, TokenError, rest_error_body};

use sfconn_collect::SOURCES;

use super::common::*;

/// Users in the org whose User query spans three pages of 2,000.
const PAGED_USERS: usize = 4_100;
/// What the output file holds before each run.
const PREVIOUS: &str = "{\"previous\": \"snapshot\"}\n";
/// The rows' `http.timeout_secs`: short, so that stalled rows finish quickly, yet with room for
/// a debug build rendering 2,000-user pages while the other rows run beside it on two cores
/// (at 1 s, rows failed with timeouts when the machine was busy).
const TIMEOUT_SECS: u32 = 3;
/// A response delay well beyond [`TIMEOUT_SECS`].
const STALL: Duration = Duration::from_millis(8_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Exit 0 and exactly the clean run's snapshot.
    Complete,
    /// This exit code, one error naming this fragment, the previous output untouched.
    Fails(i32, &'static str),
}

type Inject = Box<dyn Fn(&SimulatedOrg) + Send + Sync>;

struct Row {
    name: String,
    /// The org with a three-page User query instead of the small one.
    paged: bool,
    /// Refresh-token rotation on, with a refresh_token_file to keep it.
    rotation: bool,
    /// `http.timeout_secs` (seconds).
    timeout: u32,
    inject: Inject,
    expect: Expect,
    /// A second fragment the error message must hold.
    naming: Option<&'static str>,
    /// The token endpoint behind a TCP front that resets this many connections first.
    login_resets: Option<usize>,
    /// The instance behind a TCP front that resets this many connections first.
    instance_resets: Option<usize>,
}

fn row(
    name: impl Into<String>,
    inject: impl Fn(&SimulatedOrg) + Send + Sync + 'static,
    expect: Expect,
) -> Row {
    Row {
        name: name.into(),
        paged: false,
        rotation: true,
        timeout: TIMEOUT_SECS,
        inject: Box::new(inject),
        expect,
        naming: None,
        login_resets: None,
        instance_resets: None,
    }
}

impl Row {
    fn login_resets(mut self, resets: usize) -> Self {
        self.login_resets = Some(resets);
        self
    }

    fn instance_resets(mut self, resets: usize) -> Self {
        self.instance_resets = Some(resets);
        self
    }

    fn naming(mut self, fragment: &'static str) -> Self {
        self.naming = Some(fragment);
        self
    }

    fn paged(mut self) -> Self {
        self.paged = true;
        self
    }

    /// Token-stage rows: a token response lost after the org rotated the token loses that
    /// token whatever the client does, so these run without rotation.
    fn without_rotation(mut self) -> Self {
        self.rotation = false;
        self
    }
}

const RETRIES_EXHAUSTED: &str = "still failed after 2 attempt(s)";
const DAILY_LIMIT: &str = "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.";

fn daily_limit() -> FaultKind {
    FaultKind::Json {
        status: 403,
        body: rest_error_body("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    }
}

fn service_unavailable() -> FaultKind {
    FaultKind::Json { status: 503, body: rest_error_body("SERVER_UNAVAILABLE", "Server Unavailable") }
}

fn redirect() -> FaultKind {
    FaultKind::Redirect { status: 302, location: "https://elsewhere.example.com/services/data".into() }
}

fn on(target: Target, occurrence: Occurrence, kind: FaultKind) -> impl Fn(&SimulatedOrg) + Send + Sync {
    move |org: &SimulatedOrg| {
        org.faults().on(target.clone(), occurrence, kind.clone());
    }
}

fn user_page(page: u32) -> Target {
    Target::Query { object: Some("User".into()), page: Some(page) }
}

fn matrix() -> Vec<Row> {
    use Expect::*;
    let once = Occurrence::times(1);
    let always = Occurrence::always();
    let mut rows = vec![
        // ---- the token ----
        row(
            "token: 503 HTML once",
            |o: &SimulatedOrg| {
                o.faults().token_server_error(503, 1);
            },
            Complete,
        )
        .without_rotation(),
        row(
            "token: 502 HTML always",
            |o: &SimulatedOrg| {
                o.faults().token_server_error(502, 100);
            },
            Fails(75, "gave up after 2 attempt(s)"),
        )
        .without_rotation(),
        row(
            "token: unknown_error always",
            |o: &SimulatedOrg| {
                o.faults().token_unknown_error(100);
            },
            Fails(75, "unknown_error: retry your request"),
        )
        .without_rotation(),
        row("token: stall once", on(Target::Token, once, FaultKind::Stall(STALL)), Complete)
            .without_rotation(),
        row(
            "token: stall always",
            on(Target::Token, always, FaultKind::Stall(STALL)),
            Fails(75, "no answer within 3s (http.timeout_secs)"),
        )
        .without_rotation(),
        row(
            "token: expired refresh token",
            |o: &SimulatedOrg| {
                o.faults().token_error(TokenError::ExpiredRefreshToken, Occurrence::always());
            },
            Fails(77, "invalid_grant (expired access/refresh token)"),
        )
        .without_rotation(),
        row(
            "token: truncated JSON",
            on(Target::Token, always, FaultKind::Truncated),
            Fails(65, "a token response"),
        )
        .without_rotation(),
        row(
            "token: malformed",
            on(Target::Token, always, FaultKind::Malformed),
            Fails(65, "a token response"),
        )
        .without_rotation(),
        row(
            "token: redirect",
            on(Target::Token, always, redirect()),
            Fails(78, "answered the token request with a redirect"),
        )
        .without_rotation(),
        row(
            "token: instance_url on plain http off loopback",
            |o: &SimulatedOrg| {
                o.faults().override_instance_url(Some("http://evil.example.com"));
            },
            Fails(65, "the instance_url returned by Salesforce http://evil.example.com/ is not allowed"),
        )
        .without_rotation(),
        row("token: connection reset once", |_: &SimulatedOrg| {}, Complete)
            .without_rotation()
            .login_resets(1),
        row("token: connection reset always", |_: &SimulatedOrg| {}, Fails(75, "gave up after 2 attempt(s)"))
            .without_rotation()
            .login_resets(usize::MAX),
        // ---- version discovery ----
        row("versions: 503 once", on(Target::Versions, once, service_unavailable()), Complete),
        row(
            "versions: 502 HTML always",
            on(Target::Versions, always, FaultKind::BadGatewayHtml),
            Fails(75, RETRIES_EXHAUSTED),
        ),
        row("versions: stall once", on(Target::Versions, once, FaultKind::Stall(STALL)), Complete),
        row(
            "versions: session expired once",
            on(Target::Versions, once, FaultKind::ExpireSessions),
            Complete,
        ),
        row(
            "versions: session refused twice",
            on(Target::Versions, always, FaultKind::ExpireSessions),
            Fails(77, "even with a freshly refreshed access token"),
        ),
        row(
            "versions: malformed",
            on(Target::Versions, always, FaultKind::Malformed),
            Fails(65, "cannot read"),
        ),
        row(
            "versions: truncated JSON",
            on(Target::Versions, always, FaultKind::Truncated),
            Fails(65, "cannot read"),
        ),
        row(
            "versions: redirect",
            on(Target::Versions, always, redirect()),
            Fails(69, "with a redirect (HTTP 302 to https://elsewhere.example.com"),
        ),
        row("versions: daily limit", on(Target::Versions, always, daily_limit()), Fails(75, DAILY_LIMIT)),
        row(
            "every data request: daily limit",
            |o: &SimulatedOrg| o.faults().request_limit_exceeded(true),
            Fails(75, DAILY_LIMIT),
        ),
        row("versions: connection reset once", |_: &SimulatedOrg| {}, Complete).instance_resets(1),
        row("versions: connection reset always", |_: &SimulatedOrg| {}, Fails(75, RETRIES_EXHAUSTED))
            .instance_resets(usize::MAX),
        // ---- limits ----
        row("limits: 503 once", on(Target::Limits, once, service_unavailable()), Complete),
        row(
            "limits: stall always",
            on(Target::Limits, always, FaultKind::Stall(STALL)),
            Fails(75, "no answer within 3s (http.timeout_secs)"),
        ),
        row("limits: session expired once", on(Target::Limits, once, FaultKind::ExpireSessions), Complete),
        row("limits: daily limit", on(Target::Limits, always, daily_limit()), Fails(75, DAILY_LIMIT)),
        row("limits: malformed", on(Target::Limits, always, FaultKind::Malformed), Fails(65, "cannot read")),
        // ---- the middle of the User page chain (page 2 = the first nextRecordsUrl) ----
        row("User page 2: 503 once", on(user_page(2), once, service_unavailable()), Complete).paged(),
        row("User page 2: 502 HTML once", on(user_page(2), once, FaultKind::BadGatewayHtml), Complete)
            .paged(),
        row("User page 2: stall once", on(user_page(2), once, FaultKind::Stall(STALL)), Complete).paged(),
        row("User page 2: session expired once", on(user_page(2), once, FaultKind::ExpireSessions), Complete)
            .paged(),
        row(
            "User page 2: invalid query locator once",
            on(user_page(2), once, FaultKind::ExpireQueryLocator),
            Complete,
        )
        .paged(),
        row(
            "User page 3: invalid query locator once",
            on(user_page(3), once, FaultKind::ExpireQueryLocator),
            Complete,
        )
        .paged(),
        row(
            "User page 2: invalid query locator always",
            on(user_page(2), always, FaultKind::ExpireQueryLocator),
            Fails(75, "the User query could not be resumed"),
        )
        .paged(),
        row(
            "User page 2: 502 HTML always",
            on(user_page(2), always, FaultKind::BadGatewayHtml),
            Fails(75, RETRIES_EXHAUSTED),
        )
        .paged(),
        row(
            "User page 2: truncated JSON",
            on(user_page(2), always, FaultKind::Truncated),
            Fails(65, "page 2 of the User query"),
        )
        .paged(),
        row("User page 3: daily limit", on(user_page(3), always, daily_limit()), Fails(75, DAILY_LIMIT))
            .paged(),
        row("User page 2: redirect", on(user_page(2), always, redirect()), Fails(69, "with a redirect"))
            .paged(),
        row(
            "nextRecordsUrl on the login host (another loopback name)",
            |o: &SimulatedOrg| {
                o.faults().next_records_url_base(Some(&o.login_url()));
            },
            Fails(65, "refused to follow the nextRecordsUrl `http://127.0.0.1:"),
        )
        .paged(),
        row(
            "nextRecordsUrl on another host",
            |o: &SimulatedOrg| {
                o.faults().next_records_url_base(Some("https://evil.example.com"));
            },
            Fails(65, "refused to follow the nextRecordsUrl `https://evil.example.com/services/data/"),
        )
        .paged(),
        row(
            "nextRecordsUrl on plain http off loopback",
            |o: &SimulatedOrg| {
                o.faults().next_records_url_base(Some("http://evil.example.com"));
            },
            Fails(65, "refused to follow the nextRecordsUrl `http://evil.example.com/services/data/"),
        )
        .paged(),
    ];
    // ---- each source: a transient failure is retried; a lasting one fails the run ----
    // One per source of `SOURCES`, in its order (User last).
    let lasting: [(&str, FaultKind, Expect); 12] = [
        ("malformed", FaultKind::Malformed, Fails(65, "cannot read")),
        ("truncated JSON", FaultKind::Truncated, Fails(65, "cannot read")),
        ("redirect", redirect(), Fails(69, "with a redirect")),
        ("daily limit", daily_limit(), Fails(75, DAILY_LIMIT)),
        ("502 HTML always", FaultKind::BadGatewayHtml, Fails(75, RETRIES_EXHAUSTED)),
        ("malformed", FaultKind::Malformed, Fails(65, "cannot read")),
        ("503 always", service_unavailable(), Fails(75, RETRIES_EXHAUSTED)),
        ("502 HTML always", FaultKind::BadGatewayHtml, Fails(75, RETRIES_EXHAUSTED)),
        ("daily limit", daily_limit(), Fails(75, DAILY_LIMIT)),
        ("malformed", FaultKind::Malformed, Fails(65, "cannot read")),
        ("503 always", service_unavailable(), Fails(75, RETRIES_EXHAUSTED)),
        ("truncated JSON", FaultKind::Truncated, Fails(65, "cannot read")),
    ];
    let transient: [(&str, FaultKind); 12] = [
        ("503 once", service_unavailable()),
        ("502 HTML once", FaultKind::BadGatewayHtml),
        ("stall once", FaultKind::Stall(STALL)),
        ("session expired once", FaultKind::ExpireSessions),
        ("503 once", service_unavailable()),
        ("502 HTML once", FaultKind::BadGatewayHtml),
        ("session expired once", FaultKind::ExpireSessions),
        ("503 once", service_unavailable()),
        ("502 HTML once", FaultKind::BadGatewayHtml),
        ("session expired once", FaultKind::ExpireSessions),
        ("503 once", service_unavailable()),
        ("stall once", FaultKind::Stall(STALL)),
    ];
    for ((source, (name, kind, expect)), (passing_name, passing)) in
        SOURCES.iter().zip(lasting).zip(transient)
    {
        // The one message also names the source's query.
        let names_query: &'static str = Box::leak(format!("the {source} query (GET ").into_boxed_str());
        rows.push(
            row(format!("{source}: {name}"), on(Target::query(source), always, kind), expect)
                .naming(names_query),
        );
        rows.push(row(
            format!("{source}: {passing_name}"),
            on(Target::query(source), once, passing),
            Complete,
        ));
    }
    rows
}

/// What one run left behind.
struct Run {
    output: Output,
    out_dir: PathBuf,
    out_file: PathBuf,
    token_file: PathBuf,
}

/// Runs `sfconn collect -o out/snapshot.json` over an existing snapshot file, with the refresh
/// token in a file when `rotation` is on.
fn collect(org: &Org, rotation: bool, timeout: u32, env: &[(String, String)]) -> Run {
    let out_dir = org.sandbox.root().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out_file = out_dir.join("snapshot.json");
    std::fs::write(&out_file, PREVIOUS).unwrap();
    let token_file = org.sandbox.root().join("refresh_token");
    let mut cmd = org.sfconn();
    if rotation {
        org.org.faults().rotate_refresh_tokens(true);
        std::fs::write(&token_file, format!("{}\n", SimulatedOrg::REFRESH_TOKEN)).unwrap();
        set_mode(&token_file, 0o600);
        cmd.env_remove("SFCONN_REFRESH_TOKEN").env("SFCONN_REFRESH_TOKEN_FILE", &token_file);
    }
    cmd.env("SFCONN_HTTP__TIMEOUT_SECS", timeout.to_string())
        .envs(env.iter().map(|(name, value)| (name, value)))
        .args(["collect", "--no-progress", "-o"])
        .arg(&out_file);
    let output = cmd.output().unwrap();
    Run { output, out_dir, out_file, token_file }
}

fn snapshot_of(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks one row; returns what is wrong, if anything, or the error line of a failing run
/// (port scrubbed) for the reviewed snapshot of messages.
fn check(row: &Row, reference: &Value) -> Result<Option<String>, String> {
    let org = quick_org(if row.paged { OrgSpec::with_users(PAGED_USERS) } else { OrgSpec::small() });
    (row.inject)(&org.org);
    let org_port = org.org.login_url().rsplit(':').next().unwrap_or_default().parse::<u16>().unwrap();
    let mut env = Vec::new();
    if let Some(resets) = row.login_resets {
        env.push((
            "SFCONN_LOGIN_URL".to_owned(),
            format!("http://127.0.0.1:{}", reset_proxy(org_port, resets)),
        ));
    }
    let mut instance_host = "localhost";
    if let Some(resets) = row.instance_resets {
        let front = format!("http://127.0.0.1:{}", reset_proxy(org_port, resets));
        org.org.faults().override_instance_url(Some(&front));
        instance_host = "127.0.0.1";
    }
    let run = collect(&org, row.rotation, row.timeout, &env);
    let stderr = stderr(&run.output);
    let got = code(&run.output);
    let context = || format!("exit {got}, stderr:\n{stderr}");
    if stderr.contains("panicked") {
        return Err(format!("panicked: {}", context()));
    }
    if !run.output.stdout.is_empty() {
        return Err(format!("stdout is not empty with -o FILE: {}", context()));
    }
    let listing = names_in(&run.out_dir);
    if listing != ["snapshot.json"] {
        return Err(format!("the output directory holds {listing:?}: {}", context()));
    }
    let mut shown = None;
    match row.expect {
        Expect::Complete => {
            if got != 0 {
                return Err(format!("expected success: {}", context()));
            }
            if stable(&snapshot_of(&run.out_file)) != *reference {
                return Err("the snapshot differs from the clean run's".to_owned());
            }
        }
        Expect::Fails(code, fragment) => {
            if got != code {
                return Err(format!("expected exit {code}: {}", context()));
            }
            if !stderr.contains(fragment) || row.naming.is_some_and(|naming| !stderr.contains(naming)) {
                return Err(format!("expected the message to contain {fragment:?}: {}", context()));
            }
            let errors = stderr.lines().filter(|line| line.starts_with("error: ")).count();
            if errors != 1 {
                return Err(format!("expected one error message, got {errors}: {}", context()));
            }
            if std::fs::read_to_string(&run.out_file).unwrap() != PREVIOUS {
                return Err(format!("the existing output was changed: {}", context()));
            }
            let line = stderr.lines().find(|line| line.starts_with("error: ")).unwrap_or_default();
            shown = Some(format!("exit {got} {}", scrub_first_query(&scrub_locators(&scrub_ports(line)))));
        }
    }
    if row.rotation {
        let kept = std::fs::read_to_string(&run.token_file).unwrap().trim().to_owned();
        if !org.org.valid_refresh_tokens().contains(&kept) {
            return Err(format!(
                "the refresh token file holds a token the org no longer accepts: {}",
                context()
            ));
        }
        if mode(&run.token_file) != 0o600 {
            return Err("the refresh token file is not 0600".to_owned());
        }
    }
    // Nothing went to a foreign host: every request the org saw with a bearer token was for
    // the instance (localhost), never the login host, and no URL held a secret.
    for request in org.org.requests() {
        // The recorded URL does not keep the host name; the Host header does.
        let host =
            request.header("host").and_then(|host| host.rsplit_once(':')).map(|(name, _)| name.to_owned());
        if request.header("authorization").is_some() && host.as_deref() != Some(instance_host) {
            return Err(format!("an access token went to {}", request.url));
        }
    }
    Ok(shown)
}

/// Query locators in nextRecordsUrls (`/query/0r8…-2000` → `/query/LOCATOR-2000`): the
/// simulated org numbers cursors in the order queries reach it, and the User and assignment
/// queries start at the same time, so the number a query gets varies from run to run.
fn scrub_locators(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("/query/") {
        let start = at + "/query/".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let id = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric()).len();
        if id == 18 {
            out.push_str("LOCATOR");
            rest = &rest[id..];
        }
    }
    out.push_str(rest);
    out
}

/// The object of the query whose page carried a foreign `nextRecordsUrl`
/// (`returned by page 1 of the User query` → `… of the OBJECT query`): with the URL switched for
/// every query, the User and assignment queries' first pages arrive in either order, and the
/// run reports whichever came first (docs/security.md, "A failure stops the whole run").
fn scrub_first_query(text: &str) -> String {
    const BEFORE: &str = "returned by page 1 of the ";
    let Some(at) = text.find(BEFORE) else { return text.to_owned() };
    let start = at + BEFORE.len();
    let Some(length) = text[start..].find(" query") else { return text.to_owned() };
    format!("{}OBJECT{}", &text[..start], &text[start + length..])
}

/// The clean run of each org size, as [`stable`] sees it.
fn references() -> (Value, Value) {
    let run = |spec: OrgSpec| {
        std::thread::spawn(move || {
            let org = quick_org(spec);
            let run = collect(&org, true, 10, &[]);
            assert_eq!(code(&run.output), 0, "clean run: {}", stderr(&run.output));
            let snapshot = snapshot_of(&run.out_file);
            assert_eq!(snapshot["summary"]["users_total"], json!(org.org.data().user_count()));
            stable(&snapshot)
        })
    };
    let small = run(OrgSpec::small());
    let paged = run(OrgSpec::with_users(PAGED_USERS));
    (small.join().unwrap(), paged.join().unwrap())
}

#[test]
fn every_stage_times_every_fault() {
    let (small, paged) = references();
    assert_ne!(small, paged);
    let rows = Arc::new(matrix());
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let messages = Arc::new(Mutex::new(Vec::new()));
    let references = Arc::new((small, paged));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (rows, next, failures, references, messages) = (
                Arc::clone(&rows),
                Arc::clone(&next),
                Arc::clone(&failures),
                Arc::clone(&references),
                Arc::clone(&messages),
            );
            std::thread::spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(row) = rows.get(index) else { break };
                    let reference = if row.paged { &references.1 } else { &references.0 };
                    match check(row, reference) {
                        Ok(Some(message)) => {
                            messages.lock().unwrap().push((index, row.name.clone(), message));
                        }
                        Ok(None) => {}
                        Err(problem) => failures.lock().unwrap().push(format!("[{}] {problem}", row.name)),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
    // Every failure's one message, reviewed: it says what happened and what to do.
    let mut messages = messages.lock().unwrap().clone();
    messages.sort();
    let listing: Vec<String> = messages
        .iter()
        .map(|(_, name, message)| format!("[{name}]\n{}\n", first_refused(name, message)))
        .collect();
    insta::assert_snapshot!("fault_matrix_messages", listing.join("\n"));
}

/// Every query on `User` is cut in half in that row: the first page of the User query, and the
/// feature licences' `SELECT COUNT() FROM User …` sent beside it. Which of them fails first is a
/// race, so where the JSON broke off (`at `records[19].City` … column 17308` in the page, `at
/// `?` … column 20` in a count) is written generically; the rest of the message is pinned.
fn truncated_user_query(message: &str) -> String {
    const READ_FOR: &str = "cannot read for the User query (GET /services/data/v66.0/query): ";
    match message.find(READ_FOR) {
        Some(start) if message.contains("EOF while parsing") => {
            format!("{}[where the cut JSON ends]", &message[..start + READ_FOR.len()])
        }
        _ => message.to_owned(),
    }
}

/// A TCP front for the org on 127.0.0.1: the first `resets` connections are reset (closed with
/// request bytes still unread, so the kernel answers RST), later ones are forwarded to the org.
/// The simulated org itself cannot reset a connection, hence this.
fn reset_proxy(org_port: u16, resets: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (index, stream) in listener.incoming().enumerate() {
            let Ok(mut client) = stream else { continue };
            if index < resets {
                let mut first = [0u8; 1];
                let _ = client.read(&mut first);
                std::thread::sleep(Duration::from_millis(20));
                drop(client);
                continue;
            }
            let Ok(server) = TcpStream::connect(("127.0.0.1", org_port)) else { continue };
            let (mut client_in, mut server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut server_out);
                let _ = server_out.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let (mut server_in, mut client_out) = (server, client);
                let _ = std::io::copy(&mut server_in, &mut client_out);
                let _ = client_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// Starts `sfconn collect` with the org slowed down, waits until the run is querying, then
/// sends SIGINT the way a terminal's Ctrl-C does.
fn interrupted_run(format: &str, output: &Path) -> (Output, Org) {
    let org = quick_org(OrgSpec { latency: Duration::from_millis(300), ..OrgSpec::small() });
    let child = org
        .sfconn()
        .args(["collect", "--no-progress", "-f", format, "-o"])
        .arg(output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !org.org.requests().iter().any(|request| request.url.contains("/query")) {
        assert!(started.elapsed() < Duration::from_secs(30), "the run never reached a query");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    (child.wait_with_output().unwrap(), org)
}

#[test]
fn sigint_mid_run_exits_130_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapshot.json");
    std::fs::write(&file, PREVIOUS).unwrap();
    let (output, org) = interrupted_run("json", &file);
    assert_eq!(code(&output), 130, "{}", stderr(&output));
    assert!(stderr(&output).contains("interrupted"), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), PREVIOUS, "the existing output is untouched");
    assert_eq!(names_in(dir.path()), ["snapshot.json"], "no temporary file is left");
    // The run was stopped mid-way: the org received fewer requests than a complete run of the
    // same org makes (measured on a fresh org without latency).
    let complete = quick_small_org();
    let reference = collect(&complete, false, 10, &[]);
    assert_eq!(code(&reference.output), 0, "{}", stderr(&reference.output));
    let (interrupted, full) = (org.org.requests().len(), complete.org.requests().len());
    assert!(interrupted < full, "the run got to the end before the signal: {interrupted} of {full} requests");

    // A csv directory: no file appears, no temporary file is left.
    let csv = dir.path().join("csv");
    let (output, _org) = interrupted_run("csv", &csv);
    assert_eq!(code(&output), 130, "{}", stderr(&output));
    assert!(!csv.exists() || names_in(&csv).is_empty(), "{:?}", files_under(&csv));
    assert_eq!(
        names_in(dir.path()).iter().filter(|n| n.as_str() != "csv").collect::<Vec<_>>(),
        ["snapshot.json"]
    );

    // stdout: nothing at all, not even the start of a document.
    let (output, _org) = interrupted_run("ndjson", Path::new("-"));
    assert_eq!(code(&output), 130, "{}", stderr(&output));
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}

#[test]
fn a_response_above_64_mib_fails_with_65_and_keeps_the_output() {
    let org = quick_small_org();
    let name = "a".repeat(64 * 1024 * 1024 + 1);
    let body =
        format!(r#"{{"totalSize":1,"done":true,"records":[{{"Id":"00e000000000001AAA","Name":"{name}"}}]}}"#);
    drop(name);
    org.org.faults().on(
        Target::query("Profile"),
        Occurrence::always(),
        FaultKind::Text { status: 200, content_type: "application/json;charset=UTF-8".into(), body },
    );
    let run = collect(&org, false, 10, &[]);
    let stderr = stderr(&run.output);
    assert_eq!(code(&run.output), 65, "{stderr}");
    assert!(stderr.contains("Salesforce answered the Profile query (GET /services/data/v66.0/query) with a response larger than 64 MiB"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&run.out_file).unwrap(), PREVIOUS);
    assert_eq!(names_in(&run.out_dir), ["snapshot.json"]);
}

/// A fault on every data request meets `/limits` and the describes sent beside it; whichever
/// answer comes first is reported, so in those rows the request named varies from run to run
/// (its Salesforce code and text do not): it is written as `[the first request refused]`.
fn first_refused(name: &str, message: &str) -> String {
    if name == "User: truncated JSON" {
        return truncated_user_query(message);
    }
    if !name.starts_with("every data request") {
        return message.to_owned();
    }
    let is_first_request = |request: &str| {
        request.starts_with("the API limits (GET /services/data/v")
            || (request.contains(" describe (GET /services/data/v") && request.ends_with("/describe)"))
    };
    let Some(start) = message.find("the ") else { return message.to_owned() };
    let Some(length) = message[start..].find(')').map(|end| end + 1) else { return message.to_owned() };
    let request = &message[start..start + length];
    if is_first_request(request) {
        message.replacen(request, "[the first request refused]", 1)
    } else {
        message.to_owned()
    }
}
