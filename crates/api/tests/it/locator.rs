//! INVALID_QUERY_LOCATOR: the query restarts, and rows already yielded are not yielded again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::TryStreamExt;
use serde_json::Value;
use sfconn_api::ClientOptions;
use sfconn_api::records::User;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

const SOQL: &str = "SELECT Id, Username FROM User ORDER BY Id";

fn expired_locator() -> wiremock::ResponseTemplate {
    sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
}

/// The first page: a different body for each run of the query (`runs[n]` for the n-th call).
async fn mount_first_page(server: &MockServer, runs: Vec<Value>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let expected = runs.len() as u64;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(move |_: &Request| {
            let n = calls.fetch_add(1, Ordering::SeqCst).min(runs.len() - 1);
            json_ok(&runs[n])
        })
        .expect(expected)
        .named("first page")
        .mount(server)
        .await;
}

async fn mount_page(server: &MockServer, url: &str, response: wiremock::ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(url))
        .respond_with(response)
        .expect(times)
        .named(url.to_owned())
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_query_restarts_and_skips_what_was_already_yielded() {
    let server = org().await;
    let ids = user_ids(1, 7);
    let old = format!("{V}/query/0r8aa-3");
    let new = format!("{V}/query/0r8bb-3");
    let last = format!("{V}/query/0r8bb-6");
    mount_first_page(
        &server,
        vec![page(7, Some(&old), users(&ids[0..3])), page(7, Some(&new), users(&ids[0..3]))],
    )
    .await;
    mount_page(&server, &old, expired_locator(), 1).await;
    mount_page(&server, &new, json_ok(&page(7, Some(&last), users(&ids[3..6]))), 1).await;
    mount_page(&server, &last, json_ok(&page(7, None, users(&ids[6..7]))), 1).await;
    let client = connect(&server).await;
    let got: Vec<String> =
        client.query::<User>(SOQL.into()).map_ok(|user| user.id).try_collect().await.unwrap();
    assert_eq!(got, ids);
}

#[tokio::test]
async fn the_skip_may_end_inside_a_page_of_a_different_size() {
    let server = org().await;
    let ids = user_ids(1, 6);
    // First run: pages of 2; the cursor expires before the third page.
    let second = format!("{V}/query/0r8aa-2");
    let third = format!("{V}/query/0r8aa-4");
    // Second run: pages of 3, 2 and 1.
    let rerun_second = format!("{V}/query/0r8bb-3");
    let rerun_third = format!("{V}/query/0r8bb-5");
    mount_first_page(
        &server,
        vec![page(6, Some(&second), users(&ids[0..2])), page(6, Some(&rerun_second), users(&ids[0..3]))],
    )
    .await;
    mount_page(&server, &second, json_ok(&page(6, Some(&third), users(&ids[2..4]))), 1).await;
    mount_page(&server, &third, expired_locator(), 1).await;
    mount_page(&server, &rerun_second, json_ok(&page(6, Some(&rerun_third), users(&ids[3..5]))), 1).await;
    mount_page(&server, &rerun_third, json_ok(&page(6, None, users(&ids[5..6]))), 1).await;
    let client = connect(&server).await;
    let pages: Vec<sfconn_api::Page<User>> = client.query_pages(SOQL.into()).try_collect().await.unwrap();
    let sizes: Vec<usize> = pages.iter().map(|page| page.records.len()).collect();
    // Pages 1 and 2 of the first run, then only the unseen rows of the second run.
    assert_eq!(sizes, [2, 2, 1, 1]);
    let got: Vec<String> = pages.into_iter().flat_map(|page| page.records).map(|user| user.id).collect();
    assert_eq!(got, ids);
}

#[tokio::test]
async fn a_rerun_with_different_rows_is_refused_rather_than_guessed() {
    let server = org().await;
    let ids = user_ids(1, 6);
    let old = format!("{V}/query/0r8aa-3");
    let new = format!("{V}/query/0r8bb-3");
    // A row sorted before the ones already read appeared in between.
    let mut shifted = user_ids(0, 1);
    shifted.extend_from_slice(&ids[0..2]);
    mount_first_page(
        &server,
        vec![page(6, Some(&old), users(&ids[0..3])), page(7, Some(&new), users(&shifted))],
    )
    .await;
    mount_page(&server, &old, expired_locator(), 1).await;
    mount_page(&server, &new, json_ok(&page(7, None, users(&ids[2..6]))), 0).await;
    let client = connect(&server).await;
    let error = client.query::<User>(SOQL.into()).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Temporary);
    insta::assert_snapshot!(error.to_string(), @r#"the User query could not be resumed after Salesforce expired its cursor (INVALID_QUERY_LOCATOR): the rows came back in a different order or rows were added or removed, so the rows already read cannot be skipped safely; try again later"#);
}

#[tokio::test]
async fn a_cursor_that_keeps_expiring_gives_up_with_exit_75() {
    let server = org().await;
    let ids = user_ids(1, 3);
    let next = format!("{V}/query/0r8aa-3");
    mount_first_page(&server, vec![page(6, Some(&next), users(&ids)); 3]).await;
    mount_page(&server, &next, expired_locator(), 3).await;
    let client = connect_with(&server, ClientOptions { retry: quick_retry(2), ..options() }).await.unwrap();
    let mut stream = std::pin::pin!(client.query::<User>(SOQL.into()));
    let mut got = Vec::new();
    let error = loop {
        match stream.try_next().await {
            Ok(Some(user)) => got.push(user.id),
            Ok(None) => panic!("the stream ended without an error"),
            Err(error) => break error,
        }
    };
    assert_eq!(got, ids, "the first page once, never again");
    assert_eq!(error.class(), ErrorClass::Temporary);
    assert!(error.to_string().contains("kept expiring"), "{error}");
}
