//! Sforce-Limit-Info on every response, and GET /limits.

use futures_util::TryStreamExt;
use sfconn_api::ApiUsage;
use sfconn_api::records::User;
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

#[tokio::test]
async fn every_limit_info_header_is_read_and_the_latest_kept() {
    let server = org().await;
    let next = format!("{V}/query/0r8xx-1");
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(2, Some(&next), users(&user_ids(1, 1)))).insert_header(
            "Sforce-Limit-Info",
            "api-usage=25/5000; per-app-api-usage=17/250(appName=sfconn)",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&next))
        .respond_with(
            json_ok(&page(2, None, users(&user_ids(2, 1))))
                .insert_header("Sforce-Limit-Info", "api-usage=26/5000"),
        )
        .mount(&server)
        .await;
    let client = connect(&server).await;
    assert_eq!(client.latest_usage(), None, "the version list carries no usage");
    let mut pages = std::pin::pin!(client.query_pages::<User>("SELECT Id FROM User".into()));
    pages.try_next().await.unwrap().unwrap();
    assert_eq!(client.latest_usage(), Some(ApiUsage { used: 25, max: 5000 }));
    pages.try_next().await.unwrap().unwrap();
    assert_eq!(client.latest_usage(), Some(ApiUsage { used: 26, max: 5000 }));
}

/// Answers to concurrent requests arrive in any order: a header reporting fewer requests than
/// one already seen does not turn the figure back.
#[tokio::test]
async fn an_older_usage_figure_arriving_late_is_not_kept() {
    let server = org().await;
    let next = format!("{V}/query/0r8xx-1");
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(
            json_ok(&page(2, Some(&next), users(&user_ids(1, 1))))
                .insert_header("Sforce-Limit-Info", "api-usage=31/5000"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&next))
        .respond_with(
            json_ok(&page(2, None, users(&user_ids(2, 1))))
                .insert_header("Sforce-Limit-Info", "api-usage=30/5000"),
        )
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let pages: Vec<_> = client.query_pages::<User>("SELECT Id FROM User".into()).try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(client.latest_usage(), Some(ApiUsage { used: 31, max: 5000 }));
}

#[tokio::test]
async fn limits_reads_daily_api_requests() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/limits")))
        .respond_with(
            raw_json_ok(include_str!("../fixtures/limits.json"))
                .insert_header("Sforce-Limit-Info", "api-usage=12346/100000"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let usage = client.limits().await.unwrap();
    assert_eq!(usage, ApiUsage { used: 12345, max: 100000 });
    assert!(!usage.is_above_percent(90));
    assert!(usage.is_above_percent(12));
    assert_eq!(client.latest_usage(), Some(ApiUsage { used: 12346, max: 100000 }));
}

#[tokio::test]
async fn limits_without_daily_api_requests_is_unreadable() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/limits")))
        .respond_with(raw_json_ok(r#"{"DailyBulkApiBatches":{"Max":1,"Remaining":1}}"#))
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let error = client.limits().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::BadData);
    assert!(error.to_string().contains("DailyApiRequests"), "{error}");
}
