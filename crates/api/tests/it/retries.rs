//! Transient failures are retried (exact counts), exhausted retries are exit 75, Retry-After
//! is honoured, the daily limit is never retried, unreachable hosts are exit 69.

use std::time::Duration;

use futures_util::TryStreamExt;
use sfconn_api::records::User;
use sfconn_api::{ApiClient, ClientOptions, RetryPolicy};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

const SOQL: &str = "SELECT Id FROM User ORDER BY Id";

/// `failure` answered `times` times (exactly), then one success with two users.
async fn fail_then_succeed(
    failure: ResponseTemplate,
    times: u64,
    retry: RetryPolicy,
) -> (MockServer, ApiClient, Vec<String>) {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(failure)
        .up_to_n_times(times)
        .expect(times)
        .with_priority(1)
        .named("transient failures")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(2, None, users(&user_ids(1, 2)))))
        .expect(1)
        .with_priority(2)
        .named("success")
        .mount(&server)
        .await;
    let client = connect_with(&server, ClientOptions { retry, ..options() }).await.unwrap();
    let got = client.query::<User>(SOQL.into()).map_ok(|user| user.id).try_collect().await.unwrap();
    (server, client, got)
}

#[tokio::test]
async fn a_503_json_is_retried() {
    let failure = sf_error(503, "SERVER_UNAVAILABLE", "Server Unavailable");
    let (_server, client, got) = fail_then_succeed(failure, 2, quick_retry(3)).await;
    assert_eq!(got, user_ids(1, 2));
    // Token, versions, two failures, one success: retries are counted.
    assert_eq!(client.requests_sent(), 5);
}

#[tokio::test]
async fn a_502_html_page_is_retried() {
    let failure = ResponseTemplate::new(502)
        .set_body_raw("<html><head><title>502 Bad Gateway</title></head><body></body></html>", "text/html");
    let (_server, _client, got) = fail_then_succeed(failure, 3, quick_retry(3)).await;
    assert_eq!(got, user_ids(1, 2));
}

#[tokio::test]
async fn unknown_error_is_retried() {
    let failure = ResponseTemplate::new(400).set_body_raw(
        r#"{"error":"unknown_error","error_description":"retry your request"}"#,
        "application/json",
    );
    let (_server, _client, got) = fail_then_succeed(failure, 1, quick_retry(3)).await;
    assert_eq!(got, user_ids(1, 2));
}

#[tokio::test]
async fn the_concurrent_requests_limit_is_retried() {
    let failure = sf_error(
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
    );
    let (_server, _client, got) = fail_then_succeed(failure, 2, quick_retry(3)).await;
    assert_eq!(got, user_ids(1, 2));
}

#[tokio::test]
async fn retry_after_is_honoured() {
    // Backoff without Retry-After would wait up to an hour; `Retry-After: 0` means now. The
    // outer timeout only turns a hang into a failure.
    let patient = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_secs(3600),
        max_delay: Duration::from_secs(3600),
    };
    let failure = sf_error(503, "SERVER_UNAVAILABLE", "Server Unavailable").insert_header("Retry-After", "0");
    let (_server, _client, got) =
        tokio::time::timeout(Duration::from_secs(120), fail_then_succeed(failure, 2, patient))
            .await
            .expect("Retry-After: 0 was not honoured");
    assert_eq!(got, user_ids(1, 2));
}

#[tokio::test]
async fn exhausted_retries_are_exit_75() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(sf_error(503, "SERVER_UNAVAILABLE", "Server Unavailable"))
        .expect(3)
        .mount(&server)
        .await;
    let client = connect_with(&server, ClientOptions { retry: quick_retry(2), ..options() }).await.unwrap();
    let error = client.query::<User>(SOQL.into()).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Temporary);
    insta::assert_snapshot!(error.to_string(), @r#"the User query (GET /services/data/v62.0/query) still failed after 3 attempt(s); the last one saw HTTP 503 with SERVER_UNAVAILABLE: Server Unavailable. Salesforce is busy or unavailable; try again later"#);
    assert_eq!(client.requests_sent(), 5);
}

#[tokio::test]
async fn the_daily_limit_stops_at_once() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect_with(&server, ClientOptions { retry: quick_retry(5), ..options() }).await.unwrap();
    let error = client.query::<User>(SOQL.into()).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Temporary);
    assert_eq!(error.salesforce_error().unwrap().message, "TotalRequests Limit exceeded.");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_exit_69() {
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let login = MockServer::start().await;
    mount_token(&login, &format!("http://127.0.0.1:{closed}")).await;
    let (tokens, counter) = token_source(&login.uri());
    let error =
        ApiClient::connect(tokens, ClientOptions { retry: quick_retry(2), ..options() }).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Unavailable);
    let message = error.to_string();
    assert!(
        message.starts_with(
            "cannot reach Salesforce for the API version list (GET /services/data) after 3 attempt(s)"
        ),
        "{message}"
    );
    // The token request and three attempts at the version list.
    assert_eq!(counter.get(), 4);
}

/// A client whose requests give up after a fifth of a second.
fn impatient(max_retries: u32) -> ClientOptions {
    ClientOptions { timeout: Duration::from_millis(200), retry: quick_retry(max_retries), ..options() }
}

#[tokio::test]
async fn a_timed_out_request_is_retried() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(1, None, users(&user_ids(9, 1)))).set_delay(Duration::from_secs(30)))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(2, None, users(&user_ids(1, 2)))))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let client = connect_with(&server, impatient(2)).await.unwrap();
    let got: Vec<String> =
        client.query::<User>(SOQL.into()).map_ok(|user| user.id).try_collect().await.unwrap();
    assert_eq!(got, user_ids(1, 2));
}

#[tokio::test]
async fn requests_that_keep_timing_out_are_exit_75() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(0, None, vec![])).set_delay(Duration::from_secs(30)))
        .expect(2)
        .mount(&server)
        .await;
    let client = connect_with(&server, impatient(1)).await.unwrap();
    let error = client.query::<User>(SOQL.into()).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Temporary);
    insta::assert_snapshot!(error.to_string(), @"the User query (GET /services/data/v62.0/query) still failed after 2 attempt(s); the last one saw no answer within 200ms (http.timeout_secs). Salesforce is busy or unavailable; try again later");
}
