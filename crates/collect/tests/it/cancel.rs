//! The first fatal answer stops the whole run (docs/security.md, "A failure stops the whole
//! run"): no request leaves after it, whatever the other sources were doing, and the run
//! reports that answer's failure, not a later "cancelled". Each fatal class is checked with
//! `http.concurrency` 1 and 4, counting the requests the simulated org received after the
//! fatal one.

use std::time::Duration;

use serde_json::Value;

use sfconn_collect::output::{Format, open_sink_to_writer};
use sfconn_collect::{CollectError, NoProgress, OrgRun, run};
use sfconn_errors::{Classify, ErrorClass};
use sfconn_testkit::{
    FaultKind, HiddenAs, Occurrence, OrgSpec, SimulatedOrg, Target, TokenError, rest_error_body,
};

use crate::common;
use common::settings;
use sfconn_testkit::SharedBuffer;

/// Three User pages and three pages of each assignment object: plenty still to request when
/// the fatal answer comes.
const USERS: usize = 4_500;

/// With several requests in flight, the fatal answer is sent this long after the request
/// arrived, and from then on the org answers nothing else for [`HOLD`]: requests the client
/// had already started (or starts while still busy with a page it has, e.g. decoding 2,000
/// users on a loaded machine) reach the org before the fatal answer leaves, so any request
/// that arrives after it was sent only after the client had it.
const SETTLE: Duration = Duration::from_secs(1);
const HOLD: Duration = Duration::from_secs(20);

/// One fatal class: what makes the answer fatal and what the run must report.
struct Case {
    name: &'static str,
    /// Faults that are not fatal themselves (e.g. the expired session before a refused refresh).
    before: Vec<(Target, Occurrence, FaultKind)>,
    /// The fatal answer.
    fatal: (Target, Occurrence, FaultKind),
    class: ErrorClass,
    message: &'static str,
}

fn user_page(page: u32) -> Target {
    Target::Query { object: Some("User".into()), page: Some(page) }
}

fn rest_error(status: u16, code: &str, message: &str) -> FaultKind {
    FaultKind::Json { status, body: rest_error_body(code, message) }
}

/// A query page of these records, with a next page to come.
fn served(records: &Value) -> FaultKind {
    FaultKind::Json {
        status: 200,
        body: serde_json::json!({
            "totalSize": USERS, "done": false, "records": records,
            "nextRecordsUrl": "/services/data/v66.0/query/01gOUTOFORDER-2000",
        }),
    }
}

fn cases() -> Vec<Case> {
    let package = "0A84W0000000001AAA";
    vec![
        Case {
            name: "daily limit (TotalRequests)",
            before: Vec::new(),
            fatal: (
                user_page(3),
                Occurrence::always(),
                rest_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            ),
            class: ErrorClass::Temporary,
            message: "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
        },
        Case {
            name: "refresh token refused after a 401",
            before: vec![(user_page(2), Occurrence::times(1), FaultKind::ExpireSessions)],
            // The first token request is the run's first grant; the second, the refresh.
            fatal: (
                Target::Token,
                Occurrence::after(1),
                FaultKind::Json { status: 400, body: TokenError::ExpiredRefreshToken.body() },
            ),
            class: ErrorClass::AuthRefused,
            message: "expired access/refresh token",
        },
        Case {
            name: "API disabled for the org",
            before: Vec::new(),
            fatal: (
                user_page(2),
                Occurrence::always(),
                rest_error(403, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization."),
            ),
            class: ErrorClass::Unavailable,
            message: "API_DISABLED_FOR_ORG",
        },
        Case {
            name: "the User describe refused",
            before: Vec::new(),
            fatal: (
                Target::describe("User"),
                Occurrence::always(),
                rest_error(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id"),
            ),
            class: ErrorClass::Unavailable,
            message: "the integration user cannot read User",
        },
        Case {
            name: "the User query refused after its first page",
            before: Vec::new(),
            fatal: (
                user_page(2),
                Occurrence::always(),
                rest_error(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id"),
            ),
            class: ErrorClass::Unavailable,
            message: "INSUFFICIENT_ACCESS",
        },
        Case {
            name: "a nextRecordsUrl off the instance",
            before: Vec::new(),
            fatal: (
                user_page(1),
                Occurrence::always(),
                FaultKind::Json {
                    status: 200,
                    body: serde_json::json!({
                        "totalSize": USERS, "done": false, "records": [],
                        "nextRecordsUrl": "https://evil.example.com/services/data/v66.0/query/01gX-2000",
                    }),
                },
            ),
            class: ErrorClass::BadData,
            message: "refused to follow the nextRecordsUrl `https://evil.example.com/services/data/",
        },
        Case {
            name: "User ids out of order",
            before: Vec::new(),
            fatal: (
                user_page(1),
                Occurrence::always(),
                served(&serde_json::json!([
                    {"attributes": {"type": "User"}, "Id": "005B00000000002AAA", "Username": "b@example.test",
                     "IsActive": true, "UserType": "Standard"},
                    {"attributes": {"type": "User"}, "Id": "005B00000000001AAA", "Username": "a@example.test",
                     "IsActive": true, "UserType": "Standard"},
                ])),
            ),
            class: ErrorClass::BadData,
            message: "User rows out of the order sfconn asked for (ORDER BY Id)",
        },
        Case {
            name: "assignment user ids out of order",
            before: Vec::new(),
            fatal: (
                Target::Query { object: Some("UserPackageLicense".into()), page: Some(1) },
                Occurrence::always(),
                served(&serde_json::json!([
                    {"Id": "0514W0000000001AAA", "UserId": "005B00000000002AAA", "PackageLicenseId": package},
                    {"Id": "0514W0000000002AAA", "UserId": "005B00000000001AAA", "PackageLicenseId": package},
                ])),
            ),
            class: ErrorClass::BadData,
            message: "UserPackageLicense rows out of the order sfconn asked for (ORDER BY UserId)",
        },
    ]
}

/// Runs `case` with `http.concurrency = concurrency`; returns what is wrong, if anything.
async fn check(case: &Case, concurrency: usize) -> Result<(), String> {
    let org = SimulatedOrg::start(OrgSpec::with_users(USERS)).await;
    for (target, occurrence, kind) in &case.before {
        org.faults().on(target.clone(), *occurrence, kind.clone());
    }
    let (target, occurrence, kind) = case.fatal.clone();
    let kind =
        if concurrency > 1 { FaultKind::Delayed { delay: SETTLE, then: Box::new(kind) } } else { kind };
    let fatal = org.faults().on(target, occurrence, kind);
    if concurrency > 1 {
        org.faults().hold_after(fatal, HOLD);
    }
    let settings = settings(&org, &[("SFCONN_HTTP__CONCURRENCY", &concurrency.to_string())]);
    let error = collect_error(&settings).await;
    let message = error.to_string();
    if error.class() != case.class || !message.contains(case.message) {
        return Err(format!(
            "expected {:?} naming {:?}, got {:?}: {message}",
            case.class,
            case.message,
            error.class()
        ));
    }
    let firings = org.faults().firings(fatal);
    let [answer] = firings.as_slice() else {
        return Err(format!("the fatal fault answered {} requests, not one", firings.len()));
    };
    // With one request at a time, nothing at all may follow the fatal one; with more, nothing
    // may arrive after its answer was sent.
    let sent = if concurrency > 1 { answer.at + SETTLE } else { answer.at };
    let after: Vec<String> = org
        .requests()
        .into_iter()
        .filter(|request| request.arrival.number > answer.number && request.arrival.at > sent)
        .map(|request| format!("{} {}", request.method, request.path()))
        .collect();
    if !after.is_empty() {
        return Err(format!("{} request(s) after the fatal answer: {after:?}", after.len()));
    }
    Ok(())
}

/// Runs the connector expecting failure; nothing may have been written.
async fn collect_error(settings: &sfconn_config::Settings) -> CollectError {
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    let error = Box::pin(run(settings, sink.as_mut(), &NoProgress)).await.unwrap_err();
    drop(sink);
    assert!(buffer.is_empty(), "a failed run must print nothing");
    error
}

async fn every_fatal_class(concurrency: usize) {
    let mut failures = Vec::new();
    for case in cases() {
        if let Err(problem) = check(&case, concurrency).await {
            failures.push(format!("[{}] {problem}", case.name));
        }
    }
    assert!(failures.is_empty(), "with http.concurrency = {concurrency}:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn no_request_leaves_after_the_first_fatal_answer_one_at_a_time() {
    every_fatal_class(1).await;
}

#[tokio::test]
async fn no_request_leaves_after_the_first_fatal_answer_four_at_a_time() {
    every_fatal_class(4).await;
}

/// An optional source the user cannot read is a `source_skipped` warning, not a failure: it
/// stops nothing, and the run completes.
#[tokio::test]
async fn an_optional_source_refused_stops_nothing() {
    let org = SimulatedOrg::start(OrgSpec::with_users(USERS)).await;
    org.faults().hide_object("PackageLicense", HiddenAs::InsufficientAccess);
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    let settings = settings(&org, &[("SFCONN_HTTP__CONCURRENCY", "1")]);
    let outcome = Box::pin(run(&settings, sink.as_mut(), &sfconn_collect::NoProgress)).await.unwrap();
    assert_eq!(outcome.summary.users_total, USERS as u64);
    assert!(
        outcome.warnings.iter().any(|warning| warning.code == "source_skipped"),
        "{:?}",
        outcome.warnings
    );
}

/// One org's run into a JSON buffer.
async fn collect_org(run: &OrgRun) -> Result<sfconn_collect::RunOutcome, CollectError> {
    let mut sink = open_sink_to_writer(Format::Json, Box::new(SharedBuffer::default())).unwrap();
    Box::pin(run.collect_into(sink.as_mut(), &NoProgress)).await
}

/// Runs of two orgs in one process share nothing: the fatal answer of one org stops that
/// run only, and the other collects every user.
#[tokio::test]
async fn a_fatal_answer_stops_only_the_run_of_its_own_org() {
    let failing = SimulatedOrg::start(OrgSpec::with_users(USERS)).await;
    failing.faults().on(
        user_page(2),
        Occurrence::always(),
        rest_error(403, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization."),
    );
    let healthy = SimulatedOrg::start(OrgSpec::with_users(USERS)).await;
    let failing_run = OrgRun::new(settings(&failing, &[])).unwrap();
    let healthy_run = OrgRun::new(settings(&healthy, &[])).unwrap();

    let (failed, collected) = tokio::join!(collect_org(&failing_run), collect_org(&healthy_run));

    let error = failed.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Unavailable, "{error}");
    assert!(failing_run.cancellation().is_tripped());
    let outcome = collected.unwrap();
    assert_eq!(outcome.summary.users_total, USERS as u64);
    assert!(!healthy_run.cancellation().is_tripped());
}

/// Tripping a run's cancellation from outside (as a fleet would on shutdown) stops that run
/// before it sends a request to the REST API.
#[tokio::test]
async fn a_run_cancelled_from_outside_stops_without_calling_the_api() {
    let org = SimulatedOrg::start(OrgSpec::with_users(USERS)).await;
    let run = OrgRun::new(settings(&org, &[])).unwrap();
    assert!(run.cancellation().trip());
    assert!(collect_org(&run).await.is_err());
    let api_requests: Vec<String> = org
        .requests()
        .into_iter()
        .map(|request| request.path())
        .filter(|path| path.starts_with("/services/data"))
        .collect();
    assert!(api_requests.is_empty(), "{api_requests:?}");
}
