//! Network faults in every stage of a run, not just the token and the version list: a
//! connection reset, a request never answered, a body cut off in the middle of its gzip
//! stream and an answer that trickles in, on a later User page, on the first
//! `PermissionSetLicenseAssign` page and on the User describe. Each is retried within
//! `http.max_retries`, the snapshot equals the fault-free run's, and the run costs exactly one
//! request more (docs/api-calls.md, "How many"). An answer that never completes, headers or
//! body, is bounded by `http.timeout_secs` as a whole-request deadline.

use std::time::Duration;

use serde_json::Value;
use sfconn_collect::output::{Format, open_sink_to_writer};
use sfconn_collect::{RunOutcome, run};
use sfconn_errors::Classify;
use sfconn_testkit::{FaultKind, Occurrence, OrgSpec, SimulatedOrg, Target};

use crate::common;
use common::settings;
use sfconn_testkit::SharedBuffer;

/// Two User pages.
const USERS: usize = 2_500;
/// `http.timeout_secs` of these runs.
const TIMEOUT_SECS: u64 = 2;

/// An org with its data requests behind the testkit's TCP front.
async fn org_behind_front() -> SimulatedOrg {
    let org = SimulatedOrg::start(OrgSpec::with_users(USERS)).await;
    org.serve_data_through_front().unwrap();
    org
}

/// Runs the connector (`http.max_retries` 1) and returns the snapshot without what differs
/// from run to run, and the outcome.
async fn collect(org: &SimulatedOrg) -> Result<(Value, RunOutcome), String> {
    let timeout = TIMEOUT_SECS.to_string();
    let settings = settings(org, &[("SFCONN_HTTP__TIMEOUT_SECS", &timeout)]);
    let buffer = SharedBuffer::default();
    let mut sink = open_sink_to_writer(Format::Json, Box::new(buffer.clone())).unwrap();
    let outcome = Box::pin(run(&settings, sink.as_mut(), &sfconn_collect::NoProgress))
        .await
        .map_err(|error| format!("{:?}: {error}", error.class()))?;
    drop(sink);
    let mut snapshot: Value = serde_json::from_str(&buffer.text()).unwrap();
    let object = snapshot.as_object_mut().unwrap();
    object.remove("collected_at");
    object.remove("source");
    let summary = object["summary"].as_object_mut().unwrap();
    for volatile in ["api_requests", "api_usage_before", "api_usage_after"] {
        summary.remove(volatile);
    }
    Ok((snapshot, outcome))
}

fn stages() -> [(&'static str, Target); 3] {
    [
        ("User page 2", Target::Query { object: Some("User".into()), page: Some(2) }),
        (
            "the first PermissionSetLicenseAssign page",
            Target::Query { object: Some("PermissionSetLicenseAssign".into()), page: Some(1) },
        ),
        ("the User describe", Target::describe("User")),
    ]
}

fn faults() -> [(&'static str, FaultKind); 4] {
    [
        ("connection reset", FaultKind::Reset),
        ("no answer", FaultKind::NoAnswer),
        ("body cut off mid-gzip", FaultKind::CutGzip),
        // Longer than the whole-request deadline: the headers come at once, the body too slowly.
        ("trickling answer", FaultKind::Trickle(Duration::from_secs(3 * TIMEOUT_SECS))),
    ]
}

#[tokio::test]
async fn network_faults_in_every_stage_are_retried_and_the_snapshot_is_complete() {
    let clean = org_behind_front().await;
    let (reference, clean_outcome) = collect(&clean).await.unwrap();
    assert_eq!(clean_outcome.summary.users_total, USERS as u64);
    let mut failures = Vec::new();
    for (stage, target) in stages() {
        for (fault, kind) in faults() {
            let org = org_behind_front().await;
            let id = org.faults().on(target.clone(), Occurrence::nth(1), kind);
            let name = format!("{stage}: {fault}");
            match collect(&org).await {
                Err(error) => failures.push(format!("[{name}] the run failed: {error}")),
                Ok((snapshot, outcome)) => {
                    if org.faults().fired(id) != 1 {
                        failures.push(format!("[{name}] the fault never fired"));
                    }
                    if snapshot != reference {
                        failures.push(format!("[{name}] the snapshot differs from the fault-free run's"));
                    }
                    // The failed attempt and its one retry: one request more than a clean run.
                    let (got, want) = (outcome.summary.api_requests, clean_outcome.summary.api_requests + 1);
                    if got != want {
                        failures.push(format!("[{name}] {got} requests, expected {want}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An answer that never completes fails the run within the deadline of every attempt: the
/// whole-request `http.timeout_secs` covers reading the body, not only the headers.
#[tokio::test]
async fn a_body_that_never_completes_is_bounded_by_the_request_deadline() {
    let org = org_behind_front().await;
    org.faults().on(
        Target::describe("User"),
        Occurrence::always(),
        FaultKind::Trickle(Duration::from_secs(60)),
    );
    let error = collect(&org).await.unwrap_err();
    assert!(error.starts_with("Temporary: "), "{error}");
    assert!(error.contains("the User describe"), "{error}");
    assert!(error.contains(&format!("no answer within {TIMEOUT_SECS}s (http.timeout_secs)")), "{error}");
}
