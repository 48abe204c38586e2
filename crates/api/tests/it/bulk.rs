//! Bulk API 2.0 query jobs against wiremock: every state a job can end in, the results pages
//! chained by `Sforce-Locator`, their faults, and the abort or delete that always follows.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use sfconn_api::{ApiClient, ApiError, BulkOptions, Cleanups};
use sfconn_errors::{Classify, ErrorClass};
use wiremock::matchers::{body_json, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{V, connect, json_ok, org, sf_error};

const JOB: &str = "7504W0000000001AAA";
const SOQL: &str = "SELECT UserId, Application FROM LoginHistory";

#[derive(Debug, Deserialize, PartialEq)]
struct Row {
    #[serde(rename = "UserId")]
    user_id: String,
    #[serde(rename = "Application")]
    application: String,
}

fn quick() -> BulkOptions {
    BulkOptions {
        max_records: 2,
        first_poll: Duration::from_millis(5),
        max_poll: Duration::from_millis(20),
        max_wait: Duration::from_secs(20),
    }
}

fn job(state: &str) -> serde_json::Value {
    json!({"id": JOB, "operation": "query", "object": "LoginHistory", "state": state, "apiVersion": 62.0})
}

async fn mount_create(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(format!("{V}/jobs/query")))
        .and(body_json(json!({
            "operation": "query", "query": SOQL, "contentType": "CSV",
            "columnDelimiter": "COMMA", "lineEnding": "LF"
        })))
        .respond_with(json_ok(&job("UploadComplete")))
        .expect(1)
        .mount(server)
        .await;
}

/// Polls answer `InProgress` twice, then `last`.
async fn mount_polls(server: &MockServer, last: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(format!("{V}/jobs/query/{JOB}")))
        .respond_with(json_ok(&job("InProgress")))
        .up_to_n_times(2)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/jobs/query/{JOB}")))
        .respond_with(json_ok(&last))
        .mount(server)
        .await;
}

fn csv_page(rows: &[(&str, &str)], locator: &str) -> ResponseTemplate {
    let mut body = "\"UserId\",\"Application\"\n".to_owned();
    for (user, app) in rows {
        body.push_str(&format!("\"{user}\",\"{}\"\n", app.replace('"', "\"\"")));
    }
    ResponseTemplate::new(200)
        .set_body_raw(body, "text/csv")
        .insert_header("Sforce-Locator", locator)
        .insert_header("Sforce-NumberOfRecords", rows.len().to_string().as_str())
}

async fn mount_results(server: &MockServer) {
    let results = format!("{V}/jobs/query/{JOB}/results");
    Mock::given(method("GET"))
        .and(path(&results))
        .and(query_param("maxRecords", "2"))
        .and(query_param_is_missing("locator"))
        .respond_with(csv_page(&[("005A", "Browser"), ("005B", "Acme Field App, \"Beta\"")], "MDowOjI"))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(&results))
        .and(query_param("locator", "MDowOjI"))
        .respond_with(csv_page(&[("005C", "Data Loader")], "null"))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_cleanup(server: &MockServer, aborts: u64, deletes: u64) {
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/jobs/query/{JOB}")))
        .and(body_json(json!({"state": "Aborted"})))
        .respond_with(json_ok(&job("Aborted")))
        .expect(aborts)
        .mount(server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{V}/jobs/query/{JOB}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(deletes)
        .mount(server)
        .await;
}

async fn read_all(client: &ApiClient, cleanups: &Cleanups) -> Result<Vec<Row>, ApiError> {
    let mut query = client.bulk_query("LoginHistory", SOQL, quick(), cleanups).await?;
    let mut rows = Vec::new();
    while query.next_rows(|row: Row| rows.push(row)).await?.is_some() {}
    query.finish().await?;
    Ok(rows)
}

#[tokio::test]
async fn a_job_is_polled_until_complete_its_pages_followed_and_it_is_deleted() {
    let server = org().await;
    mount_create(&server).await;
    mount_polls(&server, job("JobComplete")).await;
    mount_results(&server).await;
    mount_cleanup(&server, 0, 1).await;
    let client = connect(&server).await;
    let cleanups = Cleanups::default();
    let rows = read_all(&client, &cleanups).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| (r.user_id.as_str(), r.application.as_str())).collect::<Vec<_>>(),
        [("005A", "Browser"), ("005B", "Acme Field App, \"Beta\""), ("005C", "Data Loader")]
    );
    cleanups.wait(Duration::from_secs(5)).await;
    let accepts: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/results"))
        .map(|r| r.headers["accept"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(accepts, ["text/csv", "text/csv"]);
}

async fn failing(last: serde_json::Value, aborts: u64) -> (ApiError, MockServer) {
    let server = org().await;
    mount_create(&server).await;
    mount_polls(&server, last).await;
    mount_cleanup(&server, aborts, 1).await;
    let client = connect(&server).await;
    let cleanups = Cleanups::default();
    let error = read_all(&client, &cleanups).await.unwrap_err();
    cleanups.wait(Duration::from_secs(5)).await;
    (error, server)
}

#[tokio::test]
async fn a_failed_job_keeps_salesforce_words_and_is_deleted() {
    let mut failed = job("Failed");
    failed["errorMessage"] = json!("InternalServerError : retried more than 15 times");
    let (error, _server) = failing(failed, 0).await;
    assert!(matches!(error, ApiError::BulkJobFailed { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Temporary);
    insta::assert_snapshot!("bulk_job_failed", error.to_string());
}

#[tokio::test]
async fn a_job_aborted_by_someone_else_is_named_so() {
    let (error, _server) = failing(job("Aborted"), 0).await;
    assert!(matches!(error, ApiError::BulkJobAborted { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Unavailable);
    insta::assert_snapshot!("bulk_job_aborted", error.to_string());
}

/// A job that stays `InProgress`; the server expects it aborted and deleted once.
async fn a_job_that_never_ends() -> (MockServer, ApiClient) {
    let server = org().await;
    mount_create(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/jobs/query/{JOB}")))
        .respond_with(json_ok(&job("InProgress")))
        .mount(&server)
        .await;
    mount_cleanup(&server, 1, 1).await;
    let client = connect(&server).await;
    (server, client)
}

#[tokio::test]
async fn an_overdue_job_is_aborted_then_deleted() {
    let (_server, client) = a_job_that_never_ends().await;
    let cleanups = Cleanups::default();
    let options = BulkOptions { max_wait: Duration::from_millis(50), ..quick() };
    let error = client.bulk_query("LoginHistory", SOQL, options, &cleanups).await.unwrap_err();
    assert!(matches!(error, ApiError::BulkJobOverdue { .. }), "{error:?}");
    cleanups.wait(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_daily_query_job_limit_is_not_retried_and_keeps_its_code() {
    let server = org().await;
    Mock::given(method("POST"))
        .and(path(format!("{V}/jobs/query")))
        .respond_with(sf_error(
            400,
            "LIMIT_EXCEEDED",
            "Max bulk v2 query jobs (10000) per 24 hrs has been reached (10021)",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let error = client.bulk_query("LoginHistory", SOQL, quick(), &Cleanups::default()).await.unwrap_err();
    assert!(matches!(error, ApiError::BulkLimitExceeded { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Temporary);
    assert_eq!(error.salesforce_code(), Some("LIMIT_EXCEEDED"));
    insta::assert_snapshot!("bulk_limit_exceeded", error.to_string());
}

#[tokio::test]
async fn a_lost_results_page_fails_and_the_job_is_deleted() {
    let server = org().await;
    mount_create(&server).await;
    mount_polls(&server, job("JobComplete")).await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/jobs/query/{JOB}/results")))
        .respond_with(sf_error(404, "NOT_FOUND", "The requested resource does not exist"))
        .expect(1)
        .mount(&server)
        .await;
    mount_cleanup(&server, 0, 1).await;
    let client = connect(&server).await;
    let cleanups = Cleanups::default();
    let error = read_all(&client, &cleanups).await.unwrap_err();
    assert!(matches!(error, ApiError::BulkResultsLost { page: 1, .. }), "{error:?}");
    assert_eq!(error.salesforce_code(), Some("NOT_FOUND"));
    insta::assert_snapshot!("bulk_results_lost", error.to_string());
    cleanups.wait(Duration::from_secs(5)).await;
}

/// A page with fewer rows than it announces is asked for again (with the same locator) as
/// often as `http.max_retries` allows: once cut and then whole, the run goes on.
#[tokio::test]
async fn a_page_cut_off_is_asked_for_again_within_max_retries() {
    let server = org().await;
    mount_create(&server).await;
    mount_polls(&server, job("JobComplete")).await;
    let results = format!("{V}/jobs/query/{JOB}/results");
    let cut = ResponseTemplate::new(200)
        .set_body_raw("\"UserId\",\"Application\"\n\"005A\",\"Brow", "text/csv")
        .insert_header("Sforce-Locator", "null")
        .insert_header("Sforce-NumberOfRecords", "2");
    Mock::given(method("GET"))
        .and(path(&results))
        .respond_with(cut.clone())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&results))
        .respond_with(csv_page(&[("005A", "Browser"), ("005B", "Browser")], "null"))
        .mount(&server)
        .await;
    mount_cleanup(&server, 0, 1).await;
    let client = connect(&server).await;
    assert_eq!(read_all(&client, &Cleanups::default()).await.unwrap().len(), 2);

    // Always cut: the attempts run out (1 + http.max_retries = 4).
    let server = org().await;
    mount_create(&server).await;
    mount_polls(&server, job("JobComplete")).await;
    Mock::given(method("GET")).and(path(&results)).respond_with(cut).expect(4).mount(&server).await;
    mount_cleanup(&server, 0, 1).await;
    let client = connect(&server).await;
    let cleanups = Cleanups::default();
    let error = read_all(&client, &cleanups).await.unwrap_err();
    assert!(matches!(error, ApiError::BulkResultsCut { attempts: 4, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Temporary);
    insta::assert_snapshot!("bulk_results_cut", error.to_string());
    cleanups.wait(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn transient_answers_to_a_poll_are_retried() {
    let server = org().await;
    mount_create(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/jobs/query/{JOB}")))
        .respond_with(sf_error(503, "SERVER_UNAVAILABLE", "Server Unavailable"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    mount_polls(&server, job("JobComplete")).await;
    mount_results(&server).await;
    mount_cleanup(&server, 0, 1).await;
    let client = connect(&server).await;
    assert_eq!(read_all(&client, &Cleanups::default()).await.unwrap().len(), 3);
}

/// A query dropped before it is finished (the run failed elsewhere, or Ctrl-C dropped it)
/// aborts a job still running, outside the run's cancellation.
#[tokio::test]
async fn a_query_dropped_while_the_job_runs_aborts_it() {
    let (_server, client) = a_job_that_never_ends().await;
    let cleanups = Cleanups::default();
    let options = BulkOptions { first_poll: Duration::from_secs(30), ..quick() };
    let running = client.bulk_query("LoginHistory", SOQL, options, &cleanups);
    assert!(tokio::time::timeout(Duration::from_millis(200), running).await.is_err());
    client.cancellation().trip();
    cleanups.wait(Duration::from_secs(5)).await;
}
