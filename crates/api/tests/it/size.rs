//! Limits of size: a body above the cap is refused without being read into memory, a page of
//! 100,000 records and a user with 10 KB fields are read intact.

use futures_util::TryStreamExt;
use serde_json::json;
use sfconn_api::records::User;
use sfconn_api::{ApiError, ClientOptions, MAX_RESPONSE_BYTES};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;
use crate::queries::gzip_stored;
use sfconn_errors::{Classify, ErrorClass};

const SOQL: &str = "SELECT Id, Username, IsActive FROM User ORDER BY Id";
const SMALL_CAP: usize = 4096;

fn capped(cap: usize) -> ClientOptions {
    ClientOptions { max_response_bytes: cap, ..options() }
}

/// One page of `count` users, as JSON text.
fn page_of(count: usize) -> String {
    page(count as u64, None, users(&user_ids(1, count))).to_string()
}

async fn query_error(template: ResponseTemplate, cap: usize) -> ApiError {
    let server = org().await;
    Mock::given(method("GET")).and(path(format!("{V}/query"))).respond_with(template).mount(&server).await;
    let client = connect_with(&server, capped(cap)).await.unwrap();
    client.query::<User>(SOQL.to_owned()).try_collect::<Vec<_>>().await.unwrap_err()
}

#[test]
fn the_default_cap_is_64_mib() {
    assert_eq!(MAX_RESPONSE_BYTES, 64 * 1024 * 1024);
    assert_eq!(ClientOptions::default().max_response_bytes, MAX_RESPONSE_BYTES);
}

#[tokio::test]
async fn a_body_above_the_cap_fails_with_exit_65_naming_the_request() {
    let body = page_of(100);
    assert!(body.len() > SMALL_CAP);
    let error = query_error(raw_json_ok(&body), SMALL_CAP).await;
    assert!(matches!(error, ApiError::ResponseTooLarge { limit_bytes: SMALL_CAP, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::BadData);
    let message = error.to_string();
    assert!(
        message.starts_with("Salesforce answered the User query (GET /services/data/v62.0/query)"),
        "{message}"
    );
    assert!(message.contains("sfconn auth check"), "{message}");
}

#[tokio::test]
async fn a_gzip_body_is_capped_after_decoding() {
    // Without a usable Content-Length (gzip is decoded on the fly) the cap applies while reading.
    let body = page_of(100);
    let template = ResponseTemplate::new(200)
        .insert_header("Content-Encoding", "gzip")
        .set_body_raw(gzip_stored(body.as_bytes()), "application/json;charset=UTF-8");
    let error = query_error(template, SMALL_CAP).await;
    assert!(matches!(error, ApiError::ResponseTooLarge { .. }), "{error:?}");
}

#[tokio::test]
async fn an_error_body_above_the_cap_is_refused_too() {
    let template = ResponseTemplate::new(503).set_body_raw("x".repeat(SMALL_CAP + 1), "text/html");
    let error = query_error(template, SMALL_CAP).await;
    assert!(matches!(error, ApiError::ResponseTooLarge { .. }), "{error:?}");
}

#[tokio::test]
async fn a_body_at_the_cap_is_read() {
    let server = org().await;
    let body = page_of(20);
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(raw_json_ok(&body))
        .mount(&server)
        .await;
    let client = connect_with(&server, capped(body.len())).await.unwrap();
    let users: Vec<User> = client.query(SOQL.to_owned()).try_collect().await.unwrap();
    assert_eq!(users.len(), 20);
}

#[tokio::test]
async fn a_page_of_100_000_records_is_read_intact() {
    let server = org().await;
    let body = page_of(100_000);
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(raw_json_ok(&body))
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let pages: Vec<sfconn_api::Page<User>> = client.query_pages(SOQL.to_owned()).try_collect().await.unwrap();
    assert_eq!(pages.len(), 1);
    let ids: Vec<&str> = pages[0].records.iter().map(|user| user.id.as_str()).collect();
    assert_eq!(ids.len(), 100_000);
    assert_eq!(ids.first().copied(), Some("005xx0000000000001"));
    assert_eq!(ids.last().copied(), Some("005xx0000000100000"));
}

#[tokio::test]
async fn a_user_with_10_kb_fields_is_read_intact() {
    let server = org().await;
    let long = |seed: char| std::iter::repeat_n(seed, 10 * 1024).collect::<String>();
    let mut record = user("005xx0000000000001");
    for (field, seed) in [("Title", 'é'), ("Department", 'd'), ("CompanyName", '株'), ("Email", 'e')] {
        record[field] = json!(long(seed));
    }
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(1, None, vec![record])))
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let users: Vec<User> = client.query(SOQL.to_owned()).try_collect().await.unwrap();
    assert_eq!(users[0].title.as_deref(), Some(long('é').as_str()));
    assert_eq!(users[0].company_name.as_deref(), Some(long('株').as_str()));
    assert_eq!(users[0].email.as_deref().map(str::len), Some(10 * 1024));
}
